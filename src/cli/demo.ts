import { runSingleServerQueue, pollaczekKhinchineWaitNs } from "../validation/single-server-queue.ts";
import { batchMeansInterval } from "../validation/batch-means.ts";
import { runHold } from "../validation/hold.ts";

export interface DemoOptions {
  seed: number;
  customers: number;
}

export interface DemoRow {
  model: string;
  utilisation: number;
  customers: number;
  theoryMeanWaitNs: number;
  simulatedMeanWaitNs: number;
  ci99HalfWidthNs: number;
  insideInterval: boolean;
  wallMs: number;
}

export interface DemoSummary {
  seed: number;
  queues: DemoRow[];
  hold: { processes: number; sleeps: number; wallMs: number }[];
}

const ARRIVAL_MEAN_NS = 1_000_000;

/**
 * The built-in simulation `npm start` runs until the pagemap model and sweeps exist: the engine
 * checked against queueing theory (M/M/1 and M/D/1 against Pollaczek-Khinchine, 99% batch-means
 * intervals) and its raw speed on the hold model.
 */
export function runDemo(options: DemoOptions): DemoSummary {
  const queues: DemoRow[] = [];
  for (const service of ["exponential", "deterministic"] as const) {
    for (const rho of [0.5, 0.8]) {
      const model = { arrivalMeanNs: ARRIVAL_MEAN_NS, serviceMeanNs: rho * ARRIVAL_MEAN_NS, service };
      const start = performance.now();
      const run = runSingleServerQueue({ ...model, customers: options.customers, seed: options.seed });
      const wallMs = performance.now() - start;
      const ci = batchMeansInterval(run.waitsNs, 20);
      const theory = pollaczekKhinchineWaitNs(model);
      queues.push({
        model: service === "exponential" ? "M/M/1" : "M/D/1",
        utilisation: rho,
        customers: options.customers,
        theoryMeanWaitNs: theory,
        simulatedMeanWaitNs: ci.mean,
        ci99HalfWidthNs: ci.halfWidth,
        insideInterval: theory >= ci.low && theory <= ci.high,
        wallMs,
      });
    }
  }
  const hold = [10, 1000].map((processes) => {
    const start = performance.now();
    const run = runHold({ processes, totalSleeps: 1_000_000, seed: options.seed });
    return { processes, sleeps: run.sleeps, wallMs: performance.now() - start };
  });
  return { seed: options.seed, queues, hold };
}

export function formatDemo(summary: DemoSummary): string {
  const lines = [
    `pagesim engine check (seed ${summary.seed}): single-server queues vs Pollaczek-Khinchine`,
    "",
    "model  rho  customers  theory Wq (us)  simulated Wq (us)  99% CI        inside  wall (ms)",
  ];
  for (const r of summary.queues) {
    lines.push(
      [
        r.model.padEnd(6),
        r.utilisation.toFixed(1).padStart(3),
        String(r.customers).padStart(10),
        (r.theoryMeanWaitNs / 1000).toFixed(1).padStart(15),
        (r.simulatedMeanWaitNs / 1000).toFixed(1).padStart(18),
        `±${((100 * r.ci99HalfWidthNs) / r.simulatedMeanWaitNs).toFixed(2)}%`.padStart(8),
        (r.insideInterval ? "yes" : "NO").padStart(11),
        r.wallMs.toFixed(0).padStart(10),
      ].join(" "),
    );
  }
  lines.push("", "hold model (event-list speed):");
  for (const h of summary.hold) {
    lines.push(`  P=${h.processes}: ${h.sleeps} sleeps in ${h.wallMs.toFixed(0)} ms = ${((h.sleeps / h.wallMs) * 1e-3).toFixed(2)} M sleeps/s`);
  }
  lines.push("", "Next: a scripted drm_pagemap scenario (pagesim run WORKLOAD.yaml; see workloads/README.md).");
  return lines.join("\n");
}
