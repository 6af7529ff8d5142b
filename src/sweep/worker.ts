import { parentPort } from "node:worker_threads";
import type { RunBudget } from "../record/budget.ts";
import { recordRun, type SinkName } from "../record/run-dir.ts";
import { loadWorkload } from "../workload/load.ts";
import { runTimeslice, type RunTimesliceParams } from "../workload/run-timeslice.ts";
import type { RunReport } from "../workload/run.ts";
import type { PlannedRun } from "./plan.ts";

/** What the sweep runner asks a worker to do, and what the worker answers. */
export interface RunRequest {
  run: PlannedRun;
  outDir: string;
  sinks: SinkName[];
  /** --max-events / --max-bytes of `pagesim sweep`; recordRun's defaults when absent. */
  budget?: RunBudget;
  /** false: skip the sync of events.arrow at close (--no-fsync). */
  fsync?: boolean;
}

export interface RunResult {
  id: string;
  status: "complete" | "failed";
  error?: string;
  wallMs: number;
  events: number;
  endNs: number;
  digest: string;
  metrics: Record<string, number>;
  /** Time series (results.sqlite `series`): name → [t_ms, value] points. */
  series: Record<string, [number, number][]>;
  /** The run's recorded parameters (results.sqlite `run_params` beside the swept ones); none if its workload did not load. */
  parameters: RunTimesliceParams | Record<string, never>;
}

/** The run's migrations per second each way, at the middle of each time bucket. */
function runSeries(report: RunReport): RunResult["series"] {
  const s = report.work.series;
  const points = (values: number[]): [number, number][] => values.map((v, i) => [((i + 0.5) * s.bucketNs) / 1e6, v]);
  return { migrations_to_device_per_s: points(s.toDevicePerS), migrations_to_system_per_s: points(s.toSystemPerS) };
}

/** One run, single-threaded and deterministic: the same request gives the same files and figures. */
export async function executeRun(req: RunRequest): Promise<RunResult> {
  const start = performance.now();
  let parameters: RunResult["parameters"] = {};
  try {
    const workload = loadWorkload(req.run.workload, { ...req.run.params, seed: req.run.seed });
    parameters = runTimeslice(workload);
    const { manifest, report } = await recordRun({ file: req.run.workload, workload, seed: req.run.seed, outDir: req.outDir, sinks: req.sinks, overrides: req.run.params, ...(req.budget === undefined ? {} : { budget: req.budget }), ...(req.fsync === undefined ? {} : { fsync: req.fsync }) });
    return { id: req.run.id, status: "complete", wallMs: performance.now() - start, events: manifest.events, endNs: manifest.endNs, digest: manifest.digest, metrics: report.metrics, series: runSeries(report), parameters: manifest.parameters ?? parameters };
  } catch (error) {
    return { id: req.run.id, status: "failed", error: error instanceof Error ? error.message : String(error), wallMs: performance.now() - start, events: 0, endNs: 0, digest: "", metrics: {}, series: {}, parameters };
  }
}

parentPort?.on("message", (req: RunRequest) => {
  void executeRun(req).then((result) => parentPort!.postMessage(result));
});
