import { nrPages, type FolioOrder } from "./constants.ts";

/**
 * The live folios (struct folio, as far as the model needs one), in typed arrays rather than an
 * object per folio: a 64 GiB mapping a quarter touched is 4 M folios, and an object each (with
 * two per-page arrays and a Map entry) cost ~350 B a folio where these columns cost ~46 B
 * (issue #8's 16 M-page memory figure; see BENCHMARKS.md).
 *
 * Folio ids are handed out in order and never reused, so a folio's slot is its id: the table is
 * cut into chunks of CHUNK ids, each allocated when its first id is, and released once every id
 * in it has been allocated and freed again, so a long run holds only chunks with live folios.
 * Order-0 folios (nearly all of them) keep their one page's mapcount and data version inline;
 * the few large folios keep per-page arrays on the side.
 *
 * Only applyKernelEvent changes it (through the mutators below); everyone else reads a folio
 * through get(), which returns a live read-only view (FolioView).
 */
const CHUNK_SHIFT = 12;
const CHUNK = 1 << CHUNK_SHIFT;
const NONE = 0;
const SYSTEM = 1;
const DEVICE = 2;

export type MemoryKind = "system" | "device";

/** What a folio is, read through its view; a plain object of these is what the digest hashes. */
export interface FolioFields {
  id: number;
  order: FolioOrder;
  memory: MemoryKind;
  /** The pagemap that owns a device folio; -1 for system memory. */
  pagemap: number;
  /** The device page frame of a device folio; -1 for system memory. */
  pfn: number;
  refcount: number;
  /** Long-term pins (FOLL_LONGTERM): a pinned folio is never collected for migration. */
  pincount: number;
  /** Page table entries pointing at this folio (present or device-private). */
  mapcount: number;
  /** Process uid holding the folio lock, or -1. */
  lockOwner: number;
  /** zone_device_data of a device folio: the zdd id, or -1. */
  zdd: number;
}

interface Chunk {
  /** NONE for an id not allocated yet or freed; else SYSTEM or DEVICE. */
  memory: Uint8Array;
  order: Uint8Array;
  pagemap: Int32Array;
  pfn: Float64Array;
  refcount: Int32Array;
  pincount: Int32Array;
  mapcount: Int32Array;
  lockOwner: Int32Array;
  zdd: Int32Array;
  /** Page 0's mapcount and data version (the only page of an order-0 folio). */
  page0Mapcount: Int32Array;
  page0Version: Float64Array;
  /** The rmap's first mapping of the folio (mm -1: none); further ones are in FolioTable.rmapMore. */
  rmapMm: Int32Array;
  rmapVpn: Float64Array;
  /** Ids of this chunk allocated so far, and of those still live. */
  allocated: number;
  live: number;
}

function newChunk(): Chunk {
  return {
    memory: new Uint8Array(CHUNK),
    order: new Uint8Array(CHUNK),
    pagemap: new Int32Array(CHUNK),
    pfn: new Float64Array(CHUNK),
    refcount: new Int32Array(CHUNK),
    pincount: new Int32Array(CHUNK),
    mapcount: new Int32Array(CHUNK),
    lockOwner: new Int32Array(CHUNK),
    zdd: new Int32Array(CHUNK),
    page0Mapcount: new Int32Array(CHUNK),
    page0Version: new Float64Array(CHUNK),
    rmapMm: new Int32Array(CHUNK),
    rmapVpn: new Float64Array(CHUNK),
    allocated: 0,
    live: 0,
  };
}

/** Per-page mapcounts and data versions of a large folio (pages 1… as well as page 0). */
interface LargePages {
  mapcount: Int32Array;
  version: Float64Array;
}

/** A page table entry that maps a folio: what the rmap finds. */
export interface MappingSite {
  mm: number;
  vpn: number;
}

export class FolioTable {
  private readonly chunks: (Chunk | undefined)[] = [];
  private readonly large = new Map<number, LargePages>();
  /** The rmap's mappings beyond each folio's first (a page shared after fork, a THP's pages). */
  private readonly rmapMore = new Map<number, MappingSite[]>();
  private liveCount = 0;

