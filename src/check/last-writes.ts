import { PAGE_SIZE } from "../kernel/constants.ts";

/** Pages per block of the shadow: one 2 MiB stretch of address space. */
const BLOCK_PAGES = 512;

/**
 * A shadow of memory: the data version of the last completed write to each virtual page of each
 * process, which every later read is checked against (a read that sees another version is a lost
 * write; see write-versions.ts). Version 0 means never written; pages are kept in blocks of typed
 * arrays, freed when their last written page goes, so 4 M touched pages cost 8 B each rather
 * than a Map entry and a string key each (~100 B; issue #8's 16 M-page memory figure).
 */
export class LastWrites {
  /** mm → block number → versions of the block's pages. */
  private readonly mms = new Map<number, Map<number, { versions: Float64Array; written: number }>>();

  /** The version last written to page `vpn` of `mm`; 0 if never. */
  get(mm: number, vpn: number): number {
    const block = this.mms.get(mm)?.get(Math.floor(vpn / BLOCK_PAGES));
    return block === undefined ? 0 : block.versions[vpn % BLOCK_PAGES]!;
  }

  /** Records a completed write; version 0 forgets the page. */
  set(mm: number, vpn: number, version: number): void {
    let blocks = this.mms.get(mm);
    if (blocks === undefined) this.mms.set(mm, (blocks = new Map()));
    const key = Math.floor(vpn / BLOCK_PAGES);
    let block = blocks.get(key);
    if (block === undefined) {
      if (version === 0) return;
      blocks.set(key, (block = { versions: new Float64Array(BLOCK_PAGES), written: 0 }));
    }
    const i = vpn % BLOCK_PAGES;
    const was = block.versions[i]!;
    block.versions[i] = version;
    block.written += (version !== 0 ? 1 : 0) - (was !== 0 ? 1 : 0);
    if (block.written === 0) blocks.delete(key);
  }

  /** munmap: the range's pages are forgotten. */
  forget(mm: number, addr: number, sizeBytes: number): void {
    for (let a = addr; a < addr + sizeBytes; a += PAGE_SIZE) this.set(mm, Math.floor(a / PAGE_SIZE), 0);
  }

  /** mremap: each moved page's last write is found at its new address, and the old one is gone. */
  move(mm: number, addr: number, sizeBytes: number, newAddr: number): void {
    const first = Math.floor(addr / PAGE_SIZE);
    const count = sizeBytes / PAGE_SIZE;
    const delta = Math.floor(newAddr / PAGE_SIZE) - first;
    const moved: [number, number][] = [];
    for (let vpn = first; vpn < first + count; vpn++) {
      const v = this.get(mm, vpn);
      if (v !== 0) moved.push([vpn + delta, v]);
      this.set(mm, vpn, 0);
    }
    for (let vpn = first + delta; vpn < first + delta + count; vpn++) this.set(mm, vpn, 0);
    for (const [vpn, v] of moved) this.set(mm, vpn, v);
  }

  /** The pages of `mm` that hold a write, with its version. */
  *written(mm: number): Generator<[vpn: number, version: number]> {
    for (const [key, block] of this.mms.get(mm) ?? []) {
      for (let i = 0; i < BLOCK_PAGES; i++) if (block.versions[i] !== 0) yield [key * BLOCK_PAGES + i, block.versions[i]!];
    }
  }

  /** Every process that has a written page. */
  processes(): number[] {
    return [...this.mms.keys()].filter((mm) => this.mms.get(mm)!.size > 0);
  }

  /** fork: the child starts with the parent's memory, so with its last writes. */
  copy(fromMm: number, toMm: number): void {
    const from = this.mms.get(fromMm);
    if (from === undefined) return;
    const to = new Map<number, { versions: Float64Array; written: number }>();
    for (const [key, block] of from) to.set(key, { versions: block.versions.slice(), written: block.written });
    this.mms.set(toMm, to);
  }
}
