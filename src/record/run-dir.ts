import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { stateDigest, stateSummary } from "../check/digest.ts";
import type { Workload } from "../workload/schema.ts";
import { WorkloadRun, type RunReport } from "../workload/run.ts";
import { ArrowEventWriter } from "./arrow-file.ts";
import { EventRecorder, type ThreadInfo } from "./recorder.ts";
import { DEFAULT_BUDGET, passedBudget, RunBudgetError, type BudgetStop, type RunBudget } from "./budget.ts";
import type { RunManifest, SinkName } from "./manifest.ts";
import { removeStaleFiles, RunDirError, writeManifest } from "./run-files.ts";
import { fillRunSqlite } from "./sqlite-fill.ts";
import { safeName } from "./out-dir.ts";
import { pagesimVersion } from "./version.ts";
import { runTimeslice } from "../workload/run-timeslice.ts";

export { SINK_NAMES, type RunManifest, type SinkName } from "./manifest.ts";

export interface RecordOptions {
  /** The workload file, as the user named it. */
  file: string;
  workload: Workload;
  seed?: number;
  /** Default: results/<workload name>/seed-<seed>. */
  outDir?: string;
  sinks: readonly SinkName[];
  /** The --set / sweep overrides the workload was loaded with (recorded, and in the reproduce line). */
  overrides?: Record<string, unknown>;
  /** Process resumptions between looks at the clock (to let Node's event loop run). */
  sliceSteps?: number;
  /** Polled between slices: true stops the run early, keeping what it has (SIGINT/SIGTERM). */
  shouldStop?: () => boolean;
  /** Default DEFAULT_BUDGET (for every caller: `pagesim run` and each sweep run alike). */
  budget?: Partial<RunBudget>;
  /** Sync events.arrow before it is renamed into place (default true; --no-fsync skips it). */
  fsync?: boolean;
  /** Told the path of each temporary file a killed run left in the directory, as it is removed. */
  onStaleRemoved?: (path: string, bytes: number) => void;
  /** Called once run.json and events.arrow have their final names, before SQLite is filled. */
  onSqliteFill?: (dir: string) => void;
}

export interface RecordResult {
  dir: string;
  report: RunReport;
  manifest: RunManifest;
}

export function defaultRunDir(file: string, seed: number): string {
  return join("results", safeName(file), `seed-${seed}`);
}

/**
 * Runs one workload and writes its run directory: events.arrow, a copy of the workload and
 * run.json, each under a temporary name renamed when whole (run.json last); then, with the sqlite
 * sink, events.sqlite, filled from the Arrow log. So a kill during the long SQLite fill (a second
 * Ctrl-C) loses nothing: run.json says the SQLite log is pending and `pagesim sqlite` fills it.
 * A run that passes its budget is saved the same way (without the SQLite fill) and throws
 * RunBudgetError.
 */
export async function recordRun(o: RecordOptions): Promise<RecordResult> {
  const seed = o.seed ?? o.workload.seed;
  const dir = o.outDir ?? defaultRunDir(o.file, seed);
  mkdirSync(dir, { recursive: true });
  for (const { name, bytes } of removeStaleFiles(dir)) o.onStaleRemoved?.(join(dir, name), bytes);
  const budget = { ...DEFAULT_BUDGET, ...o.budget };
  const wantLog = o.sinks.length > 0;
  // With SQLite alone, the Arrow log is still the intermediate: SQLite is filled from it after the run.
  const arrowPath = join(dir, "events.arrow");
  let writer: ArrowEventWriter | null = null;
  let recorder: EventRecorder | null = null;
  const run = new WorkloadRun(o.workload, seed, {
    onLog: (log) => {
      if (!wantLog) return;
      writer = new ArrowEventWriter(arrowPath, { fsync: o.fsync ?? true });
      recorder = new EventRecorder(log.state, [writer]);
      log.subscribe(recorder);
    },
  });
  watchBudget(run, recorder, writer, budget);
  let stop: "interrupted" | BudgetStop | null;
  try {
    stop = await runSlices(run, o, budget, () => (writer as ArrowEventWriter | null)?.bytesWritten ?? 0);
  } catch (error) {
    // Every event up to the throw was applied and recorded (no model code catches or has finally blocks): the log and state agree.
    const passed = error instanceof BudgetPassed ? error : (error as { cause?: unknown }).cause;
    if (passed instanceof BudgetPassed) stop = passed.stop;
    else {
      (writer as ArrowEventWriter | null)?.abort();
      throw error;
    }
  }
  const finalRecorder = recorder as EventRecorder | null;
  if (finalRecorder !== null) finalRecorder.afterFlush = null; // the run is over: the last rows are written whatever the budget
  finalRecorder?.flush();
  const finalWriter = writer as ArrowEventWriter | null;
  const arrowBytes = finalWriter?.close(false) ?? 0;
  const status = stop === null ? "complete" : stop === "interrupted" ? "interrupted" : "stopped: budget";
  const report = run.report();
  const manifest = runManifest(o, dir, seed, run, report, (recorder as EventRecorder | null)?.threads ?? [], status);
  if (typeof stop === "object" && stop !== null) manifest.budget = { ...stop, bytes: arrowBytes };
  if (finalWriter !== null) manifest.files["events.arrow"] = { bytes: arrowBytes };

  // Every file is completed under a temporary name first and the renames come together, run.json
  // last, so a kill at any moment leaves each final name with a whole file.
  const renames: [string, string][] = [];
  if (finalWriter !== null) renames.push([finalWriter.tmpPath, arrowPath]);
  copyFileSync(o.file, join(dir, "workload.yaml.tmp"));
  renames.push([join(dir, "workload.yaml.tmp"), join(dir, "workload.yaml")]);
  for (const [from, to] of renames) renameSync(from, to);
  writeManifest(dir, manifest);
  // A file the previous run in this directory wrote but this one did not would contradict run.json.
  for (const stale of ["events.arrow", "events.sqlite"]) if (manifest.files[stale] === undefined) rmSync(join(dir, stale), { force: true });
  if (manifest.budget !== undefined) throw new RunBudgetError(dir, manifest.budget, manifest.sqlite === "pending");
  if (manifest.sqlite !== "pending") return { dir, report, manifest };
  o.onSqliteFill?.(dir);
  return { dir, report, manifest: (await fillRunSqlite(dir, manifest)).manifest };
}