  /** Live folios. */
  get size(): number {
    return this.liveCount;
  }

  /** Whether folio `id` is allocated and not yet freed. */
  has(id: number): boolean {
    const c = this.chunks[id >>> CHUNK_SHIFT];
    return c !== undefined && c.memory[id & (CHUNK - 1)] !== NONE;
  }

  /** A live read-only view of folio `id`, or undefined when it is not live (never, or freed). */
  get(id: number): FolioView | undefined {
    const c = this.chunks[id >>> CHUNK_SHIFT];
    return c !== undefined && c.memory[id & (CHUNK - 1)] !== NONE ? new FolioView(this, id, c) : undefined;
  }

  /** The live folios' ids, ascending. */
  *ids(): IterableIterator<number> {
    for (let ci = 0; ci < this.chunks.length; ci++) {
      const c = this.chunks[ci];
      if (c === undefined || c.live === 0) continue;
      for (let i = 0; i < CHUNK; i++) if (c.memory[i] !== NONE) yield (ci << CHUNK_SHIFT) | i;
    }
  }

  /** The live folios, ascending by id. */
  *values(): IterableIterator<FolioView> {
    for (const id of this.ids()) yield new FolioView(this, id, this.chunks[id >>> CHUNK_SHIFT]!);
  }

  // Field reads. Each throws on a folio that is not live: reading a freed folio is a model bug.
  memory(id: number): MemoryKind {
    return this.chunkOf(id).memory[id & (CHUNK - 1)] === DEVICE ? "device" : "system";
  }
  order(id: number): FolioOrder {
    return this.chunkOf(id).order[id & (CHUNK - 1)] as FolioOrder;
  }
  pagemap(id: number): number {
    return this.chunkOf(id).pagemap[id & (CHUNK - 1)]!;
  }
  pfn(id: number): number {
    return this.chunkOf(id).pfn[id & (CHUNK - 1)]!;
  }
  refcount(id: number): number {
    return this.chunkOf(id).refcount[id & (CHUNK - 1)]!;
  }
  pincount(id: number): number {
    return this.chunkOf(id).pincount[id & (CHUNK - 1)]!;
  }
  mapcount(id: number): number {
    return this.chunkOf(id).mapcount[id & (CHUNK - 1)]!;
  }
  lockOwner(id: number): number {
    return this.chunkOf(id).lockOwner[id & (CHUNK - 1)]!;
  }
  zdd(id: number): number {
    return this.chunkOf(id).zdd[id & (CHUNK - 1)]!;
  }
  /** Mapcount of page `index` (the kernel's page _mapcount + 1). */
  pageMapcount(id: number, index: number): number {
    const c = this.chunkOf(id);
    if (index === 0) return c.page0Mapcount[id & (CHUNK - 1)]!;
    return this.largeOf(id, index).mapcount[index]!;
  }
  /** Data version of page `index`: each write bumps it, a copy carries it. */
  version(id: number, index: number): number {
    const c = this.chunkOf(id);
    if (index === 0) return c.page0Version[id & (CHUNK - 1)]!;
    return this.largeOf(id, index).version[index]!;
  }

  /** The folio as a plain object, per-page arrays included: what the state digest hashes. */
  fields(id: number): FolioFields & { pageMapcount: number[]; versions: number[]; freed: false } {
    const pages = nrPages(this.order(id));
    const pageMapcount: number[] = [];
    const versions: number[] = [];
    for (let i = 0; i < pages; i++) {
      pageMapcount.push(this.pageMapcount(id, i));
      versions.push(this.version(id, i));
    }
    return {
      id,
      order: this.order(id),
      memory: this.memory(id),
      pagemap: this.pagemap(id),
      pfn: this.pfn(id),
      refcount: this.refcount(id),
      pincount: this.pincount(id),
      mapcount: this.mapcount(id),
      pageMapcount,
      lockOwner: this.lockOwner(id),
      zdd: this.zdd(id),
      versions,
      freed: false,
    };
  }

  // Mutators: for applyKernelEvent only.

