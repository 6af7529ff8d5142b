import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { Worker } from "node:worker_threads";
import { startWorker } from "./start-worker.ts";
import type { RunBudget } from "../record/budget.ts";
import type { SinkName } from "../record/run-dir.ts";
import { WorkloadError } from "../workload/errors.ts";
import type { RunInputs } from "./inputs.ts";
import { LongestFirstQueue } from "./order.ts";
import { countPlan, labelCoverage, loadSweep, planSweep, settingsOf, shardOf, type PlannedRun } from "./plan.ts";
import { prepareRuns, type PreparedPlan } from "./prepare.ts";
import { decideResume, type ResumeDecision } from "./resume.ts";
import { SweepResults, readSweepMeta } from "./results.ts";
import { finishRunDirMoves } from "./run-dirs.ts";
import type { RunRequest, RunResult } from "./worker.ts";

export interface SweepOptions {
  file: string;
  outDir: string;
  /** Worker threads; each runs one simulation at a time. Default: the machine's cores. */
  jobs?: number;
  /**
   * Continue the sweep in outDir: keep the runs whose inputs (workload, platform profile,
   * parameters, seed, sinks, model) are unchanged, re-run changed ones, drop runs the plan no
   * longer has, run new ones.
   */
  resume?: boolean;
  /** Each run's --max-events / --max-bytes (recordRun's defaults when absent). */
  budget?: RunBudget;
  /** Sync each run's events.arrow at close (default true; --no-fsync: false). Not an input of a run: its files are the same. */
  fsync?: boolean;
  /** Run a plan past PLAN_LIMITS. */
  yes?: boolean;
  /** Called once the plan is known, before anything runs. */
  onPlan?: (plan: SweepPlan) => void;
  /** Run only the k-th of n disjoint slices (1-based). */
  shard?: { k: number; n: number };
  onProgress?: (p: SweepProgress) => void;
  /** Polled between runs: true stops dispatching new runs. */
  shouldStop?: () => boolean;
}

export interface SweepProgress {
  done: number;
  total: number;
  failed: number;
  eventsPerSec: number;
  etaSec: number;
  last?: string;
}

/** What a sweep is about to do: its runs, and the estimated size of those it will run. */
export interface SweepPlan {
  runs: number;
  toRun: number;
  kept: number;
  events: number;
  logBytes: number;
}

export interface SweepSummary {
  dir: string;
  planned: number;
  /** Runs kept from an earlier sweep (their inputs unchanged). */
  skipped: number;
  ran: number;
  failed: number;
  stopped: boolean;
  /** Of the runs to run: re-runs of recorded runs (changed or failed), by reason, and new ones. */
  rerun: number;
  rerunReasons: Map<string, number>;
  fresh: number;
  /** Recorded runs the plan no longer has, removed with their run directories. */
  removed: number;
}

/** The limits a plan must keep to unless `--yes` (README, --help): past them it is refused. */
export const PLAN_LIMITS = { runs: 100_000, events: 1e10, logBytes: 50e9 } as const;

/** Refuses a plan past a limit, naming the sweep file, what it would be and the limit passed. */
function refusePlan(file: string, what: string, limit: string): never {
  throw new WorkloadError(`${file}: the plan has ${what}, over the limit of ${limit}; nothing was run or written (pass --yes to run it anyway)`);
}

const fmtCount = (n: number): string => (n >= 1e9 ? `${Number((n / 1e9).toPrecision(3))} G` : n >= 1e6 ? `${Number((n / 1e6).toPrecision(3))} M` : n >= 1e3 ? `${Number((n / 1e3).toPrecision(3))} K` : String(Math.round(n)));
const fmtBytes = (b: number): string => (b >= 1e9 ? `${Number((b / 1e9).toPrecision(3))} GB` : b >= 1e6 ? `${Number((b / 1e6).toPrecision(3))} MB` : b >= 1e3 ? `${Number((b / 1e3).toPrecision(3))} kB` : `${Math.round(b)} B`);

/** The plan line: runs to run and kept, and the estimated events and log bytes of those to run. */
export function formatPlan(p: SweepPlan): string {
  const runs = `${p.runs} runs${p.kept > 0 ? ` (${p.toRun} to run, ${p.kept} kept)` : ""}`;
  return `plan: ${runs}; estimated ${fmtCount(p.events)} events and ${fmtBytes(p.logBytes)} of event logs to write (an estimate from the workloads' pages, docs/metrics.md)`;
}

/**
 * Opens results.sqlite of an earlier sweep in the same directory, finishes any run-directory
 * moves a crash cut short, and decides what to keep (src/sweep/resume.ts).
 */
