/**
 * The policy answer on both kernels (docs/validation.md): from the default study's results, for
 * each workload and kernel (the sweep's label.kernel), the best configuration and xe's best
 * timeslice at each HZ, and xe at the driver's default (5 ms, HZ 250) on each kernel. Prints the
 * section's tables as Markdown, so the section is re-made by re-running the study and this:
 *
 *   rm -rf results/default && npm start && npx tsx scripts/policy-answer.ts [results/default]
 *
 * "Best" is the study's own reading: the most GPU work per second (gpu_work_per_s) among the
 * configurations whose GPU atomics all completed (gpu_access_failures = 0: no livelock);
 * configurations within TIE of the best are listed with it. Every figure is a configuration's mean
 * over its seeds (src/analysis/aggregate.ts), never pooled across kernels or workloads.
 */
import { join } from "node:path";
import { chartConfigs, type ChartConfig } from "../src/analysis/aggregate.ts";
import { openResults } from "../src/analysis/better-sqlite.ts";
import { formatValue, hzLabel } from "../src/analysis/format.ts";
import { loadRuns } from "../src/analysis/results.ts";
import { shortWorkload, timesliceText } from "../src/analysis/settings.ts";

/** Configurations within this fraction of the best count as tying with it (seeds agree to far less here). */
export const TIE = 0.005;

const mean = (c: ChartConfig, metric: string): number | undefined => c.metrics[metric]?.mean;
const kernelOf = (c: ChartConfig): string => c.labels.find(([name]) => name === "kernel")?.[1] ?? "(unlabelled)";
const name = (c: ChartConfig): string => `${c.policy} · ${timesliceText(c.timeslice)} · ${hzLabel(c.hz)}`;
const complete = (c: ChartConfig): boolean => (mean(c, "gpu_access_failures") ?? 0) === 0 && mean(c, "gpu_work_per_s") !== undefined;

/** The configurations of one workload on one kernel, in study order. */
export function cells(configs: readonly ChartConfig[]): { workload: string; kernel: string; configs: ChartConfig[] }[] {
  const out = new Map<string, { workload: string; kernel: string; configs: ChartConfig[] }>();
  for (const c of configs) {
    const key = `${c.workload}\0${kernelOf(c)}`;
    const cell = out.get(key) ?? { workload: shortWorkload(c.workload), kernel: kernelOf(c), configs: [] };
    cell.configs.push(c);
    out.set(key, cell);
  }
  return [...out.values()];
}

/** The best configurations of a cell (most GPU work, no GPU atomic failed), ties within TIE. */
export function best(configs: readonly ChartConfig[]): ChartConfig[] {
  const ok = configs.filter(complete);
  const top = Math.max(...ok.map((c) => mean(c, "gpu_work_per_s")!));
  return ok.filter((c) => mean(c, "gpu_work_per_s")! >= top * (1 - TIE)).sort((a, b) => mean(b, "gpu_work_per_s")! - mean(a, "gpu_work_per_s")!);
}

const fig = (v: number | undefined): string => (v === undefined ? "–" : formatValue(v));
const heldOff = (c: ChartConfig): number => (mean(c, "cpu_spin_ms") ?? 0) + (mean(c, "cpu_sleep_ms") ?? 0);

export function bestTable(configs: readonly ChartConfig[]): string {
  const rows = cells(configs).map(({ workload, kernel, configs: cs }) => {
    const b = best(cs);
    const first = b[0]!;
    return `| ${workload} | ${kernel} | ${b.map(name).join("; ")} | ${fig(mean(first, "gpu_work_per_s"))} | ${fig(mean(first, "cpu_work_per_s"))} | ${fig(heldOff(first))} | ${fig(mean(first, "ping_pongs"))} | ${fig(mean(first, "gpu_fault_p50_us"))} |`;
  });
  return ["| workload | kernel | best: most GPU work, every GPU atomic done (ties within 0.5 %) | GPU work/s | CPU work/s | CPU held off ms | ping-pongs | GPU fault p50 µs |", "|---|---|---|---|---|---|---|---|", ...rows].join("\n");
}

/** xe's best timeslice at each HZ: what a kernel's CONFIG_HZ leaves to choose. */
export function xeTable(configs: readonly ChartConfig[]): string {
  const all = cells(configs);
  const hzs = [...new Set(configs.map((c) => c.hz))].sort((a, b) => (a ?? 0) - (b ?? 0));
  const rows = all.map(({ workload, kernel, configs: cs }) => {
    const at = hzs.map((hz) => {
      const b = best(cs.filter((c) => c.policy === "xe" && c.hz === hz && c.timesliceMs !== null));
      if (b.length === 0) return "–";
      const times = b.map((c) => timesliceText(c.timeslice)).sort((x, y) => parseFloat(x) - parseFloat(y));
      return `${times.join(", ")} (${fig(mean(b[0]!, "gpu_work_per_s"))})`;
    });
    return `| ${workload} | ${kernel} | ${at.join(" | ")} |`;
  });
  return [`| workload | kernel | ${hzs.map(hzLabel).join(" | ")} |`, `|---|---|${hzs.map(() => "---|").join("")}`, ...rows].join("\n");
}

/** xe at the driver's default timeslice and Linux's default HZ, on each kernel. */
export function defaultTable(configs: readonly ChartConfig[]): string {
  const rows = cells(configs).flatMap(({ workload, kernel, configs: cs }) => {
    const c = cs.find((x) => x.policy === "xe" && x.timesliceMs === 5 && x.hz === 250);
    if (c === undefined) return [];
    return [`| ${workload} | ${kernel} | ${fig(mean(c, "gpu_fault_p50_us"))} | ${fig(mean(c, "gpu_work_per_s"))} | ${fig(mean(c, "cpu_work_per_s"))} | ${fig(mean(c, "cpu_spin_ms"))} | ${fig(mean(c, "sim_end_ms"))} |`];
  });
  return ["| workload | kernel | GPU fault p50 µs | GPU work/s | CPU work/s | CPU spin ms | sim ms |", "|---|---|---|---|---|---|---|", ...rows].join("\n");
}

function main(): void {
  const dir = process.argv[2] ?? join("results", "default");
  const src = openResults(join(dir, "results.sqlite"));
  try {
    const configs = chartConfigs(loadRuns(src)).filter((c) => (c.statuses.complete ?? 0) > 0);
    process.stdout.write(`${bestTable(configs)}\n\nxe's best timeslice at each HZ (GPU work/s):\n\n${xeTable(configs)}\n\nxe at 5 ms, HZ 250 (the driver's default):\n\n${defaultTable(configs)}\n`);
  } finally {
    src.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