/**
 * One step can write millions of events (a `pages:` typo) before the slice loop looks: check the
 * budget as rows are written, and stop the run from inside by throwing through it. Installed once
 * the world is set up, so that set-up is never cut short.
 */
function watchBudget(run: WorkloadRun, recorder: EventRecorder | null, writer: ArrowEventWriter | null, budget: RunBudget): void {
  if (recorder === null || writer === null) return;
  recorder.rowLimit = budget.maxEvents;
  recorder.afterFlush = () => {
    const passed = passedBudget(budget, run.world.log.length, writer.bytesWritten);
    if (passed !== null) throw new BudgetPassed(budgetStop(passed, budget, run, writer.bytesWritten));
  };
}

/** Advances the run slice by slice until it ends, is asked to stop, or passes its budget. */
async function runSlices(run: WorkloadRun, o: RecordOptions, budget: RunBudget, logBytes: () => number): Promise<"interrupted" | BudgetStop | null> {
  // Node runs signal handlers only between tasks: give it a turn every ~50 ms of wall time.
  let lastYield = performance.now();
  while (!run.advance(o.sliceSteps ?? 1000)) {
    const events = run.world.log.length;
    const passed = passedBudget(budget, events, logBytes());
    if (passed !== null) return budgetStop(passed, budget, run, logBytes());
    if (performance.now() - lastYield < 50) continue;
    await yieldToEventLoop();
    lastYield = performance.now();
    if (o.shouldStop?.() === true) return "interrupted";
  }
  return null;
}

function budgetStop(passed: BudgetStop["passed"], budget: RunBudget, run: WorkloadRun, bytes: number): BudgetStop {
  return { passed, limit: passed === "max-events" ? budget.maxEvents : budget.maxBytes, events: run.world.log.length, bytes, endNs: run.world.engine.nowNs };
}

/** Thrown from inside the run (the recorder's batch hook) to stop it where it stands. */
class BudgetPassed extends Error {
  constructor(readonly stop: BudgetStop) {
    super(`passed --${stop.passed}`);
  }
}

/** run.json for the run as it stands; files lists events.arrow once the caller adds it. */
function runManifest(o: RecordOptions, dir: string, seed: number, run: WorkloadRun, report: RunReport, threads: ThreadInfo[], status: RunManifest["status"]): RunManifest {
  const w = run.world;
  return {
    pagesim: pagesimVersion(),
    status,
    workload: { name: basename(o.file, extname(o.file)), file: o.file, description: o.workload.description, overrides: o.overrides ?? {}, resolved: o.workload },
    seed,
    parameters: runTimeslice(o.workload),
    variant: o.workload.model.variant,
    sinks: [...o.sinks],
    ...(o.sinks.includes("sqlite") ? { sqlite: "pending" as const } : {}),
    events: w.log.length,
    endNs: w.engine.nowNs,
    digest: stateDigest(w.p.state),
    state: stateSummary(w.p.state),
    threads,
    objects: [...w.engine.objectNames()],
    files: {},
    result: {
      steps: report.steps.length,
      invariantsBroken: report.invariants,
      lostWrites: report.lostWrites,
      kernelBugs: report.kernelBugs,
      failedSteps: report.failedSteps,
      contextViolations: report.contextViolations.length,
    },
    metrics: report.metrics,
    reproduce: [`pagesim run ${join(dir, "workload.yaml")}`, ...Object.entries(o.overrides ?? {}).filter(([k]) => k !== "seed").map(([k, v]) => `--set ${k}=${JSON.stringify(v)}`), `--seed ${seed} --out ${dir}`].join(" "),
  };
}

/** Reads a run directory's run.json, saying what is wrong when it cannot. */
export function runDirFiles(dir: string): { manifest: string; arrow: string; sqlite: string } {
  const manifest = join(dir, "run.json");
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RunDirError(`${dir}: not a run directory (no such directory)`);
  if (!existsSync(manifest)) throw new RunDirError(`${dir}: not a run directory (no run.json)`);
  return { manifest, arrow: join(dir, "events.arrow"), sqlite: join(dir, "events.sqlite") };
}

export { RunDirError };
