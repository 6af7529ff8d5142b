/**
 * One mm's page table entries, keyed by virtual page number. As in the kernel, entries live in
 * tables of PTRS_PER_PTE (512) covering 2 MiB each, allocated when their first entry is set and
 * freed with their last; an entry is two numbers in typed arrays, not an object (a Map entry and
 * an object per page cost ~130 B a page; these 6 B, issue #8's 16 M-page memory figure). Lookups
 * never allocate through kind/folio/index; get() returns a fresh snapshot, as the old
 * immutable entry objects were.
 *
 * Only applyKernelEvent writes it (set, delete).
 */
export type PteKind = "present" | "device-private" | "migration";

/** A PMD leaf: one entry mapping a whole order-9 folio over its 2 MiB block. */
export interface PmdState {
  kind: PteKind;
  folio: number;
}

export interface PteState {
  kind: PteKind;
  folio: number;
  /** Page index inside the folio. */
  index: number;
}

/** PTRS_PER_PTE on x86-64; also the pages a PMD maps. */
export const PTRS_PER_PTE = 512;
const KIND_BITS = 2;
const KIND_MASK = (1 << KIND_BITS) - 1;
/** Kind codes in `meta`'s low bits; 0 is an empty entry. */
const KINDS: readonly (PteKind | undefined)[] = [undefined, "present", "device-private", "migration"];
const KIND_CODE: Record<PteKind, number> = { present: 1, "device-private": 2, migration: 3 };

interface Table {
  folio: Int32Array;
  /** kind code | page index << KIND_BITS; 0 for no entry. */
  meta: Uint16Array;
  entries: number;
  /**
   * A PMD leaf over the whole block (kind code, 0 for none), which excludes PTEs: the block's
   * pages read as page i of `pmdFolio` through it, as a PMD-mapped THP reads in the kernel.
   */
  pmdKind: number;
  pmdFolio: number;
}

export class PageTable {
  private readonly tables = new Map<number, Table>();
  private count = 0;
  // The table last looked up: a fault reads an entry's kind, folio and index in turn, and
  // neighbouring pages share a table (saves a Map lookup per read on the CPU fault path).
  private lastKey = -1;
  private lastTable: Table | undefined = undefined;

  /** Pages mapped: PTEs set, plus 512 for each PMD leaf. */
  get size(): number {
    return this.count;
  }

  has(vpn: number): boolean {
    return this.meta(vpn) !== 0;
  }

  /** The entry's kind, or undefined for none. */
  kind(vpn: number): PteKind | undefined {
    return KINDS[this.meta(vpn) & KIND_MASK];
  }

  /** The folio the entry names; -1 for none. */
  folio(vpn: number): number {
    const t = this.table(Math.floor(vpn / PTRS_PER_PTE));
    if (t === undefined) return -1;
    if (t.pmdKind !== 0) return t.pmdFolio;
    const i = vpn % PTRS_PER_PTE;
    return t.meta[i] === 0 ? -1 : t.folio[i]!;
  }

  /** The page index inside the folio the entry names; -1 for none. */
  index(vpn: number): number {
    const meta = this.meta(vpn);
    return meta === 0 ? -1 : meta >>> KIND_BITS;
  }

  /** A snapshot of the entry, or undefined for none. */
  get(vpn: number): PteState | undefined {
    const t = this.table(Math.floor(vpn / PTRS_PER_PTE));
    if (t === undefined) return undefined;
    const i = vpn % PTRS_PER_PTE;
    if (t.pmdKind !== 0) return { kind: KINDS[t.pmdKind]!, folio: t.pmdFolio, index: i };
    const meta = t.meta[i]!;
    if (meta === 0) return undefined;
    return { kind: KINDS[meta & KIND_MASK]!, folio: t.folio[i]!, index: meta >>> KIND_BITS };
  }

  /** The PMD leaf over the block holding `vpn`, or undefined (none, or a PTE table). */
  pmd(vpn: number): PmdState | undefined {
    const t = this.table(Math.floor(vpn / PTRS_PER_PTE));
    return t === undefined || t.pmdKind === 0 ? undefined : { kind: KINDS[t.pmdKind]!, folio: t.pmdFolio };
  }

  /** Writes the PMD leaf of the block holding `vpn` (over a leaf, or an empty block only). */
  setPmd(vpn: number, kind: PteKind, folio: number): void {
    const key = Math.floor(vpn / PTRS_PER_PTE);
    let t = this.table(key);
    if (t !== undefined && t.entries !== 0) throw new RangeError(`vpn ${vpn}: a PMD leaf over a block with PTEs`);
    if (t === undefined) {
      t = newTable();
      this.tables.set(key, t);
      this.lastKey = key;
      this.lastTable = t;
    }
    if (t.pmdKind === 0) this.count += PTRS_PER_PTE;
    t.pmdKind = KIND_CODE[kind];
    t.pmdFolio = folio;
  }

  /** Clears the PMD leaf of the block holding `vpn`; returns whether there was one. */
  clearPmd(vpn: number): boolean {
    const key = Math.floor(vpn / PTRS_PER_PTE);
    const t = this.table(key);
    if (t === undefined || t.pmdKind === 0) return false;
    this.count -= PTRS_PER_PTE;
    this.tables.delete(key);
    if (this.lastKey === key) this.lastTable = undefined;
    return true;
  }

  /** Calls `fn` for every PMD leaf, in ascending order of its block's first vpn. */
  forEachPmd(fn: (vpn: number, kind: PteKind, folio: number) => void): void {
    for (const key of this.sortedKeys()) {
      const t = this.tables.get(key)!;
      if (t.pmdKind !== 0) fn(key * PTRS_PER_PTE, KINDS[t.pmdKind]!, t.pmdFolio);
    }
  }

