import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { pfnsOf, VramBuddy, type VramBlock, type VramBuddyOptions } from "../src/platform/vram-buddy.ts";

const zeros = (n: number): number[] => new Array<number>(n).fill(0);
const pagesOf = (blocks: readonly VramBlock[]): number => blocks.reduce((s, b) => s + 2 ** b.order, 0);

describe("VramBuddy: allocation shape", () => {
  it("512 pages from a 1024-page VRAM is one order-9 block", () => {
    const b = new VramBuddy(1024);
    expect(b.maxOrder).toBe(9);
    expect(b.freeBlocksByOrder()).toEqual([...zeros(9), 2]);
    expect(b.alloc(512, 1)).toEqual({ blocks: [{ pfn: 0, order: 9 }] });
    expect(b.freeBlocksByOrder()).toEqual([...zeros(9), 1]);
    expect(b.usedPages).toBe(512);
    expect(b.freePages).toBe(512);
    expect(b.alloc(512, 1)).toEqual({ blocks: [{ pfn: 512, order: 9 }] });
    expect(b.largestFreeOrder).toBe(-1);
  });

  it("3 pages is an order-1 block then an order-0 block, from the lowest addresses", () => {
    const b = new VramBuddy(1024);
    const a = b.alloc(3, 1)!;
    expect(a.blocks).toEqual([{ pfn: 0, order: 1 }, { pfn: 2, order: 0 }]);
    expect(b.pfnsOf(a.blocks)).toEqual([0, 1, 2]);
    // Splitting root 0 down to order 1 left one free right half at each order 8..1 (256, 128, …,
    // 4, 2); the order-0 request then split the order-1 block at 2, leaving pfn 3.
    expect(b.freeBlocksByOrder()).toEqual([1, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(b.freeBlocks().slice(0, 3)).toEqual([{ pfn: 3, order: 0 }, { pfn: 4, order: 2 }, { pfn: 8, order: 3 }]);
  });

  it('placement "high" is drm_buddy\'s alloc_from_freelist: last free-list entry, right halves', () => {
    const b = new VramBuddy(1024, { placement: "high" });
    expect(b.alloc(3, 1)!.blocks).toEqual([{ pfn: 1022, order: 1 }, { pfn: 1021, order: 0 }]);
    expect(b.freeBlocksByOrder()).toEqual([1, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(b.alloc(512, 1)!.blocks).toEqual([{ pfn: 0, order: 9 }]);
  });

  it("takes the smallest sufficient order before splitting a larger block", () => {
    const b = new VramBuddy(1024);
    b.alloc(1, 1); // leaves free blocks of orders 0..8 inside root 0
    expect(b.alloc(16, 2)!.blocks).toEqual([{ pfn: 16, order: 4 }]);
    expect(b.alloc(1, 2)!.blocks).toEqual([{ pfn: 1, order: 0 }]);
  });

  it("falls back to smaller orders when no block of the wanted order is free", () => {
    const b = new VramBuddy(8, { maxOrder: 3 });
    const ones = [0, 1, 2, 3, 4, 5, 6, 7].map(() => b.alloc(1, 1)!.blocks);
    b.free([...ones[1]!, ...ones[3]!, ...ones[4]!, ...ones[6]!]); // free pfns 1, 3, 4, 6: no two are buddies
    expect(b.freeBlocksByOrder()).toEqual([4, 0, 0, 0]);
    const a = b.alloc(4, 2)!;
    expect(a.blocks).toEqual([{ pfn: 1, order: 0 }, { pfn: 3, order: 0 }, { pfn: 4, order: 0 }, { pfn: 6, order: 0 }]);
    expect(b.freePages).toBe(0);
  });

  it("rounds a fractional page count up and rejects non-positive counts", () => {
    const b = new VramBuddy(64);
    expect(pagesOf(b.alloc(2.5, 1)!.blocks)).toBe(3);
    expect(pagesOf(b.alloc(0.01, 1)!.blocks)).toBe(1);
    expect(b.usedPages).toBe(4);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => b.alloc(bad, 1)).toThrow(RangeError);
    expect(b.usedPages).toBe(4);
  });

  it("an arbitrary page count comes back as its binary decomposition, largest block first", () => {
    const b = new VramBuddy(2048);
    const a = b.alloc(0b10110101, 1)!;
    expect(a.blocks.map((x) => x.order)).toEqual([7, 5, 4, 2, 0]);
    expect(pagesOf(a.blocks)).toBe(0b10110101);
  });
});

describe("VramBuddy: exhaustion and freeing", () => {
  it("returns null and allocates nothing when too few pages are free", () => {
    const b = new VramBuddy(100);
    expect(b.alloc(101, 1)).toBeNull();
    expect(b.alloc(60, 1)).not.toBeNull();
    const before = { lists: b.freeBlocksByOrder(), free: b.freeBlocks(), used: b.usedPages };
    expect(b.alloc(41, 2)).toBeNull();
    expect({ lists: b.freeBlocksByOrder(), free: b.freeBlocks(), used: b.usedPages }).toEqual(before);
    expect(b.usedPagesBy(2)).toBe(0);
    expect(b.alloc(40, 2)).not.toBeNull();
    expect(b.alloc(1, 3)).toBeNull();
    expect(b.freePages).toBe(0);
    expect(b.largestFreeOrder).toBe(-1);
    expect(b.fragmentation()).toBe(0);
  });

  it("free merges buddies back up to the roots", () => {
    const b = new VramBuddy(1024);
    const initial = b.freeBlocksByOrder();
    const initialBlocks = b.freeBlocks();
    const allocs = [1, 3, 7, 64, 100, 2, 512, 5].map((n, i) => b.alloc(n, i)!);
    expect(b.usedPages).toBe(1 + 3 + 7 + 64 + 100 + 2 + 512 + 5);
    for (const i of [3, 0, 6, 5, 1, 7, 2, 4]) b.free(allocs[i]!.blocks);
    expect(b.freeBlocksByOrder()).toEqual(initial);
    expect(b.freeBlocks()).toEqual(initialBlocks);
    expect(b.usedPages).toBe(0);
  });

  it("throws on a double free, naming the pfn, and frees nothing from a bad list", () => {
    const b = new VramBuddy(64);
    const a = b.alloc(5, 1)!; // blocks at 0 (order 2) and 4 (order 0)
    const c = b.alloc(2, 1)!;
    b.free(c.blocks);
    expect(() => b.free(c.blocks)).toThrow(/pfn 6\b/);
    expect(() => b.free([{ pfn: 9, order: 0 }])).toThrow(/pfn 9\b/);
    expect(() => b.free([{ pfn: 0, order: 1 }])).toThrow(/pfn 0 was allocated as order 2/);
    expect(() => b.free([a.blocks[1]!, a.blocks[1]!])).toThrow(/pfn 4\b/);
    expect(() => b.free([a.blocks[0]!, { pfn: 33, order: 0 }])).toThrow(/pfn 33\b/);
    expect(b.usedPages).toBe(5); // the good block in the rejected lists was not freed
    b.free(a.blocks);
    expect(b.usedPages).toBe(0);
  });

  it("tracks owners", () => {
    const b = new VramBuddy(64, { pfnBase: 1000 });
    const a = b.alloc(5, 7)!;
    const c = b.alloc(8, 9)!;
    expect(b.usedPagesBy(7)).toBe(5);
    expect(b.usedPagesBy(9)).toBe(8);
    expect(b.ownerOf(1000)).toBe(7);
    expect(b.ownerOf(1003)).toBe(7);
    expect(b.ownerOf(1004)).toBe(7);
    expect(c.blocks).toEqual([{ pfn: 1008, order: 3 }]);
    expect(b.ownerOf(1015)).toBe(9);
    expect(b.ownerOf(1005)).toBeUndefined();
    expect(b.ownerOf(999)).toBeUndefined();
    b.free(a.blocks);
    expect(b.usedPagesBy(7)).toBe(0);
    expect(b.ownerOf(1000)).toBeUndefined();
  });
});

describe("VramBuddy: geometry", () => {
  it("splits a non-power-of-two total into maximal aligned roots", () => {
    const b = new VramBuddy(1000); // 512 + 256 + 128 + 64 + 32 + 8
    expect(b.freeBlocks()).toEqual([
      { pfn: 0, order: 9 },
      { pfn: 512, order: 8 },
      { pfn: 768, order: 7 },
      { pfn: 896, order: 6 },
      { pfn: 960, order: 5 },
      { pfn: 992, order: 3 },
    ]);
    expect(b.freeBlocksByOrder()).toEqual([0, 0, 0, 1, 0, 1, 1, 1, 1, 1]);
    const all = b.alloc(1000, 1)!;
    expect(pagesOf(all.blocks)).toBe(1000);
    expect(b.freePages).toBe(0);
    b.free(all.blocks);
    expect(b.freeBlocksByOrder()).toEqual([0, 0, 0, 1, 0, 1, 1, 1, 1, 1]);
  });

  it("caps roots at maxOrder and never merges across roots", () => {
    const b = new VramBuddy(3); // default maxOrder is min(9, floor(log2 3)) = 1: roots 0 (order 1), 2 (order 0)
    expect(b.maxOrder).toBe(1);
    expect(b.freeBlocksByOrder()).toEqual([1, 1]);
    // The order-0 root at 2 is the smallest sufficient block, so it goes first.
    const got = [b.alloc(1, 1)!, b.alloc(1, 1)!, b.alloc(1, 1)!].map((a) => a.blocks[0]!.pfn);
    expect(got).toEqual([2, 0, 1]);
    b.free([{ pfn: 2, order: 0 }]);
    b.free([{ pfn: 1, order: 0 }]);
    b.free([{ pfn: 0, order: 0 }]);
    expect(b.freeBlocksByOrder()).toEqual([1, 1]);

    const big = new VramBuddy(1 << 12, { maxOrder: 4 });
    expect(big.freeBlocksByOrder()).toEqual([0, 0, 0, 0, 256]);
    expect(big.alloc(64, 1)!.blocks).toEqual([0, 16, 32, 48].map((pfn) => ({ pfn, order: 4 })));
  });

  it("keeps blocks aligned relative to an unaligned pfnBase", () => {
    const base = 1_000_003;
    const b = new VramBuddy(48, { pfnBase: base }); // 32 + 16, maxOrder 5
    expect(b.freeBlocks()).toEqual([{ pfn: base, order: 5 }, { pfn: base + 32, order: 4 }]);
    const a = b.alloc(6, 1)!;
    expect(a.blocks).toEqual([{ pfn: base + 16 + 16, order: 2 }, { pfn: base + 36, order: 1 }]);
    expect(pfnsOf(a.blocks)).toEqual([0, 1, 2, 3, 4, 5].map((i) => base + 32 + i));
  });

  it("validates its arguments", () => {
    expect(() => new VramBuddy(0)).toThrow(RangeError);
    expect(() => new VramBuddy(10.5)).toThrow(RangeError);
    expect(() => new VramBuddy(1000, { maxOrder: 10 })).toThrow(RangeError);
    expect(() => new VramBuddy(1024, { maxOrder: -1 })).toThrow(RangeError);
    expect(() => new VramBuddy(1024, { pfnBase: -4 })).toThrow(RangeError);
    expect(new VramBuddy(1024, { maxOrder: 10 }).freeBlocksByOrder()).toEqual([...zeros(10), 1]);
    expect(new VramBuddy(1).freeBlocksByOrder()).toEqual([1]);
  });

  it("16 GiB of VRAM (4 Mi pages) constructs without a per-page object and survives churn", () => {
    const total = 4 * 1024 * 1024;
    for (const maxOrder of [9, 22]) {
      const b = new VramBuddy(total, { maxOrder, pfnBase: 1 << 24 });
      const initial = b.freeBlocksByOrder();
      expect(initial[maxOrder]).toBe(total / 2 ** maxOrder);
      let seed = 12345;
      const rnd = (n: number): number => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed % n;
      };
      const live: VramBlock[][] = [];
      for (let i = 0; i < 20_000; i++) {
        if (live.length > 0 && rnd(3) === 0) {
          const j = rnd(live.length);
          b.free(live[j]!);
          live[j] = live[live.length - 1]!;
          live.pop();
        } else {
          const a = b.alloc(2 ** rnd(10), i);
          if (a) live.push(a.blocks);
        }
      }
      expect(b.usedPages).toBe(live.reduce((s, x) => s + pagesOf(x), 0));
      for (const x of live) b.free(x);
      expect(b.freeBlocksByOrder()).toEqual(initial);
    }
  });
});

describe("VramBuddy: fragmentation", () => {
  it("is 1 − largest free block ÷ free pages after interleaved alloc and free", () => {
    const b = new VramBuddy(1024, { maxOrder: 10 });
    expect(b.fragmentation()).toBe(0);
    const q = [0, 1, 2, 3].map(() => b.alloc(256, 1)!);
    expect(q.map((a) => a.blocks[0]!.pfn)).toEqual([0, 256, 512, 768]);
    expect(b.fragmentation()).toBe(0); // full
    b.free(q[1]!.blocks);
    b.free(q[3]!.blocks); // 256 and 768 are free but not buddies
    expect(b.freeBlocksByOrder()).toEqual([...zeros(8), 2, 0, 0]);
    expect(b.fragmentation()).toBe(0.5);
    b.free(q[0]!.blocks); // 0 merges with 256 into an order-9 block
    expect(b.largestFreeOrder).toBe(9);
    expect(b.fragmentation()).toBeCloseTo(1 - 512 / 768, 12);
    b.alloc(1, 2); // splits the order-8 block at 768, the smallest sufficient one
    expect(b.fragmentation()).toBeCloseTo(1 - 512 / 767, 12);
    b.free(q[2]!.blocks);
    expect(b.largestFreeOrder).toBe(9);
  });

  it("with capped roots, an untouched VRAM reads 1 − 2^maxOrder ÷ total", () => {
    expect(new VramBuddy(1024).fragmentation()).toBe(0.5);
    expect(new VramBuddy(512).fragmentation()).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Property test against a deliberately naive reference: sorted arrays per order, linear scans.

/** The same policy as VramBuddy, written the slow, obvious way. */
class RefBuddy {
  readonly free: number[][] = [];
  readonly roots: [number, number][] = [];
  readonly alloced = new Map<number, number>();
  /** The order of the root containing each page. */
  readonly rootOrderOf: Int8Array;
  freePages: number;

  constructor(readonly total: number, readonly maxOrder: number, readonly base: number, readonly high: boolean) {
    for (let o = 0; o <= maxOrder; o++) this.free.push([]);
    this.rootOrderOf = new Int8Array(total);
    let off = 0;
    while (off < total) {
      let o = maxOrder;
      while (off % 2 ** o !== 0 || off + 2 ** o > total) o--;
      this.roots.push([off, o]);
      this.rootOrderOf.fill(o, off, off + 2 ** o);
      this.insert(o, off);
      off += 2 ** o;
    }
    this.freePages = total;
  }

  insert(o: number, off: number): void {
    const l = this.free[o]!;
    let i = 0;
    while (i < l.length && l[i]! < off) i++;
    l.splice(i, 0, off);
  }

  rootOrder(off: number): number {
    return this.rootOrderOf[off]!;
  }

  alloc(n: number): VramBlock[] | null {
    let rem = Math.ceil(n);
    if (rem > this.freePages) return null;
    this.freePages -= rem;
    const out: VramBlock[] = [];
    let order = this.maxOrder;
    while (rem > 0) {
      while (2 ** order > rem) order--;
      for (;;) {
        let o = order;
        while (o <= this.maxOrder && this.free[o]!.length === 0) o++;
        if (o <= this.maxOrder) break;
        order--;
      }
      let o = order;
      while (this.free[o]!.length === 0) o++;
      let off = this.high ? this.free[o]!.pop()! : this.free[o]!.shift()!;
      while (o > order) {
        o--;
        if (this.high) {
          this.insert(o, off);
          off += 2 ** o;
        } else {
          this.insert(o, off + 2 ** o);
        }
      }
      this.alloced.set(off, order);
      out.push({ pfn: this.base + off, order });
      rem -= 2 ** order;
    }
    return out;
  }

  release(blocks: readonly VramBlock[]): void {
    for (const b of blocks) {
      let off = b.pfn - this.base;
      let o = this.alloced.get(off)!;
      this.alloced.delete(off);
      this.freePages += 2 ** o;
      const top = this.rootOrder(off);
      while (o < top) {
        const buddy = Math.floor(off / 2 ** o) % 2 === 0 ? off + 2 ** o : off - 2 ** o;
        const i = this.free[o]!.indexOf(buddy);
        if (i < 0) break;
        this.free[o]!.splice(i, 1);
        off = Math.min(off, buddy);
        o++;
      }
      this.insert(o, off);
    }
  }
}

type Cmd = { kind: "alloc"; n: number; owner: number } | { kind: "free"; pick: number };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("alloc" as const), n: fc.integer({ min: 1, max: 700 }), owner: fc.integer({ min: 0, max: 3 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("alloc" as const), n: fc.double({ min: 0.001, max: 40, noNaN: true }), owner: fc.integer({ min: 0, max: 3 }) }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }) },
);

const setupArb = fc.record({
  total: fc.integer({ min: 1, max: 3000 }),
  maxOrder: fc.integer({ min: 0, max: 12 }),
  pfnBase: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1 << 30 })),
  placement: fc.constantFrom("low" as const, "high" as const),
});