  /** A new folio with one reference, no mappings, no lock, every page at version 0. */
  add(id: number, order: FolioOrder, memory: MemoryKind, pagemap: number, pfn: number): void {
    let c = this.chunks[id >>> CHUNK_SHIFT];
    if (c === undefined) this.chunks[id >>> CHUNK_SHIFT] = c = newChunk();
    const i = id & (CHUNK - 1);
    if (c.memory[i] !== NONE) throw new Error(`folio ${id} already exists`);
    c.memory[i] = memory === "device" ? DEVICE : SYSTEM;
    c.order[i] = order;
    c.pagemap[i] = pagemap;
    c.pfn[i] = pfn;
    c.refcount[i] = 1;
    c.pincount[i] = 0;
    c.mapcount[i] = 0;
    c.lockOwner[i] = -1;
    c.zdd[i] = -1;
    c.page0Mapcount[i] = 0;
    c.page0Version[i] = 0;
    c.rmapMm[i] = -1;
    if (order !== 0) this.large.set(id, { mapcount: new Int32Array(nrPages(order)), version: new Float64Array(nrPages(order)) });
    c.allocated++;
    c.live++;
    this.liveCount++;
  }

  /** The folio returns to its allocator: its id is never live again. */
  remove(id: number): void {
    const ci = id >>> CHUNK_SHIFT;
    const c = this.chunkOf(id);
    c.memory[id & (CHUNK - 1)] = NONE;
    this.large.delete(id);
    this.rmapMore.delete(id);
    c.live--;
    this.liveCount--;
    if (c.live === 0 && c.allocated === CHUNK) this.chunks[ci] = undefined;
  }

  setRefcount(id: number, n: number): void {
    this.chunkOf(id).refcount[id & (CHUNK - 1)] = n;
  }
  setPincount(id: number, n: number): void {
    this.chunkOf(id).pincount[id & (CHUNK - 1)] = n;
  }
  setMapcount(id: number, n: number): void {
    this.chunkOf(id).mapcount[id & (CHUNK - 1)] = n;
  }
  setLockOwner(id: number, owner: number): void {
    this.chunkOf(id).lockOwner[id & (CHUNK - 1)] = owner;
  }
  setZdd(id: number, zdd: number): void {
    this.chunkOf(id).zdd[id & (CHUNK - 1)] = zdd;
  }
  setPageMapcount(id: number, index: number, n: number): void {
    if (index === 0) this.chunkOf(id).page0Mapcount[id & (CHUNK - 1)] = n;
    else this.largeOf(id, index).mapcount[index] = n;
  }
  setVersion(id: number, index: number, version: number): void {
    if (index === 0) this.chunkOf(id).page0Version[id & (CHUNK - 1)] = version;
    else this.largeOf(id, index).version[index] = version;
  }

  /** A large folio becomes order 0, keeping page 0's mapcount `mapcount0` and its version. */
  shrinkToOrder0(id: number, mapcount0: number): void {
    const c = this.chunkOf(id);
    const i = id & (CHUNK - 1);
    c.order[i] = 0;
    c.page0Mapcount[i] = mapcount0;
    this.large.delete(id);
  }

  /**
   * The reverse map (the kernel's anon rmap, folio_add_anon_rmap_pte / folio_remove_rmap_pte):
   * which present or device-private entries map the folio, so try_to_migrate and the MMU
   * notifiers find a folio's mappings without scanning every page table (a scan made each
   * eviction cost the whole address space). Migration entries are not mappings.
   */
  addMapping(id: number, mm: number, vpn: number): void {
    const c = this.chunkOf(id);
    const i = id & (CHUNK - 1);
    if (c.rmapMm[i] === -1) {
      c.rmapMm[i] = mm;
      c.rmapVpn[i] = vpn;
      return;
    }
    const more = this.rmapMore.get(id);
    if (more === undefined) this.rmapMore.set(id, [{ mm, vpn }]);
    else more.push({ mm, vpn });
  }

