import { HPAGE_PMD_ORDER } from "../kernel/constants.ts";

/**
 * A VRAM allocator shaped like the kernel's drm_buddy (drivers/gpu/drm/drm_buddy.c), which Xe's
 * TTM VRAM manager uses to back buffer objects, including the BOs that SVM ranges migrate into.
 *
 * Units are 4 KiB pages, used as drm_buddy's chunk_size (Xe's VRAM manager passes its
 * default_page_size, which can be larger on some platforms). A block of order k covers
 * 2^k pages and starts at a multiple of 2^k counted from pfnBase: drm_buddy's block offsets are
 * relative to the start of the managed range, and the driver adds the region's base when it
 * turns them into page frame numbers. So "aligned" below always means (pfn − pfnBase) % 2^k == 0.
 *
 * The kernel keeps a binary tree of block objects; this model keeps no tree at all. A block is
 * identified by (offset, order); its parent and buddy are found by arithmetic, the free blocks of
 * each order sit in a set plus a heap ordered by address, and the allocated blocks sit in a map.
 * Memory is therefore proportional to the number of free and allocated blocks, never to the
 * number of pages: 16 GiB of VRAM with 2 MiB roots starts as 8192 free blocks.
 *
 * Differences from drm_buddy, on purpose:
 * - Roots are capped at maxOrder (default 9, 2 MiB). drm_buddy_init's largest order is
 *   ilog2(size), so a 16 GiB Xe VRAM manager has a single order-22 root; pass
 *   maxOrder = floor(log2(totalPages)) to get that geometry.
 * - placement "low" (the default) takes the lowest-address free block of the smallest sufficient
 *   order and keeps the left half when splitting. drm_buddy's alloc_from_freelist takes the
 *   *last* (highest-offset) entry of the sorted free list and keeps block->right; placement
 *   "high" reproduces that exactly.
 * - No clear/dirty free trees, no exact-range or range-biased allocation (__alloc_range,
 *   alloc_range_bias), no top-down or contiguous allocation, no trim: the simulator's SVM
 *   migrations only need plain, non-contiguous allocations.
 */

/** One allocated block: pfns pfn .. pfn + 2^order − 1. */
export interface VramBlock {
  pfn: number;
  order: number;
}

/** The result of a successful alloc: blocks in allocation order, largest first. */
export interface VramAllocation {
  blocks: VramBlock[];
}

export interface VramBuddyOptions {
  /** Largest block order, i.e. root size. Default 9 (2 MiB), or less if VRAM is smaller. */
  maxOrder?: number;
  /** First page frame number of VRAM. Default 0. */
  pfnBase?: number;
  /** "low": lowest-address block, left halves (default). "high": drm_buddy's last entry, right halves. */
  placement?: "low" | "high";
}

/** Default root order: a 2 MiB block, the largest BO an SVM range migrates into. */
export const VRAM_BUDDY_DEFAULT_MAX_ORDER = HPAGE_PMD_ORDER;

/** floor(log2(n)) for a positive integer n, exact beyond 2^32 too. */
function floorLog2(n: number): number {
  if (n < 0x1_0000_0000) return 31 - Math.clz32(n);
  let o = Math.floor(Math.log2(n));
  while (2 ** o > n) o--;
  while (2 ** (o + 1) <= n) o++;
  return o;
}

/**
 * The free blocks of one order (drm_buddy's free_list[order], kept sorted by list_insert_sorted).
 * The set is the truth; the heap yields the preferred end (lowest or highest offset) and is
 * cleaned lazily: entries whose offset has left the set are skipped when they surface, and the
 * heap is rebuilt from the set when stale entries outnumber live ones, so every operation is
 * O(log n) amortised.
 */
class FreeList {
  private readonly members = new Set<number>();
  private heap: number[] = [];

  /** `high`: the heap's top is the highest offset instead of the lowest. */
  constructor(private readonly high: boolean) {}

  get size(): number {
    return this.members.size;
  }

  has(offset: number): boolean {
    return this.members.has(offset);
  }

  /** Construction: offsets must be ascending; a sorted array already is a heap. */
  load(ascending: number[]): void {
    for (const o of ascending) this.members.add(o);
    this.heap = this.high ? ascending.slice().reverse() : ascending.slice();
  }