/** Runs the commands, checking every invariant after each step; returns the log of results. */
function run(setup: { total: number; maxOrder: number; pfnBase: number; placement: "low" | "high" }, cmds: Cmd[]): string[] {
  const maxOrder = Math.min(setup.maxOrder, Math.floor(Math.log2(setup.total)));
  const opts: VramBuddyOptions = { maxOrder, pfnBase: setup.pfnBase, placement: setup.placement };
  const b = new VramBuddy(setup.total, opts);
  const ref = new RefBuddy(setup.total, maxOrder, setup.pfnBase, setup.placement === "high");
  const initialLists = b.freeBlocksByOrder();
  const initialBlocks = b.freeBlocks();
  const rootOrder = (pfn: number): number => ref.rootOrder(pfn - setup.pfnBase);
  const live: { blocks: VramBlock[]; owner: number }[] = [];
  const handedOut = new Set<number>();
  const log: string[] = [];

  const check = (): void => {
    expect(b.usedPages + b.freePages).toBe(b.totalPages);
    expect(b.usedPages).toBe(live.reduce((s, a) => s + pagesOf(a.blocks), 0));
    expect(b.usedPages).toBe(handedOut.size);
    const lists = b.freeBlocksByOrder();
    expect(lists.reduce((s, c, o) => s + c * 2 ** o, 0)).toBe(b.freePages);
    expect(lists).toEqual(ref.free.map((l) => l.length));
    // Free and allocated blocks tile the range exactly.
    const free = b.freeBlocks();
    const tiles = [...free, ...live.flatMap((a) => a.blocks)].sort((x, y) => x.pfn - y.pfn);
    let next = setup.pfnBase;
    const gaps: VramBlock[] = [];
    for (const t of tiles) {
      if (t.pfn !== next) gaps.push(t);
      next = t.pfn + 2 ** t.order;
    }
    expect(gaps).toEqual([]);
    expect(next).toBe(setup.pfnBase + setup.total);
    // Fully merged: below its root, no free block has a free buddy of the same order.
    const freeSet = new Set(free.map((f) => `${f.pfn}/${f.order}`));
    const unmerged = free.filter((f) => {
      if (f.order >= rootOrder(f.pfn)) return false;
      const off = f.pfn - setup.pfnBase;
      const s = 2 ** f.order;
      const buddy = setup.pfnBase + (Math.floor(off / s) % 2 === 0 ? off + s : off - s);
      return freeSet.has(`${buddy}/${f.order}`);
    });
    expect(unmerged).toEqual([]);
    expect(b.largestFreeOrder).toBe(lists.findLastIndex((c) => c > 0));
    const frag = b.fragmentation();
    expect(frag).toBeGreaterThanOrEqual(0);
    expect(frag).toBeLessThan(1);
  };

  for (const c of cmds) {
    if (c.kind === "alloc") {
      const need = Math.ceil(c.n);
      const freeBefore = b.freePages;
      const before = b.freeBlocks();
      const a = b.alloc(c.n, c.owner);
      const expected = ref.alloc(c.n);
      expect(a?.blocks ?? null).toEqual(expected);
      if (a === null) {
        expect(need).toBeGreaterThan(freeBefore);
        expect(b.freeBlocks()).toEqual(before);
        log.push(`alloc ${c.n} -> null`);
      } else {
        expect(pagesOf(a.blocks)).toBe(need);
        // Largest first; each block aligned to its size, inside the range, and owned by the caller.
        const bad = a.blocks.filter(
          (blk, i) =>
            (i > 0 && blk.order > a.blocks[i - 1]!.order) ||
            !Number.isInteger(blk.order) ||
            blk.order < 0 ||
            blk.order > maxOrder ||
            (blk.pfn - setup.pfnBase) % 2 ** blk.order !== 0 ||
            blk.pfn < setup.pfnBase ||
            blk.pfn + 2 ** blk.order > setup.pfnBase + setup.total ||
            b.ownerOf(blk.pfn) !== c.owner ||
            b.ownerOf(blk.pfn + 2 ** blk.order - 1) !== c.owner,
        );
        expect(bad).toEqual([]);
        const twice = pfnsOf(a.blocks).filter((pfn) => handedOut.has(pfn));
        expect(twice).toEqual([]);
        for (const pfn of pfnsOf(a.blocks)) handedOut.add(pfn);
        live.push({ blocks: a.blocks, owner: c.owner });
        log.push(`alloc ${c.n} -> ${a.blocks.map((x) => `${x.pfn}:${x.order}`).join(",")}`);
      }
    } else if (live.length > 0) {
      const i = c.pick % live.length;
      const a = live[i]!;
      live.splice(i, 1);
      b.free(a.blocks);
      ref.release(a.blocks);
      for (const pfn of pfnsOf(a.blocks)) handedOut.delete(pfn);
      expect(() => b.free(a.blocks)).toThrow(/not an allocated block/);
      log.push(`free ${a.blocks[0]!.pfn}`);
    }
    check();
    log.push(`frag ${b.fragmentation()} used ${b.usedPages}`);
  }

  for (const owner of [0, 1, 2, 3]) {
    expect(b.usedPagesBy(owner)).toBe(live.filter((a) => a.owner === owner).reduce((s, a) => s + pagesOf(a.blocks), 0));
  }
  // Free what is left, last allocation first, then everything must have merged back.
  for (const a of live.reverse()) b.free(a.blocks);
  expect(b.freeBlocksByOrder()).toEqual(initialLists);
  expect(b.freeBlocks()).toEqual(initialBlocks);
  expect(b.freePages).toBe(setup.total);
  return log;
}

