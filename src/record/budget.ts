/**
 * How far one run may go before it stops by itself: a typo (`pages: 5120000`) can otherwise write
 * hundreds of MB of log a second until the disk is full. Checked between slices of the run, so a
 * run passes a budget by at most one slice's events, or one Arrow batch (65,536 events) of bytes.
 */
export interface RunBudget {
  /** Events in the log; Infinity for no limit. */
  maxEvents: number;
  /** Bytes of events.arrow (events.sqlite, filled after the run, comes to about two thirds of it). */
  maxBytes: number;
}

/** At ~52 bytes an event, 4 GiB of Arrow log is ~80 M events: the event limit comes first unless a run's events are unusually wide. */
export const DEFAULT_BUDGET: RunBudget = { maxEvents: 20_000_000, maxBytes: 4 * 1024 ** 3 };

/** Where a run stood when it passed its budget (run.json `budget`). */
export interface BudgetStop {
  passed: "max-events" | "max-bytes";
  limit: number;
  events: number;
  bytes: number;
  endNs: number;
}

/** The budget a run has passed, or null while it is within both. */
export function passedBudget(budget: RunBudget, events: number, bytes: number): "max-events" | "max-bytes" | null {
  if (events > budget.maxEvents) return "max-events";
  if (bytes > budget.maxBytes) return "max-bytes";
  return null;
}

export const formatBytes = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`);

/**
 * Thrown by recordRun after it has saved a run that passed its budget (status "stopped: budget"):
 * the files hold every event up to the stop. Not a usage error: the CLI exits 1.
 */
export class RunBudgetError extends Error {
  override name = "RunBudgetError";
  constructor(
    readonly dir: string,
    readonly stop: BudgetStop,
    sqlitePending: boolean,
  ) {
    const limit = stop.passed === "max-events" ? `${stop.limit} events` : formatBytes(stop.limit);
    super(
      `${dir}: the run passed its --${stop.passed} budget (${limit}) and stopped after ${stop.events} events, ` +
        `${formatBytes(stop.bytes)} of log, ${(stop.endNs / 1e6).toFixed(3)} ms simulated; what it wrote is kept ` +
        `(run.json status "stopped: budget"); if the run is meant to be this large, raise the limit: ` +
        (stop.passed === "max-events" ? "--max-events N" : "--max-bytes SIZE (e.g. 20GB)") + " (pagesim run or pagesim sweep)" +
        `, or 0 for no limit` +
        (sqlitePending ? `; events.sqlite was not filled (pagesim sqlite ${dir} fills it)` : ""),
    );
  }
}