function openEarlier(resultsPath: string, runsDir: string, plan: PreparedPlan): { results: SweepResults; decision: ResumeDecision } {
  const results = new SweepResults(resultsPath);
  try {
    finishRunDirMoves(results, runsDir);
    return { results, decision: decideResume(plan.runs, results.recordedRuns()) };
  } catch (error) {
    results.close();
    throw error;
  }
}

/**
 * `pagesim sweep`: counts the runs (refusing an absurd grid before listing it), plans them,
 * loads every workload with its parameters (bad input is found before anything is written),
 * estimates their size (refusing an absurd plan), then, on --resume, keeps the runs whose inputs
 * are unchanged and runs the rest on `jobs` worker threads. Each run is single-threaded and
 * deterministic, so results do not depend on `jobs`; each writes its own run directory under
 * runs/, and its rows go into results.sqlite when it completes.
 */
export async function runSweep(o: SweepOptions): Promise<SweepSummary> {
  const sweep = loadSweep(o.file);
  const size = countPlan(sweep, o.file);
  const shardRuns = o.shard === undefined ? size.runs : Math.ceil(size.runs / o.shard.n);
  if (shardRuns > PLAN_LIMITS.runs && o.yes !== true) {
    const n = (count: number, what: string): string => `${count.toLocaleString("en-US")} ${what}${count === 1 ? "" : "s"}`;
    const product = `${n(size.workloads, "workload")} × ${n(size.configurations, "configuration")} × ${n(size.repetitions, "repetition")}`;
    refusePlan(o.file, `${n(shardRuns, "run")} (${product}${o.shard === undefined ? "" : `, shard ${o.shard.k}/${o.shard.n}`})`, n(PLAN_LIMITS.runs, "run"));
  }
  let runs = planSweep(sweep, o.file);
  if (o.shard !== undefined) runs = shardOf(runs, o.shard.k, o.shard.n);
  const resultsPath = join(o.outDir, "results.sqlite");
  const runsDir = join(o.outDir, "runs");
  const resuming = existsSync(resultsPath);
  if (resuming && o.resume !== true) throw new WorkloadError(`${o.outDir}: holds an earlier sweep (results.sqlite); use --resume to continue it, or another --out`);
  const plan = prepareRuns(runs, o.file, sweep.sinks);
  const earlier = resuming ? openEarlier(resultsPath, runsDir, plan) : undefined;
  const decision = earlier?.decision ?? decideResume(plan.runs, []);
  const estimateOf = new Map(plan.runs.map((p) => [p.run.id, p.estimate]));
  const sized: SweepPlan = { runs: runs.length, toRun: decision.toRun.length, kept: decision.kept.length, events: 0, logBytes: 0 };
  for (const p of decision.toRun) {
    sized.events += estimateOf.get(p.run.id)!.events;
    sized.logBytes += estimateOf.get(p.run.id)!.logBytes;
  }
  if (o.yes !== true && (sized.events > PLAN_LIMITS.events || sized.logBytes > PLAN_LIMITS.logBytes)) {
    earlier?.results.close();
    if (sized.logBytes > PLAN_LIMITS.logBytes) refusePlan(o.file, `an estimated ${fmtBytes(sized.logBytes)} of event logs to write`, fmtBytes(PLAN_LIMITS.logBytes));
    refusePlan(o.file, `an estimated ${fmtCount(sized.events)} events to simulate`, `${fmtCount(PLAN_LIMITS.events)} events`);
  }
  o.onPlan?.(sized);
  mkdirSync(runsDir, { recursive: true });
  const results = earlier?.results ?? new SweepResults(resultsPath);
  if (earlier !== undefined) {
    results.reconcile(decision.dropped, decision.moved, decision.kept.map((k) => k.run));
    finishRunDirMoves(results, runsDir);
  }
  results.setMeta({ sweep_file: o.file, sweep_file_text: readFileSync(o.file, "utf8"), planned_runs: String(runs.length), shard: o.shard === undefined ? "" : `${o.shard.k}/${o.shard.n}`, labels: JSON.stringify(labelCoverage(sweep)) });
  const inputsOf = new Map(decision.toRun.map((p) => [p.run.id, p.inputs]));
  const queue = new LongestFirstQueue(
    decision.toRun.map((p) => p.run),
    decision.kept.map(({ run, from }) => ({ run, events: from.events })),
  );
  const summary: SweepSummary = {
    dir: o.outDir, planned: runs.length, skipped: decision.kept.length, ran: 0, failed: 0, stopped: false,
    rerun: decision.rerun, rerunReasons: decision.rerunReasons, fresh: decision.fresh, removed: decision.removed.length,
  };
  await runQueue(o, queue, results, summary, sweep.sinks, inputsOf);
  results.close();
  return summary;
}

