import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { WorkloadError } from "../workload/errors.ts";
import { loadWorkload } from "../workload/load.ts";
import { LongestFirstQueue } from "./order.ts";
import { loadSweep, planSweep, shardOf, type PlannedRun } from "./plan.ts";
import { SweepResults, readSweepMeta } from "./results.ts";
import type { RunRequest, RunResult } from "./worker.ts";

export interface SweepOptions {
  file: string;
  outDir: string;
  /** Worker threads; each runs one simulation at a time. Default: the machine's cores. */
  jobs?: number;
  /** Keep the runs an earlier, interrupted sweep completed; redo the rest. */
  resume?: boolean;
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

export interface SweepSummary {
  dir: string;
  planned: number;
  skipped: number;
  ran: number;
  failed: number;
  stopped: boolean;
}

/**
 * The worker module: the compiled .js next to us; or, when we run as .ts source (tests, tsx), a
 * tiny module that registers tsx's loader in the worker and then imports worker.ts.
 */
function startWorker(): Worker {
  const self = import.meta.url;
  if (!self.endsWith(".ts")) return new Worker(new URL("./worker.js", self));
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(new URL("./worker.ts", self).href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`));
}

/** Bad input is found before anything is written: every (workload, parameters) of the plan must load. */
function checkWorkloads(runs: PlannedRun[], sweepFile: string): void {
  const checked = new Set<string>();
  for (const run of runs) {
    const key = `${run.workload}\0${JSON.stringify(run.params)}`;
    if (checked.has(key)) continue;
    checked.add(key);
    try {
      loadWorkload(run.workload, run.params);
    } catch (error) {
      if (error instanceof WorkloadError) throw new WorkloadError(`${sweepFile}: run ${run.id} (${Object.entries(run.params).map(([k, v]) => `${k}=${String(v)}`).join(", ") || "no parameters"}):\n${error.message}`);
      throw error;
    }
  }
}

/**
 * Opens (or creates) results.sqlite, refusing one a different sweep file started, and queues the
 * runs it does not hold as complete, their order learnt from the ones it does.
 */
function openResults(o: SweepOptions, runs: PlannedRun[], resultsPath: string): { results: SweepResults; queue: LongestFirstQueue } {
  mkdirSync(join(o.outDir, "runs"), { recursive: true });
  const results = new SweepResults(resultsPath);
  const sweepText = readFileSync(o.file, "utf8");
  const earlier = results.meta("sweep_file_text");
  if (earlier !== undefined && earlier !== sweepText) {
    results.close();
    throw new WorkloadError(`${o.outDir}: was started with a different sweep file; --resume needs the same one`);
  }
  results.setMeta({ sweep_file: o.file, sweep_file_text: sweepText, planned_runs: String(runs.length), shard: o.shard === undefined ? "" : `${o.shard.k}/${o.shard.n}` });
  const done = results.completedEvents();
  const queue = new LongestFirstQueue(
    runs.filter((r) => !done.has(r.id)),
    runs.filter((r) => done.has(r.id)).map((run) => ({ run, events: done.get(run.id)! })),
  );
  return { results, queue };
}

/**
 * `pagesim sweep`: plans the runs, checks every workload loads with its parameters before
 * anything is written, then runs them on `jobs` worker threads. Each run is single-threaded and
 * deterministic, so results do not depend on `jobs`; each writes its own run directory under
 * runs/, and its rows go into results.sqlite when it completes.
 */
export async function runSweep(o: SweepOptions): Promise<SweepSummary> {
  const sweep = loadSweep(o.file);
  let runs = planSweep(sweep, o.file);
  if (o.shard !== undefined) runs = shardOf(runs, o.shard.k, o.shard.n);
  const resultsPath = join(o.outDir, "results.sqlite");
  const resuming = existsSync(resultsPath);
  if (resuming && o.resume !== true) throw new WorkloadError(`${o.outDir}: holds an earlier sweep (results.sqlite); use --resume to continue it, or another --out`);
  // The workers load the model (about 0.45 s each) while this thread checks the workloads and
  // opens results.sqlite; a worker writes nothing until it is sent a run. On --resume they wait
  // until the queue is known: a finished sweep then starts none.
  const wanted = Math.max(1, Math.min(o.jobs ?? availableParallelism(), runs.length));
  const workers = resuming ? [] : Array.from({ length: wanted }, () => startWorker());
  let opened: { results: SweepResults; queue: LongestFirstQueue };
  try {
    checkWorkloads(runs, o.file);
    opened = openResults(o, runs, resultsPath);
  } catch (error) {
    for (const w of workers) void w.terminate();
    throw error;
  }
  const { results, queue } = opened;
  const queued = queue.length;
  const summary: SweepSummary = { dir: o.outDir, planned: runs.length, skipped: runs.length - queued, ran: 0, failed: 0, stopped: false };
  const jobs = queued === 0 ? 0 : Math.min(wanted, queued);
  while (workers.length < jobs) workers.push(startWorker());
  for (const w of workers.splice(jobs)) void w.terminate();
  const startedAt = performance.now();
  let events = 0;

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
      const request: RunRequest = { run, outDir: join(o.outDir, "runs", run.id), sinks: sweep.sinks };
      worker.once("message", (result: RunResult) => {
        try {
          results.record(run, result);
        } catch (error) {
          reject(error);
          return;
        }
        summary.ran++;
        if (result.status !== "complete") summary.failed++;
        else queue.learn(run, result.events);
        events += result.events;
        const elapsed = (performance.now() - startedAt) / 1000;
        const finished = summary.ran;
        // Longest first, runs/s falls as the sweep goes on: the ETA is counted in expected events.
        const eventsPerSec = elapsed > 0 ? events / elapsed : 0;
        o.onProgress?.({
          done: summary.skipped + finished,
          total: runs.length,
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
  results.close();
  return summary;
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