describe("VramBuddy: properties", () => {
  it("random alloc/free sequences keep every invariant, match the reference, and replay identically", () => {
    fc.assert(
      fc.property(setupArb, fc.array(cmdArb, { maxLength: 60 }), (setup, cmds) => {
        const first = run(setup, cmds);
        const second = run(setup, cmds);
        expect(second).toEqual(first);
      }),
      { numRuns: 300 },
    );
  });

  it("a checkerboard of single pages, freed and re-merged, keeps the lazy free lists exact", () => {
    // Many order-0 blocks are freed, then merged away, leaving stale heap entries behind until
    // the heap is rebuilt; allocating in between must still yield exactly the reference's pfns.
    const cmds: Cmd[] = [];
    for (let i = 0; i < 1024; i++) cmds.push({ kind: "alloc", n: 1, owner: i % 4 });
    for (let k = 0; k < 512; k++) cmds.push({ kind: "free", pick: k }); // every other page: no merges
    for (let k = 0; k < 400; k++) cmds.push({ kind: "free", pick: 0 }); // their buddies: merges
    for (let k = 0; k < 60; k++) cmds.push({ kind: "alloc", n: 1 + (k % 3), owner: 1 });
    for (let k = 0; k < 300; k++) cmds.push({ kind: "free", pick: 7 * k });
    for (const placement of ["low", "high"] as const) {
      const setup = { total: 1024, maxOrder: 10, pfnBase: 4096, placement };
      run(setup, cmds);
    }
  });

  it("small VRAMs under heavy churn (exhaustion and fallback paths)", () => {
    const small = fc.record({
      total: fc.integer({ min: 1, max: 64 }),
      maxOrder: fc.integer({ min: 0, max: 6 }),
      pfnBase: fc.integer({ min: 0, max: 100 }),
      placement: fc.constantFrom("low" as const, "high" as const),
    });
    const cmd: fc.Arbitrary<Cmd> = fc.oneof(
      fc.record({ kind: fc.constant("alloc" as const), n: fc.integer({ min: 1, max: 20 }), owner: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(small, fc.array(cmd, { maxLength: 80 }), (setup, cmds) => {
        expect(run(setup, cmds)).toEqual(run(setup, cmds));
      }),
      { numRuns: 300 },
    );
  });
});

describe("VramBuddy: peek and canonical form (the apply allocates, the driver decides with peek)", () => {
  it("peek returns exactly what alloc then gives, and leaves the free blocks as they were", () => {
    const b = new VramBuddy(1024, { maxOrder: 10, placement: "high" });
    b.alloc(3, 1);
    const before = b.canonical();
    const peeked = b.peek(37, 1);
    expect(b.canonical()).toEqual(before);
    expect(b.freePages).toBe(1024 - 3);
    expect(b.alloc(37, 1)!.blocks).toEqual(peeked);
    expect(b.canonical()).not.toEqual(before);
  });

  it("two allocators with the same blocks have the same canonical form whatever their history", () => {
    const a = new VramBuddy(256);
    const c = new VramBuddy(256);
    for (let i = 0; i < 5; i++) c.peek(100, 1); // churns c's free-list heaps only
    a.alloc(9, 2);
    c.alloc(9, 2);
    expect(c.canonical()).toEqual(a.canonical());
  });
});
