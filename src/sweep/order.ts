import type { PlannedRun } from "./plan.ts";

/**
 * The order a sweep hands its runs to the workers: longest expected first (LPT), so that the
 * last runs to finish are short ones and no worker is left alone with a long run while the
 * others idle. Runs of the default study differ 90-fold in length (27 K to 2.5 M events), and
 * in plan order its last twelve runs were all among the longest.
 *
 * A run's expected cost is the events recorded by the completed runs most like it: those that
 * share the most coordinates with it (the workload, then each parameter's value; the
 * repetitions of one configuration share them all). Costs come from this sweep's results.sqlite
 * on --resume and from each run as it completes, so a fresh sweep starts in plan order and
 * reorders the rest of its queue as it learns. The cost is counted in events, not wall time,
 * because a run's event count is deterministic: the same completed runs always give the same
 * estimates. The order changes only when runs start, never what they compute.
 */
export class LongestFirstQueue {
  private readonly queued: QueuedRun[];

  /** `known`: runs of this sweep already completed, with the events each recorded. */
  constructor(runs: readonly PlannedRun[], known: readonly { run: PlannedRun; events: number }[] = []) {
    this.queued = runs.map((run) => ({ run, coords: coordinatesOf(run), similarity: -1, eventsSum: 0, count: 0 }));
    for (const k of known) this.learn(k.run, k.events);
  }

  get length(): number {
    return this.queued.length;
  }

  /** Takes the queued run with the largest expected cost (unknown costs: plan order). */
  next(): PlannedRun | undefined {
    let best = -1;
    let bestEvents = -1;
    for (let i = 0; i < this.queued.length; i++) {
      const q = this.queued[i]!;
      const events = q.count === 0 ? 0 : q.eventsSum / q.count;
      // Strictly greater: among equal estimates the earliest in plan order wins (the queue is
      // kept in plan order), so the order is a function of what has been learnt.
      if (events > bestEvents) {
        best = i;
        bestEvents = events;
      }
    }
    if (best < 0) return undefined;
    return this.queued.splice(best, 1)[0]!.run;
  }

  /**
   * A run completed having recorded `events`: every queued run that shares more coordinates
   * with it than with any run learnt so far takes its cost as the estimate; one that shares as
   * many averages it in. O(queued runs) per completion: 144 × 144 updates for the default study.
   */
  learn(run: PlannedRun, events: number): void {
    const coords = coordinatesOf(run);
    for (const q of this.queued) {
      const s = sharedCoordinates(q.coords, coords);
      if (s > q.similarity) {
        q.similarity = s;
        q.eventsSum = events;
        q.count = 1;
      } else if (s === q.similarity) {
        q.eventsSum += events;
        q.count++;
      }
    }
  }

  /** The events the queued runs are expected to record (0 for those nothing is known of yet). */
  expectedEvents(): number {
    let sum = 0;
    for (const q of this.queued) if (q.count > 0) sum += q.eventsSum / q.count;
    return sum;
  }
}

interface QueuedRun {
  run: PlannedRun;
  coords: string[];
  /** How many coordinates the runs its estimate comes from share with it (-1: none learnt). */
  similarity: number;
  eventsSum: number;
  count: number;
}

/** The workload, then each parameter as `name=value`, in name order. */
function coordinatesOf(run: PlannedRun): string[] {
  const names = Object.keys(run.params).sort();
  return [run.workload, ...names.map((n) => `${n}=${JSON.stringify(run.params[n])}`)];
}

/** Coordinates carry their parameter's name, and runs of one plan have the same names in the same order. */
function sharedCoordinates(a: string[], b: string[]): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) n++;
  return n;
}
