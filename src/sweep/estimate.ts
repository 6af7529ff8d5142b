import { PAGE_SIZE } from "../kernel/constants.ts";
import type { SinkName } from "../record/run-dir.ts";
import type { Workload } from "../workload/schema.ts";

/**
 * A run's size, estimated from its workload before it runs (no simulation): what a sweep's plan
 * line shows and its guard checks. It is an estimate, good to within about ten times either way.
 *
 * Method: count the pages the workload's steps name, as loaded (replicas and patterns expanded):
 * an access counts its pages, and on a platform at least the platform's largest GPU chunk (the
 * first GPU touch of a range migrates that much, and a CPU touch of device pages brings it back);
 * populate counts its range, and mmap / munmap / mprotect / mremap their size. Multiply by
 * EVENTS_PER_PAGE, measured on the 26 bundled workloads (pagesim run, both sinks, 2026-12-05):
 * events / counted pages has median 11.8, from 0.2 (irq-frees-under-load, many accesses to pages
 * already in place) to 74 (timeslice-refault, the CPU re-faulting through a 5 ms timeslice). Log
 * bytes per event, measured on the 27 bundled workloads (both sinks, 2026-12-06, after issue #16
 * gave events.arrow its per-kind layout and logged an access that needs no fault as its page
 * event alone): median 53.1 for events.arrow (49.8 to 55.9; 114.7 for the smallest run, 637
 * events, where the schema and footer count) and 138.6 for events.sqlite (one wide table).
 */
export const EVENTS_PER_PAGE = 12;
export const LOG_BYTES_PER_EVENT: Record<SinkName, number> = { arrow: 53, sqlite: 139 };

export interface RunEstimate {
  events: number;
  /** Of the run directory's event logs, for the sweep's sinks (0 with `sinks: []`). */
  logBytes: number;
}

/** The pages a loaded workload's steps name, as the method above counts them. */
export function countedPages(workload: Workload): number {
  const chunkPages = workload.platformProfile === undefined ? 1 : Math.max(...workload.platformProfile.gpu.chunkSizes) / PAGE_SIZE;
  let pages = 0;
  for (const thread of workload.threads) {
    for (const step of thread.steps) {
      if (step.op === "read" || step.op === "write" || step.op === "atomic") pages += Math.max(step.pages, chunkPages);
      else if (step.op === "populate") pages += Math.max(0, step.end - step.start) / PAGE_SIZE;
      else if ("size" in step) pages += step.size / PAGE_SIZE;
      else pages += 1;
    }
  }
  return pages;
}

export function estimateRun(workload: Workload, sinks: readonly SinkName[]): RunEstimate {
  const events = countedPages(workload) * EVENTS_PER_PAGE;
  return { events, logBytes: events * sinks.reduce((sum, s) => sum + LOG_BYTES_PER_EVENT[s], 0) };
}
