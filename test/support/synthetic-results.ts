import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { labelCoverage, loadSweep, planSweep, settingsOf, type PlannedRun } from "../../src/sweep/plan.ts";
import { SweepResults } from "../../src/sweep/results.ts";
import { loadWorkload } from "../../src/workload/load.ts";
import { runTimeslice } from "../../src/workload/run-timeslice.ts";

/**
 * A results.sqlite with the metrics and series the policies will record (issue #7), made up from
 * simple formulas so every chart of the report has data before the real metrics exist. `gpuGain`
 * and `cpuCost` shape the trade the timeslice makes, so a test can change the data and see the
 * readings follow.
 */
export interface SyntheticOptions {
  policies?: string[];
  timeslicesMs?: number[];
  hzs?: number[];
  repetitions?: number;
  /** GPU work gained per ms of timeslice, as a fraction of the base rate. */
  gpuGain?: number;
  /** CPU work lost per ms of timeslice, as a fraction of the base rate. */
  cpuCost?: number;
  /** Write the series table (the results of sweeps before it existed have none). */
  series?: boolean;
  /** Record one failed run, whose error must be escaped in the page. */
  failed?: boolean;
  /**
   * The workloads, each with a factor on its work, latency and spin figures (default: the atomic
   * ping-pong alone, factor 1): two workloads with different outcomes must never be pooled.
   */
  workloads?: { path: string; scale: number }[];
}

const POLICY_FACTOR: Record<string, number> = { xe: 1, none: 0, adaptive: 0.6 };

export function writeSyntheticResults(dir: string, o: SyntheticOptions = {}): string {
  const { policies = ["xe", "none", "adaptive"], timeslicesMs = [0, 1, 5, 10], hzs = [100, 250, 1000], repetitions = 2, gpuGain = 0.08, cpuCost = 0.05, series = true, failed = true } = o;
  const workloads = o.workloads ?? [{ path: "workloads/atomic-ping-pong.yaml", scale: 1 }];
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "results.sqlite");
  const results = new SweepResults(path);
  results.setMeta({ sweep_file: "workloads/sweeps/synthetic.yaml", sweep_file_text: "description: a synthetic sweep for the report test\n", planned_runs: String(workloads.length * policies.length * timeslicesMs.length * hzs.length * repetitions), shard: "" });
  const seriesRows: [string, string, number, number][] = [];
  let index = 0;
  for (const { path: workload, scale } of workloads)
  for (const policy of policies)
    for (const ms of timeslicesMs)
      for (const hz of hzs)
        for (let repetition = 0; repetition < repetitions; repetition++) {
          const id = `r${String(index).padStart(4, "0")}`;
          const f = POLICY_FACTOR[policy] ?? 0.3;
          // A timeslice counts whole ticks: at a coarse HZ it lasts longer than asked for.
          const effectiveMs = ms === 0 ? 0 : Math.ceil((ms * hz) / 1000) * (1000 / hz);
          const noise = 1 + 0.02 * repetition;
          // The GPU gains from the timeslice asked for; the CPU pays for the ticks it lasts: a
          // coarse HZ costs CPU work for nothing, so some configurations fall off the frontier.
          const gpu = 10_000 * scale * (1 + gpuGain * f * ms) * noise;
          const cpu = (4_000 * scale) / (1 + cpuCost * f * effectiveMs) / noise;
          const metrics: Record<string, number> = {
            gpu_work_per_s: gpu,
            cpu_work_per_s: cpu,
            migrations_to_device: 200 - 10 * f * effectiveMs,
            migrations_to_system: 190 - 10 * f * effectiveMs,
            cpu_spin_ms: f * effectiveMs * 3 * noise * scale,
            gpu_stall_ms: 20 / (1 + f * effectiveMs),
            ping_pongs: 150 - 5 * f * effectiveMs,
            livelock: policy === "none" ? 1 : 0,
            sim_end_ms: 100,
          };
          for (const [side, base] of [["gpu", 40], ["cpu", 12]] as const)
            for (const [p, mult] of [["p50", 1], ["p90", 2.5], ["p99", 6], ["p999", 15]] as const) metrics[`${side}_fault_${p}_us`] = base * mult * scale * (1 + f * effectiveMs * 0.1) * noise;
          const isFailed = failed && index === 5;
          // Every policy here reads the swept timeslice, and records it as a run would.
          const params = { "policy.name": policy, "platform.gpu.atomicTimesliceMs": ms, "model.hz": hz };
          const parameters = { timesliceMs: ms, timesliceFrom: "platform.gpu.atomicTimesliceMs" };
          results.record(
            { id, index, workload, workloadName: workload, params, repetition, seed: repetition + 1 },
            isFailed
              ? { id, status: "failed", error: "step 3: <script>alert(1)</script> & EBUSY", wallMs: 1, events: 0, endNs: 0, digest: "", metrics: {}, series: {}, parameters }
              : { id, status: "complete", wallMs: 1, events: 1000, endNs: 100e6, digest: "sha256:0", metrics, series: {}, parameters },
          );
          if (series && !isFailed)
            for (let t = 0; t <= 100; t += 5) {
              const wave = 1 + Math.sin((t + index) / 10);
              seriesRows.push([id, "migrations_to_device_per_s", t, (2000 - 100 * f * effectiveMs) * wave * scale], [id, "migrations_to_system_per_s", t, (1900 - 100 * f * effectiveMs) * (2 - wave) * scale]);
            }
          index++;
        }
  results.close();
  const db = new Database(path);
  if (series) {
    const put = db.prepare("INSERT INTO series VALUES (?, ?, ?, ?)");
    db.transaction(() => seriesRows.forEach((r) => put.run(...r)))();
  } else db.exec("DROP TABLE series"); // results written before the series table existed
  db.close();
  return path;
}

/**
 * A results.sqlite with the runs a real sweep file plans (its workloads, params, seeds), each
 * recorded complete with made-up figures that differ per configuration: fast, for what depends on
 * the plan's shape (the sweep table's rows) rather than on the model's numbers.
 */
export function writePlannedResults(dir: string, sweepFile: string): PlannedRun[] {
  mkdirSync(dir, { recursive: true });
  const sweep = loadSweep(sweepFile);
  const runs = planSweep(sweep, sweepFile);
  const results = new SweepResults(join(dir, "results.sqlite"));
  results.setMeta({ sweep_file: sweepFile, sweep_file_text: "", planned_runs: String(runs.length), shard: "", labels: JSON.stringify(labelCoverage(sweep)) });
  for (const run of runs) {
    const config = runs.findIndex((r) => r.workload === run.workload && JSON.stringify(r.params) === JSON.stringify(run.params));
    const metrics = { gpu_work_per_s: 100 + config, cpu_work_per_s: 1000 + config, cpu_spin_ms: config / 10, sim_end_ms: 50 };
    // The run parameters the loaded workload resolves to, as the sweep's worker records them.
    const parameters = runTimeslice(loadWorkload(run.workload, { ...settingsOf(run.params), seed: run.seed }));
    results.record(run, { id: run.id, status: "complete", wallMs: 1, events: 1000, endNs: 50e6, digest: "sha256:0", metrics, series: {}, parameters });
  }
  results.close();
  return runs;
}
