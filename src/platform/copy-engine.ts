import { Server, sleep, type Engine, type ProcessBody } from "../engine/index.ts";
import type { CopyDir } from "./copy-state.ts";
import type { PlatformEvent, WorldState } from "./events.ts";
import type { PlatformProfile } from "./profile.ts";

/** One copy: a physically contiguous run of device memory and its bytes. */
export interface CopyRun {
  firstPfn: number;
  bytes: number;
}

/**
 * The GPU's copy engine as xe_svm_copy drives it: one job per physically contiguous run of
 * device memory, split every maxJobBytes (XE_MIGRATE_CHUNK_SIZE), each costing a fixed latency
 * plus bytes over bandwidth. Jobs wait for one of `channels` channels in arrival order, so
 * GPU-fault migrations and evictions running at once queue behind each other. The submitting
 * thread sleeps until its last job's fence signals.
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

  /** Time one job of `bytes` occupies a channel. */
  jobNs(bytes: number): number {
    return Math.round(this.costs.latencyNs + (bytes * 1e9) / this.costs.bandwidthBytesPerSec);
  }

  /** Splits runs into jobs as xe_svm_copy does: a new job at every gap, and every maxJobBytes. */
  jobsFor(runs: CopyRun[]): number[] {
    const jobs: number[] = [];
    for (const run of runs) {
      for (let left = run.bytes; left > 0; left -= this.costs.maxJobBytes) jobs.push(Math.min(left, this.costs.maxJobBytes));
    }
    return jobs;
  }

  /** Submits the copy and waits for the last fence. */
  *copy(runs: CopyRun[], dir: CopyDir, now: () => number): ProcessBody<void> {
    for (const bytes of this.jobsFor(runs)) {
      const job = this.state.copy!.nextJob;
      this.commit({ kind: "copy.submit", job, bytes, dir });
      const queuedAt = now();
      yield this.channels.acquire();
      this.commit({ kind: "copy.start", job });
      const queuedNs = now() - queuedAt;
      const durationNs = this.jobNs(bytes);
      yield sleep(durationNs);
      this.channels.release();
      this.commit({ kind: "copy.job", job, bytes, queuedNs, durationNs, dir });
    }
  }
}

/** Groups device pfns (in copy order) into physically contiguous runs. */
export function contiguousRuns(pfns: readonly number[], pageBytes: number): CopyRun[] {
  const runs: CopyRun[] = [];
  for (const pfn of pfns) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last.firstPfn + last.bytes / pageBytes === pfn) last.bytes += pageBytes;
    else runs.push({ firstPfn: pfn, bytes: pageBytes });
  }
  return runs;
}
