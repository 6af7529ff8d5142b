import { Server, sleep, type Engine, type ProcessBody } from "../engine/index.ts";
import { HPAGE_PMD_NR, PAGE_SIZE } from "../kernel/constants.ts";
import type { CopyDir } from "./copy-state.ts";
import type { PlatformEvent, WorldState } from "./events.ts";
import type { PlatformProfile } from "./profile.ts";

/** One 4 KiB device page handed to a copy, and the system entry it pairs with. */
export interface CopyPage {
  pfn: number;
  /** Order of the system folio the page's data comes from or goes to (9 for a 2 MiB THP). */
  systemOrder: number;
  /** The page is the first of that system folio (where drm_pagemap puts the folio's one address). */
  systemHead: boolean;
}

/** One copy: a physically contiguous run of device memory, page by page. */
export interface CopyRun {
  firstPfn: number;
  pages: CopyPage[];
}

/** One copy-engine job: its bytes and the system-side descriptors its batch writes. */
export interface CopyJob {
  bytes: number;
  descriptors: number;
}


/**
 * The GPU's copy engine as xe_svm_copy drives it: one job per physically contiguous run of
 * device memory, split every maxJobBytes (XE_MIGRATE_CHUNK_SIZE), each costing a fixed latency,
 * a cost per system-side descriptor (one PTE per 4 KiB system page, or one per 2 MiB system
 * folio: xe_migrate_vram) and bytes over the link's bandwidth. Jobs wait for one of `channels`
 * channels in arrival order, so GPU-fault migrations and evictions running at once queue behind
 * each other. The submitting thread sleeps until its last job's fence signals.
 */
export class CopyEngine {
  private readonly channels: Server;

  constructor(
    engine: Engine,
    private readonly costs: PlatformProfile["copy"],
    private readonly commit: (ev: PlatformEvent) => void,
    private readonly state: WorldState,
  ) {
    this.channels = new Server(engine, "copy-engine", costs.channels);
    commit({ kind: "copy.init", channels: costs.channels });
  }

  /** Time one job of `bytes` with `descriptors` system-side entries occupies a channel. */
  jobNs(bytes: number, descriptors: number): number {
    return Math.round(this.costs.latencyNs + descriptors * this.costs.descriptorNs + (bytes * 1e9) / this.costs.bandwidthBytesPerSec);
  }

  /** Splits runs into jobs as xe_svm_copy does: a new job at every gap, and every maxJobBytes. */
  jobsFor(runs: CopyRun[]): CopyJob[] {
    const jobs: CopyJob[] = [];
    const maxPages = Math.max(1, Math.floor(this.costs.maxJobBytes / PAGE_SIZE));
    for (const run of runs) {
      for (let at = 0; at < run.pages.length; at += maxPages) jobs.push(migrateVramJob(run.pages.slice(at, at + maxPages)));
    }
    return jobs;
  }

  /** Submits the copy and waits for the last fence. */
  *copy(runs: CopyRun[], dir: CopyDir, now: () => number): ProcessBody<void> {
    for (const { bytes, descriptors } of this.jobsFor(runs)) {
      const job = this.state.copy!.nextJob;
      this.commit({ kind: "copy.submit", job, bytes, dir });
      const queuedAt = now();
      yield this.channels.acquire();
      this.commit({ kind: "copy.start", job });
      const queuedNs = now() - queuedAt;
      const durationNs = this.jobNs(bytes, descriptors);
      yield sleep(durationNs);
      this.channels.release();
      this.commit({ kind: "copy.job", job, bytes, queuedNs, durationNs, dir });
    }
  }
}

/** xe_migrate_vram_use_pde: every 2 MiB step of the job starts a 2 MiB system folio. */
function usesLargeEntries(pages: readonly CopyPage[]): boolean {
  for (let i = 0; i < pages.length; i += HPAGE_PMD_NR) {
    const p = pages[i]!;
    if (!p.systemHead || p.systemOrder !== 9) return false;
  }
  return true;
}

/** xe_migrate_vram: one job; its batch maps the system side with 2 MiB entries when it can, else a PTE per 4 KiB page. */
function migrateVramJob(pages: readonly CopyPage[]): CopyJob {
  const descriptors = usesLargeEntries(pages) ? Math.ceil(pages.length / HPAGE_PMD_NR) : pages.length;
  return { bytes: pages.length * PAGE_SIZE, descriptors };
}

/** Groups device pages (in copy order) into physically contiguous runs. */
export function contiguousRuns(pages: readonly CopyPage[]): CopyRun[] {
  const runs: CopyRun[] = [];
  for (const page of pages) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last.firstPfn + last.pages.length === page.pfn) last.pages.push(page);
    else runs.push({ firstPfn: page.pfn, pages: [page] });
  }
  return runs;
}
