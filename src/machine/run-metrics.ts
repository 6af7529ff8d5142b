import { WriteVersionCheck } from "../check/write-versions.ts";
import type { ModelEvent } from "../pagemap/events.ts";
import type { MetricEvent } from "./events.ts";
import { PlatformFold, type GpuFaultReport, type PlatformStats } from "./platform-figures.ts";
import { WorkFold, type WorkStats } from "./work-figures.ts";

export type { MetricEvent } from "./events.ts";

/** What a run's log says it did: every figure of docs/metrics.md that comes from events. */
export interface RunFigures {
  endNs: number;
  events: number;
  /** Workload steps that returned (step.end). */
  steps: number;
  work: WorkStats;
  gpuFaults: GpuFaultReport[];
  /** Platform runs only (the log has copy.init). */
  platformStats: PlatformStats | null;
  /** Reads that did not see the last write to their page (and writes on top of data their process never saw). */
  lostWrites: string[];
  /** kernel.bug events: where the modelled kernel would oops or corrupt memory. */
  kernelBugs: string[];
}

export interface RunMetricsOptions {
  /** A thread's name, for the GPU fault table and the lost-write messages. */
  threadName: (uid: number) => string;
}

/**
 * The one reader of a run's log that turns it into the run's metrics: a fold over its events in
 * order. `pagesim run` feeds it live from the log's listeners; `pagesim metrics` feeds it the
 * rows of events.arrow. Nothing else counts: every figure follows from the events it was given.
 */
export class RunMetrics {
  private readonly work = new WorkFold();
  private readonly platform: PlatformFold;
  private readonly writes = new WriteVersionCheck();
  private readonly lostWrites: string[] = [];
  private readonly kernelBugs: string[] = [];
  private steps = 0;

  constructor(private readonly options: RunMetricsOptions) {
    this.platform = new PlatformFold(options.threadName);
  }

  /** Folds in one event (engine events carry nothing the metrics read: leave them out). */
  event(seq: number, tNs: number, thread: number, ctx: string, ev: MetricEvent): void {
    const lost = this.writes.event(ev as ModelEvent);
    if (lost !== null) this.lostWrites.push(`seq ${seq}, ${this.options.threadName(thread)}: ${lost.what}: expected ${lost.expected}, found ${lost.found}`);
    if (ev.kind === "kernel.bug") this.kernelBugs.push(`${tNs} ns, ${ev.fn}: ${ev.what}`);
    else if (ev.kind === "step.end") this.steps++;
    this.work.event(seq, tNs, thread, ctx, ev);
    this.platform.event(tNs, thread, ctx, ev);
  }

  /** The figures of a log of `events` events (engine events included) whose run ended at `endNs`. */
  result(endNs: number, events: number): RunFigures {
    return {
      endNs, events, steps: this.steps,
      work: this.work.result(endNs),
      gpuFaults: this.platform.gpuFaults,
      platformStats: this.platform.result(endNs),
      lostWrites: this.lostWrites,
      kernelBugs: this.kernelBugs,
    };
  }
}
