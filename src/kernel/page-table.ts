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

export interface PteState {
  kind: PteKind;
  folio: number;
  /** Page index inside the folio. */
  index: number;
}

/** PTRS_PER_PTE on x86-64. */
const PTRS_PER_PTE = 512;
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
}

export class PageTable {
  private readonly tables = new Map<number, Table>();
  private count = 0;
  // The table last looked up: a fault reads an entry's kind, folio and index in turn, and
  // neighbouring pages share a table (saves a Map lookup per read on the CPU fault path).
  private lastKey = -1;
  private lastTable: Table | undefined = undefined;

  /** Entries set. */
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
    const meta = t.meta[i]!;
    if (meta === 0) return undefined;
    return { kind: KINDS[meta & KIND_MASK]!, folio: t.folio[i]!, index: meta >>> KIND_BITS };
  }

  /** Writes the entry for `vpn`, over whatever was there. */
  set(vpn: number, kind: PteKind, folio: number, index: number): void {
    if (!(index >= 0 && index < PTRS_PER_PTE)) throw new RangeError(`page index ${index} does not fit an entry`);
    const key = Math.floor(vpn / PTRS_PER_PTE);
    let t = this.table(key);
    if (t === undefined) {
      t = { folio: new Int32Array(PTRS_PER_PTE), meta: new Uint16Array(PTRS_PER_PTE), entries: 0 };
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
      if (t !== undefined) {
        for (let i = vpn - key * PTRS_PER_PTE; vpn < tableEnd; i++, vpn++) if (t.meta[i] !== 0) return vpn;
      }
      vpn = tableEnd;
    }
    return -1;
  }

  /** Calls `fn` for every entry, in ascending vpn order. */
  forEach(fn: (vpn: number, kind: PteKind, folio: number, index: number) => void): void {
    for (const key of this.sortedKeys()) {
      const t = this.tables.get(key)!;
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

  private meta(vpn: number): number {
    const t = this.table(Math.floor(vpn / PTRS_PER_PTE));
    return t === undefined ? 0 : t.meta[vpn % PTRS_PER_PTE]!;
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