/** Runs the queue on worker threads, recording each run as it completes. */
async function runQueue(o: SweepOptions, queue: LongestFirstQueue, results: SweepResults, summary: SweepSummary, sinks: SinkName[], inputsOf: Map<string, RunInputs & { runKey: string }>): Promise<void> {
  const queued = queue.length;
  const jobs = queued === 0 ? 0 : Math.max(1, Math.min(o.jobs ?? availableParallelism(), queued));
  const workers = Array.from({ length: jobs }, () => startWorker(import.meta.url, "worker"));
  const startedAt = performance.now();
  let events = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let active = 0;
      if (queued === 0) return resolve();
      const dispatch = (worker: Worker): void => {
        if (queue.length === 0 || o.shouldStop?.() === true) {
          if (queue.length > 0) summary.stopped = true;
          void worker.terminate();
          active--;
          if (active === 0) resolve();
          return;
        }
        const run = queue.next()!;
        // The worker applies the run's settings; its labels are recorded here, not applied (plan.ts).
        const request: RunRequest = { run: { ...run, params: settingsOf(run.params) }, outDir: join(o.outDir, "runs", run.id), sinks, ...(o.budget === undefined ? {} : { budget: o.budget }), ...(o.fsync === false ? { fsync: false } : {}) };
        worker.once("message", (result: RunResult) => {
          try {
            results.record(run, result, inputsOf.get(run.id));
          } catch (error) {
            reject(error);
            return;
          }
          summary.ran++;
          if (result.status !== "complete") summary.failed++;
          else queue.learn(run, result.events);
          events += result.events;
          const elapsed = (performance.now() - startedAt) / 1000;
          // Longest first, runs/s falls as the sweep goes on: the ETA is counted in expected events.
          const eventsPerSec = elapsed > 0 ? events / elapsed : 0;
          o.onProgress?.({
            done: summary.skipped + summary.ran,
            total: summary.planned,
            failed: summary.failed,
            eventsPerSec,
            etaSec: eventsPerSec > 0 ? queue.expectedEvents() / eventsPerSec : 0,
            last: `${run.id} ${run.workloadName} ${result.status}${result.error === undefined ? "" : `: ${result.error.split("\n")[0]}`}`,
          });
          dispatch(worker);
        });
        worker.postMessage(request);
      };
      for (const worker of workers) {
        worker.on("error", reject);
        active++;
        dispatch(worker);
      }
    });
  } finally {
    for (const w of workers) void w.terminate();
  }
}

/** `pagesim merge OUT SHARD_DIR…`: joins shard directories' results (and run directories) into one. */
export function mergeSweeps(outDir: string, shardDirs: string[], copyRunDir: (from: string, to: string) => void): number {
  mkdirSync(join(outDir, "runs"), { recursive: true });
  const results = new SweepResults(join(outDir, "results.sqlite"));
  let n = 0;
  try {
    const metas: Record<string, string>[] = [];
    for (const dir of shardDirs) {
      const path = join(dir, "results.sqlite");
      if (!existsSync(path)) throw new WorkloadError(`${dir}: not a sweep directory (no results.sqlite)`);
      n += results.mergeFrom(path);
      metas.push(readSweepMeta(path));
      copyRunDir(join(dir, "runs"), join(outDir, "runs"));
    }
    results.setMeta(mergedPlan(metas));
  } finally {
    results.close();
  }
  return n;
}

/**
 * What the merged directory plans: the shards' planned runs added up (shards partition the plan;
 * a shard given twice counts once), and no shard label once shards 1..N of one N are all there
 * (it is the whole sweep, as a single machine's would say), else the labels of those merged.
 */
function mergedPlan(metas: Record<string, string>[]): { planned_runs: string; shard: string } {
  const plannedByShard = new Map(metas.map((m) => [m.shard ?? "", Number(m.planned_runs ?? 0)]));
  const planned = [...plannedByShard.values()].reduce((sum, runs) => sum + runs, 0);
  const labels = [...plannedByShard.keys()].filter((l) => l !== "").sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  const counts = new Set(labels.map((l) => l.split("/")[1]));
  const whole = labels.length === 0 || (counts.size === 1 && labels.length === Number([...counts][0]));
  return { planned_runs: String(planned), shard: whole ? "" : labels.join(",") };
}

export type { PlannedRun };