  /** Forgets the mapping; false when the rmap has none there (the caller's bug). */
  removeMapping(id: number, mm: number, vpn: number): boolean {
    const c = this.chunkOf(id);
    const i = id & (CHUNK - 1);
    if (c.mapcount[i] === 1 && c.rmapMm[i] === mm && c.rmapVpn[i] === vpn) {
      // The common case, an order-0 page mapped once, without consulting the overflow map: the
      // mapcount counts the rmap's mappings (applyKernelEvent lowers it after this call).
      c.rmapMm[i] = -1;
      return true;
    }
    const more = this.rmapMore.get(id);
    if (c.rmapMm[i] === mm && c.rmapVpn[i] === vpn) {
      // The first slot is refilled from the overflow, so it is empty only when no mapping is left.
      const last = more?.pop();
      c.rmapMm[i] = last === undefined ? -1 : last.mm;
      c.rmapVpn[i] = last === undefined ? 0 : last.vpn;
    } else {
      const at = more === undefined ? -1 : more.findIndex((m) => m.mm === mm && m.vpn === vpn);
      if (at < 0) return false;
      more!.splice(at, 1);
    }
    if (more !== undefined && more.length === 0) this.rmapMore.delete(id);
    return true;
  }

  /** Where the folio is mapped, ordered by mm, then vpn (a new array). */
  mappings(id: number): MappingSite[] {
    const c = this.chunkOf(id);
    const i = id & (CHUNK - 1);
    if (c.rmapMm[i] === -1) return [];
    const first = { mm: c.rmapMm[i]!, vpn: c.rmapVpn[i]! };
    const more = this.rmapMore.get(id);
    if (more === undefined) return [first];
    return [first, ...more].sort((a, b) => a.mm - b.mm || a.vpn - b.vpn);
  }

  private chunkOf(id: number): Chunk {
    const c = this.chunks[id >>> CHUNK_SHIFT];
    if (c === undefined || c.memory[id & (CHUNK - 1)] === NONE) throw new Error(`folio ${id} is not live`);
    return c;
  }

  private largeOf(id: number, index: number): LargePages {
    const pages = this.large.get(id);
    if (pages === undefined || index >= pages.version.length) throw new Error(`folio ${id}: no page ${index}`);
    return pages;
  }
}

/**
 * A read-only view of one folio: each property reads the table now, so a view held across a
 * change sees the change (as the one mutable object per folio did before). Reading a property
 * other than `freed` of a folio freed since throws.
 */
export class FolioView implements Readonly<FolioFields> {
  // The folio's chunk and slot, found once: ids are never reused, so they stay its own (a freed
  // folio's slot reads NONE; a released chunk is kept alive by the view and reads its last values).
  private readonly chunk: Chunk;
  private readonly slot: number;

  constructor(
    private readonly table: FolioTable,
    readonly id: number,
    chunk: Chunk,
  ) {
    this.chunk = chunk;
    this.slot = id & (CHUNK - 1);
  }
  get order(): FolioOrder {
    return this.live().order[this.slot] as FolioOrder;
  }
  get memory(): MemoryKind {
    return this.live().memory[this.slot] === DEVICE ? "device" : "system";
  }
  get pagemap(): number {
    return this.live().pagemap[this.slot]!;
  }
  get pfn(): number {
    return this.live().pfn[this.slot]!;
  }
  get refcount(): number {
    return this.live().refcount[this.slot]!;
  }
  get pincount(): number {
    return this.live().pincount[this.slot]!;
  }
  get mapcount(): number {
    return this.live().mapcount[this.slot]!;
  }
  get lockOwner(): number {
    return this.live().lockOwner[this.slot]!;
  }
  get zdd(): number {
    return this.live().zdd[this.slot]!;
  }
  /** Returned to its allocator: a freed folio must never be touched again. */
  get freed(): boolean {
    return this.chunk.memory[this.slot] === NONE;
  }
  /** Pages in the folio. */
  get nrPages(): number {
    return nrPages(this.order);
  }
  pageMapcount(index: number): number {
    return this.table.pageMapcount(this.id, index);
  }
  version(index: number): number {
    return this.table.version(this.id, index);
  }

  private live(): Chunk {
    if (this.chunk.memory[this.slot] === NONE) throw new Error(`folio ${this.id} is not live`);
    return this.chunk;
  }
}
