import { PAGE_SIZE } from "../kernel/constants.ts";
import type { KernelEvent } from "../kernel/events.ts";
import type { VmaKind } from "../kernel/state.ts";
import { LastWrites } from "./last-writes.ts";

/** A write that some read should have seen and did not, or a write that built on the wrong data. */
export interface VersionProblem {
  readonly mm: number;
  readonly vpn: number;
  readonly what: string;
  readonly expected: string;
  readonly found: string;
}

/** [start, end) of two processes that stay shared after a fork (MAP_SHARED and file mappings). */
interface ShareLink {
  readonly a: number;
  readonly b: number;
  readonly startVpn: number;
  readonly endVpn: number;
}

interface Vma {
  readonly startAddr: number;
  readonly endAddr: number;
  readonly kind: VmaKind;
}

/**
 * The lost-write check, from the log alone: a shadow of the last write each process made (or
 * inherited) at each page, rebuilt from page.write, mm.fork, mm.unmap and mm.move, against which
 * every page.read is checked. A read must see exactly the version of the last write its process
 * could see; a write must advance that version by one (a write on top of other data is a lost or
 * leaked write already). It knows nothing of folios, page tables or migrations: a model that
 * moves data wrongly shows up here however it got there. `pagesim run` and `pagesim verify` feed
 * it the same events, so both report the same first problem.
 */
export class WriteVersionCheck {
  private readonly shadow = new LastWrites();
  private readonly vmas = new Map<number, Map<number, Vma>>(); // mm → vma id → range and kind
  private links: ShareLink[] = [];

  /** Takes the next event of the log (any kind); returns the problem it shows, or null. */
  event(ev: { readonly kind: string }): VersionProblem | null {
    const e = ev as KernelEvent;
    switch (e.kind) {
      case "vma.insert":
        this.vmasOf(e.mm).set(e.vma, { startAddr: e.startAddr, endAddr: e.endAddr, kind: e.vmaKind });
        return null;
      case "vma.remove":
        this.vmasOf(e.mm).delete(e.vma);
        return null;
      case "mm.fork":
        this.fork(e.parent, e.mm);
        return null;
      case "mm.unmap":
        this.shadow.forget(e.mm, e.start, e.end - e.start);
        this.cutLinks(e.mm, e.start, e.end);
        return null;
      case "mm.move":
        this.shadow.move(e.mm, e.start, e.end - e.start, e.newStart);
        this.cutLinks(e.mm, e.start, e.end);
        this.cutLinks(e.mm, e.newStart, e.newStart + (e.end - e.start));
        return null;
      case "page.write":
        return this.write(e.mm, e.vpn, e.version);
      case "page.read":
        return this.read(e.mm, e.vpn, e.version);
      default:
        return null;
    }
  }

  /** The pages of `mm` that hold a write its process could see, with their versions (to read them back). */
  written(mm: number): [vpn: number, version: number][] {
    return [...this.shadow.written(mm)];
  }

  private write(mm: number, vpn: number, version: number): VersionProblem | null {
    const last = this.shadow.get(mm, vpn);
    const sharers = this.sharers(mm, vpn);
    for (const other of sharers) this.shadow.set(other, vpn, version);
    if (version === last + 1) return null;
    return { mm, vpn, what: `process mm ${mm} wrote 0x${(vpn * PAGE_SIZE).toString(16)} on top of data it never saw${this.whoseClue(mm, vpn, version - 1)}`, expected: `version ${last + 1} (its last write there left v${last})`, found: `version ${version}` };
  }

  private read(mm: number, vpn: number, version: number): VersionProblem | null {
    const last = this.shadow.get(mm, vpn);
    if (version === last) return null;
    return { mm, vpn, what: `process mm ${mm} read 0x${(vpn * PAGE_SIZE).toString(16)} and did not see the last write it could see${this.whoseClue(mm, vpn, version)}`, expected: `v${last}`, found: `v${version}` };
  }

  /** Which other process's last write at the page left the version seen: the likely leak. */
  private whoseClue(mm: number, vpn: number, version: number): string {
    const others = this.shadow.processes().filter((m) => m !== mm && this.shadow.get(m, vpn) === version && version !== 0);
    return others.length === 0 ? "" : ` (it saw what process mm ${others.join(", mm ")} last wrote there)`;
  }

  /** dup_mmap: the child sees the parent's data; shared and file mappings stay shared. */
  private fork(parent: number, child: number): void {
    this.shadow.copy(parent, child);
    for (const v of this.vmasOf(parent).values()) {
      if (v.kind === "anon-private") continue;
      this.links.push({ a: parent, b: child, startVpn: v.startAddr / PAGE_SIZE, endVpn: v.endAddr / PAGE_SIZE });
    }
  }

  /** Every process that sees mm's page vpn through a shared mapping after forks (mm itself included). */
  private sharers(mm: number, vpn: number): number[] {
    const seen = [mm];
    if (this.links.length === 0) return seen;
    for (let i = 0; i < seen.length; i++) {
      for (const l of this.links) {
        if (vpn < l.startVpn || vpn >= l.endVpn) continue;
        const other = l.a === seen[i] ? l.b : l.b === seen[i] ? l.a : -1;
        if (other !== -1 && !seen.includes(other)) seen.push(other);
      }
    }
    return seen;
  }

  /** mm's [start, end) is no longer shared with anyone (unmapped, or moved away). */
  private cutLinks(mm: number, start: number, end: number): void {
    if (this.links.length === 0) return;
    const s = start / PAGE_SIZE;
    const e = end / PAGE_SIZE;
    this.links = this.links.flatMap((l) => {
      if ((l.a !== mm && l.b !== mm) || l.endVpn <= s || e <= l.startVpn) return [l];
      const kept: ShareLink[] = [];
      if (l.startVpn < s) kept.push({ ...l, endVpn: s });
      if (e < l.endVpn) kept.push({ ...l, startVpn: e });
      return kept;
    });
  }

  private vmasOf(mm: number): Map<number, Vma> {
    let m = this.vmas.get(mm);
    if (m === undefined) this.vmas.set(mm, (m = new Map()));
    return m;
  }
}
