/** run.json: what a run directory says of the run that wrote it. run-dir.ts writes it; verify, the SQLite fill and the CLI read it. */
import type { Workload } from "../workload/schema.ts";
import type { ThreadInfo } from "./recorder.ts";
import type { BudgetStop } from "./budget.ts";
import type { RunTimesliceParams } from "../workload/run-timeslice.ts";

export type SinkName = "arrow" | "sqlite";
export const SINK_NAMES: readonly SinkName[] = ["arrow", "sqlite"];

/** What run.json holds: everything needed to reproduce the run and to check its log. */
export interface RunManifest {
  pagesim: string;
  /** "stopped: budget": the run passed --max-events / --max-bytes (see `budget`); its files hold every event up to there. */
  status: "complete" | "interrupted" | "stopped: budget";
  workload: { name: string; file: string; description: string; overrides: Record<string, unknown>; resolved: Workload };
  seed: number;
  /** The run's resolved parameters, whichever way the workload set them (absent in older run.json files). */
  parameters?: RunTimesliceParams;
  variant: string;
  sinks: SinkName[];
  /**
   * With the sqlite sink: "pending" from the moment run.json is written (the Arrow log is complete,
   * events.sqlite is being filled from it) until the fill is done, then "complete". A fill cut short
   * leaves "pending": `pagesim sqlite RUN_DIR` or `pagesim verify RUN_DIR` fills it.
   */
  sqlite?: "pending" | "complete";
  events: number;
  endNs: number;
  /** Of the final model state (stateDigest): verify replays the log and must arrive at it. */
  digest: string;
  state: Record<string, number>;
  threads: ThreadInfo[];
  objects: string[];
  files: Record<string, { bytes: number }>;
  result: { steps: number; invariantsBroken: string[]; lostWrites: string[]; kernelBugs: string[]; failedSteps: string[]; contextViolations: number };
  /** The run's metrics by name (docs/metrics.md), as `pagesim metrics` recomputes them from events.arrow. */
  metrics: Record<string, number>;
  /** Only when status is "stopped: budget". */
  budget?: BudgetStop;
  reproduce: string;
}