  /** Writes the entry for `vpn`, over whatever was there. */
  set(vpn: number, kind: PteKind, folio: number, index: number): void {
    if (!(index >= 0 && index < PTRS_PER_PTE)) throw new RangeError(`page index ${index} does not fit an entry`);
    const key = Math.floor(vpn / PTRS_PER_PTE);
    let t = this.table(key);
    if (t !== undefined && t.pmdKind !== 0) throw new RangeError(`vpn ${vpn}: a PTE under a PMD leaf`);
    if (t === undefined) {
      t = newTable();
      this.tables.set(key, t);
      this.lastKey = key;
      this.lastTable = t;
    }
    const i = vpn % PTRS_PER_PTE;
    if (t.meta[i] === 0) {
      t.entries++;
      this.count++;
    }
    t.folio[i] = folio;
    t.meta[i] = KIND_CODE[kind] | (index << KIND_BITS);
  }

  /** Clears the entry; returns whether there was one. */
  delete(vpn: number): boolean {
    const key = Math.floor(vpn / PTRS_PER_PTE);
    const t = this.table(key);
    if (t === undefined) return false;
    if (t.pmdKind !== 0) throw new RangeError(`vpn ${vpn}: a PTE cleared under a PMD leaf`);
    const i = vpn % PTRS_PER_PTE;
    if (t.meta[i] === 0) return false;
    t.meta[i] = 0;
    t.folio[i] = 0;
    this.count--;
    if (--t.entries === 0) {
      this.tables.delete(key);
      if (this.lastKey === key) this.lastTable = undefined;
    }
    return true;
  }

  /**
   * The first vpn in [fromVpn, endVpn) that has an entry, or -1: a walk over a range visits only
   * the tables that exist (walk_page_range skips empty page tables), so tearing down a 64 GiB
   * mapping costs its entries, not its 16 M pages.
   */
  nextVpn(fromVpn: number, endVpn: number): number {
    let vpn = fromVpn;
    while (vpn < endVpn) {
      const key = Math.floor(vpn / PTRS_PER_PTE);
      const t = this.table(key);
      const tableEnd = Math.min((key + 1) * PTRS_PER_PTE, endVpn);
      if (t !== undefined && t.pmdKind !== 0) return vpn;
      if (t !== undefined) {
        for (let i = vpn - key * PTRS_PER_PTE; vpn < tableEnd; i++, vpn++) if (t.meta[i] !== 0) return vpn;
      }
      vpn = tableEnd;
    }
    return -1;
  }

  /** Calls `fn` for every page mapped (a PMD leaf's 512 pages each), in ascending vpn order. */
  forEach(fn: (vpn: number, kind: PteKind, folio: number, index: number) => void): void {
    for (const key of this.sortedKeys()) {
      const t = this.tables.get(key)!;
      if (t.pmdKind !== 0) {
        for (let i = 0; i < PTRS_PER_PTE; i++) fn(key * PTRS_PER_PTE + i, KINDS[t.pmdKind]!, t.pmdFolio, i);
        continue;
      }
      for (let i = 0; i < PTRS_PER_PTE; i++) {
        const meta = t.meta[i]!;
        if (meta !== 0) fn(key * PTRS_PER_PTE + i, KINDS[meta & KIND_MASK]!, t.folio[i]!, meta >>> KIND_BITS);
      }
    }
  }

  /** The vpns that have an entry, ascending. */
  keys(): number[] {
    const out: number[] = [];
    this.forEach((vpn) => out.push(vpn));
    return out;
  }

  /** Every entry as [vpn, snapshot], ascending by vpn (allocates one object an entry). */
  entries(): [number, PteState][] {
    const out: [number, PteState][] = [];
    this.forEach((vpn, kind, folio, index) => out.push([vpn, { kind, folio, index }]));
    return out;
  }

  /** The entries' snapshots, ascending by vpn. */
  values(): PteState[] {
    return this.entries().map(([, pte]) => pte);
  }

  /** Calls `fn` for every PTE (not the pages of PMD leaves), in ascending vpn order. */
  forEachPte(fn: (vpn: number, kind: PteKind, folio: number, index: number) => void): void {
    for (const key of this.sortedKeys()) {
      const t = this.tables.get(key)!;
      for (let i = 0; i < PTRS_PER_PTE && t.pmdKind === 0; i++) {
        const meta = t.meta[i]!;
        if (meta !== 0) fn(key * PTRS_PER_PTE + i, KINDS[meta & KIND_MASK]!, t.folio[i]!, meta >>> KIND_BITS);
      }
    }
  }

  private meta(vpn: number): number {
    const t = this.table(Math.floor(vpn / PTRS_PER_PTE));
    if (t === undefined) return 0;
    // A leaf reads as the entry a PTE for page i of its folio would be.
    if (t.pmdKind !== 0) return t.pmdKind | ((vpn % PTRS_PER_PTE) << KIND_BITS);
    return t.meta[vpn % PTRS_PER_PTE]!;
  }

  private table(key: number): Table | undefined {
    if (key === this.lastKey) return this.lastTable;
    const t = this.tables.get(key);
    this.lastKey = key;
    this.lastTable = t;
    return t;
  }

  private sortedKeys(): number[] {
    return [...this.tables.keys()].sort((a, b) => a - b);
  }
}

function newTable(): Table {
  return { folio: new Int32Array(PTRS_PER_PTE), meta: new Uint16Array(PTRS_PER_PTE), entries: 0, pmdKind: 0, pmdFolio: 0 };
}