  add(offset: number): void {
    this.members.add(offset);
    this.push(offset);
  }

  delete(offset: number): boolean {
    if (!this.members.delete(offset)) return false;
    if (this.heap.length > 2 * this.members.size + 64) this.rebuild();
    return true;
  }

  /** Removes and returns the preferred free block, or undefined when the list is empty. */
  takeFirst(): number | undefined {
    while (this.heap.length > 0) {
      const top = this.pop();
      if (this.members.delete(top)) return top;
    }
    return undefined;
  }

  /** Offsets in ascending order (diagnostics; O(n log n)). */
  sorted(): number[] {
    return [...this.members].sort((a, b) => a - b);
  }

  private before(a: number, b: number): boolean {
    return this.high ? a > b : a < b;
  }

  private rebuild(): void {
    const s = this.sorted();
    this.heap = this.high ? s.reverse() : s;
  }

  private push(v: number): void {
    const h = this.heap;
    let i = h.length;
    h.push(v);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pv = h[p]!;
      if (!this.before(v, pv)) break;
      h[i] = pv;
      i = p;
    }
    h[i] = v;
  }

  private pop(): number {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && this.before(h[r]!, h[l]!) ? r : l;
        const cv = h[c]!;
        if (!this.before(cv, last)) break;
        h[i] = cv;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

export class VramBuddy {
  readonly totalPages: number;
  readonly maxOrder: number;
  readonly pfnBase: number;
  readonly placement: "low" | "high";

  private free_: number;
  /** 2^order, per order. */
  private readonly sizes: number[] = [];
  private readonly lists: FreeList[] = [];
  /** Allocated blocks' orders and owners by offset (drm_buddy marks them DRM_BUDDY_ALLOCATED). */
  private readonly allocOrder = new Map<number, number>();
  private readonly allocOwner = new Map<number, number>();
  private readonly ownerPages = new Map<number, number>();

  // drm_buddy_init: carve the range into naturally aligned power-of-two roots, largest first.
  constructor(totalPages: number, options: VramBuddyOptions = {}) {
    if (!Number.isSafeInteger(totalPages) || totalPages < 1) {
      throw new RangeError(`VramBuddy: totalPages must be a positive integer, got ${totalPages}`);
    }
    const limit = floorLog2(totalPages);
    const maxOrder = options.maxOrder ?? Math.min(VRAM_BUDDY_DEFAULT_MAX_ORDER, limit);
    if (!Number.isInteger(maxOrder) || maxOrder < 0 || maxOrder > limit) {
      throw new RangeError(`VramBuddy: maxOrder must be an integer in 0..${limit} for ${totalPages} pages, got ${maxOrder}`);
    }
    const pfnBase = options.pfnBase ?? 0;
    if (!Number.isSafeInteger(pfnBase) || pfnBase < 0 || !Number.isSafeInteger(pfnBase + totalPages)) {
      throw new RangeError(`VramBuddy: pfnBase must be a non-negative integer, got ${pfnBase}`);
    }
    this.totalPages = totalPages;
    this.maxOrder = maxOrder;
    this.pfnBase = pfnBase;
    this.placement = options.placement ?? "low";
    this.free_ = totalPages;
    const high = this.placement === "high";
    for (let o = 0; o <= maxOrder; o++) {
      this.sizes.push(2 ** o);
      this.lists.push(new FreeList(high));
    }
    // Full roots of maxOrder, then the remainder's binary decomposition, largest first. Every
    // root starts at a multiple of its own size because all roots before it are larger powers
    // of two, which is what lets buddies be found by arithmetic (see release).
    const rootSize = this.sizes[maxOrder]!;
    const nFull = Math.floor(totalPages / rootSize);
    const full: number[] = new Array<number>(nFull);
    for (let i = 0; i < nFull; i++) full[i] = i * rootSize;
    this.lists[maxOrder]!.load(full);
    let offset = nFull * rootSize;
    let rest = totalPages - offset;
    for (let o = maxOrder - 1; o >= 0 && rest > 0; o--) {
      const s = this.sizes[o]!;
      if (rest >= s) {
        this.lists[o]!.add(offset);
        offset += s;
        rest -= s;
      }
    }
  }

  get freePages(): number {
    return this.free_;
  }

  get usedPages(): number {
    return this.totalPages - this.free_;
  }

  /** Order of the largest free block, or -1 when VRAM is full. */
  get largestFreeOrder(): number {
    for (let o = this.maxOrder; o >= 0; o--) if (this.lists[o]!.size > 0) return o;
    return -1;
  }

  /** Number of free blocks of each order, index = order (drm_buddy_print's per-order counts). */
  freeBlocksByOrder(): number[] {
    return this.lists.map((l) => l.size);
  }

  /**
   * 1 − (pages in the largest free block ÷ free pages); 0 when nothing is free. Because no block
   * exceeds 2^maxOrder pages, an untouched VRAM larger than one root reads 1 − 2^maxOrder/total,
   * not 0: compare values at the same geometry, or use maxOrder = floor(log2(totalPages)).
   */
  fragmentation(): number {
    if (this.free_ === 0) return 0;
    const largest = this.largestFreeOrder;
    return 1 - this.sizes[largest]! / this.free_;
  }

  /** Pages currently allocated to `owner`. */
  usedPagesBy(owner: number): number {
    return this.ownerPages.get(owner) ?? 0;
  }

  /** The owner of the allocated block containing `pfn`, or undefined if that page is free. */
  ownerOf(pfn: number): number | undefined {
    const off = pfn - this.pfnBase;
    if (!Number.isInteger(off) || off < 0 || off >= this.totalPages) return undefined;
    for (let o = 0; o <= this.maxOrder; o++) {
      const start = off - (off % this.sizes[o]!);
      const order = this.allocOrder.get(start);
      if (order !== undefined && off < start + this.sizes[order]!) return this.allocOwner.get(start);
    }
    return undefined;
  }

  /** Every free block, by ascending pfn (diagnostics and tests; O(n log n)). */
  freeBlocks(): VramBlock[] {
    const out: VramBlock[] = [];
    this.lists.forEach((l, order) => {
      for (const off of l.sorted()) out.push({ pfn: this.pfnBase + off, order });
    });
    return out.sort((a, b) => a.pfn - b.pfn);
  }

  /** The pfns the blocks cover, block by block (the walk populate_devmem_pfn does). */
  pfnsOf(blocks: readonly VramBlock[]): number[] {
    return pfnsOf(blocks);
  }

  /**
   * Allocates at least npages (rounded up to whole pages) in power-of-two blocks, or returns null
   * and allocates nothing when fewer pages are free. No contiguity: the blocks come largest first.
   */
  // drm_buddy_alloc_blocks without range, contiguity or top-down flags, min_block_size = chunk.
  alloc(npages: number, owner: number): VramAllocation | null {
    if (!Number.isFinite(npages) || npages <= 0) {
      throw new RangeError(`VramBuddy.alloc: npages must be a positive number, got ${npages}`);
    }
    const need = Math.ceil(npages);
    // drm_buddy finds out by failing at order 0 and unwinding (err_free); with min_block_size =
    // chunk_size the greedy loop below fails exactly when free pages are short, so check first.
    if (need > this.free_) return null;
    const blocks: VramBlock[] = [];
    let remaining = need;
    let order = Math.min(floorLog2(remaining), this.maxOrder);
    while (remaining > 0) {
      // Never above the remaining need, and never back up after a fallback: if no block of
      // order k was free a moment ago, none has appeared since (allocating only splits).
      order = Math.min(order, floorLog2(remaining));
      let off = this.takeBlock(order);
      while (off === undefined) {
        if (order === 0) throw new Error("VramBuddy.alloc: free page count disagrees with the free lists (model bug)");
        order--;
        off = this.takeBlock(order);
      }
      this.allocOrder.set(off, order);
      this.allocOwner.set(off, owner);
      blocks.push({ pfn: this.pfnBase + off, order });
      remaining -= this.sizes[order]!;
    }
    this.free_ -= need;
    this.ownerPages.set(owner, this.usedPagesBy(owner) + need);
    return { blocks };
  }

  /**
   * The blocks alloc(npages, owner) would return now, or null, leaving the allocator as it was:
   * freeing an allocation merges every split back, so the free blocks are the same set again.
   * The driver side decides with it, then commits the allocation for the apply to make.
   */
  peek(npages: number, owner: number): VramBlock[] | null {
    const got = this.alloc(npages, owner);
    if (got !== null) this.free(got.blocks);
    return got?.blocks ?? null;
  }

  /**
   * The allocator's state in canonical form for the state digest: geometry, free blocks and
   * allocated blocks with their owners, by pfn (the free lists' heaps depend on history, not state).
   */
  canonical(): unknown {
    const allocated = [...this.allocOrder].sort((a, b) => a[0] - b[0]).map(([off, order]) => [this.pfnBase + off, order, this.allocOwner.get(off)!]);
    return { totalPages: this.totalPages, maxOrder: this.maxOrder, pfnBase: this.pfnBase, placement: this.placement, free: this.freeBlocks().map((b) => [b.pfn, b.order]), allocated };
  }

  /**
   * Returns blocks to the free lists, merging each with its buddy as far up as possible. Every
   * block must be currently allocated with that exact order; otherwise nothing is freed and an
   * Error naming the pfn is thrown (a double free is a model bug).
   */
  // drm_buddy_free_list → drm_buddy_free_block, which BUG_ONs on a block that is not allocated.
  free(blocks: readonly VramBlock[]): void {
    // Validate the whole list first so that a bad entry frees nothing.
    const seen = blocks.length > 1 ? new Set<number>() : undefined;
    for (const b of blocks) {
      const off = b.pfn - this.pfnBase;
      const order = this.allocOrder.get(off);
      if (order === undefined || seen?.has(off) === true) {
        throw new Error(`VramBuddy.free: pfn ${b.pfn} (order ${b.order}) is not an allocated block (double free?)`);
      }
      if (order !== b.order) {
        throw new Error(`VramBuddy.free: pfn ${b.pfn} was allocated as order ${order} but freed as order ${b.order}`);
      }
      seen?.add(off);
    }
    for (const b of blocks) {
      const off = b.pfn - this.pfnBase;
      const owner = this.allocOwner.get(off)!;
      this.allocOrder.delete(off);
      this.allocOwner.delete(off);
      const pages = this.sizes[b.order]!;
      this.free_ += pages;
      const left = this.usedPagesBy(owner) - pages;
      if (left === 0) this.ownerPages.delete(owner);
      else this.ownerPages.set(owner, left);
      this.release(off, b.order);
    }
  }

  // alloc_from_freelist + split_block: the smallest order ≥ `order` with a free block, then split
  // down, keeping one half and freeing the other at each level.
  private takeBlock(order: number): number | undefined {
    let o = order;
    while (o <= this.maxOrder && this.lists[o]!.size === 0) o++;
    if (o > this.maxOrder) return undefined;
    let off = this.lists[o]!.takeFirst()!;
    const keepHigh = this.placement === "high";
    while (o > order) {
      o--;
      const half = this.sizes[o]!;
      // split_block: left = [off, off+half), right = [off+half, off+2·half), both marked free.
      if (keepHigh) {
        this.lists[o]!.add(off);
        off += half;
      } else {
        this.lists[o]!.add(off + half);
      }
    }
    return off;
  }

  // __drm_buddy_free: while the block has a parent and its buddy is free, absorb the buddy and
  // move up; then put what is left on its order's free list (mark_free).
  private release(offset: number, order: number): void {
    let off = offset;
    let o = order;
    // Merging must stop at a root, which has no parent. Full roots are at maxOrder, where the
    // loop ends. A smaller tail root at offset s and order k has s a multiple of 2^(k+1), so its
    // would-be buddy starts at s + 2^k, and the roots after it add up to less than 2^k: that
    // buddy runs past the end of VRAM, is never on a free list, and the loop stops there too.
    while (o < this.maxOrder) {
      const s = this.sizes[o]!;
      const buddy = (off / s) % 2 === 0 ? off + s : off - s;
      if (!this.lists[o]!.delete(buddy)) break;
      off = Math.min(off, buddy);
      o++;
    }
    this.lists[o]!.add(off);
  }
}

/** The pfns the blocks cover, block by block, each block's pages in ascending order. */
export function pfnsOf(blocks: readonly VramBlock[]): number[] {
  const out: number[] = [];
  for (const b of blocks) {
    const n = 2 ** b.order;
    for (let i = 0; i < n; i++) out.push(b.pfn + i);
  }
  return out;
}
