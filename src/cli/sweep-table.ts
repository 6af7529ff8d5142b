import { join } from "node:path";
import { chartConfigs, type ChartConfig } from "../analysis/aggregate.ts";
import { openResults } from "../analysis/better-sqlite.ts";
import { hzLabel, paramText } from "../analysis/format.ts";
import { loadRuns } from "../analysis/results.ts";
import { otherSettings, shortWorkload, timesliceText } from "../analysis/settings.ts";
import { formatReasons } from "../sweep/resume.ts";
import type { SweepSummary } from "../sweep/runner.ts";

/**
 * The end-of-sweep line: runs done (new, and re-run with why), kept, removed, failed, e.g.
 * "results/default: 6 runs done of 6 to run (3 new; 3 re-run: workload x.yaml changed), 141 kept from before, 0 failed, of 144".
 */
export function formatSweepSummary(s: SweepSummary): string {
  const toRun = s.fresh + s.rerun;
  const why = [s.fresh > 0 ? `${s.fresh} new` : "", formatReasons(s.rerunReasons)].filter((x) => x !== "").join("; ");
  const parts = [`${s.ran} runs done${toRun === 0 ? "" : ` of ${toRun} to run (${why})`}`];
  if (s.skipped > 0) parts.push(`${s.skipped} kept from before`);
  if (s.removed > 0) parts.push(`${s.removed} removed (no longer in the sweep)`);
  parts.push(`${s.failed} failed, of ${s.planned}${s.stopped ? " (stopped: --resume continues)" : ""}`);
  return `${s.dir}: ${parts.join(", ")}`;
}

/** The metrics the end-of-sweep table shows (docs/metrics.md), averaged over repetitions. */
const COLUMNS: [metric: string, header: string][] = [
  ["gpu_work_per_s", "GPU work/s"],
  ["cpu_work_per_s", "CPU work/s"],
  ["gpu_access_failures", "GPU failed"],
  ["cpu_spin_ms", "CPU spin ms"],
  ["cpu_sleep_ms", "CPU sleep ms"],
  ["ping_pongs", "ping-pongs"],
  ["sim_end_ms", "sim ms"],
];

/** A figure in a fixed-width column: whole numbers from 100 up, two decimals below. */
const cell = (v: number | undefined): string => (v === undefined ? "" : v >= 100 ? Math.round(v).toString() : Number(v.toFixed(2)).toString()).padStart(12);

/**
 * A configuration's identifying columns: workload (when the sweep has several), each label the
 * sweep gives (`label.kernel` → a "kernel" column; src/sweep/plan.ts), the policy with
 * its own knobs, the timeslice it recorded ("not used" when it has none), HZ, and any other setting
 * that applies to it. Knobs of other policies are left out: they do not act on the run.
 */
function identity(c: ChartConfig, withWorkload: boolean, labelNames: readonly string[]): string[] {
  const others = otherSettings(c).map(([k, v]) => `${k.split(".").pop()}=${paramText(v)}`);
  const labels = labelNames.map((name) => c.labels.find(([n]) => n === name)?.[1] ?? "");
  return [...(withWorkload ? [shortWorkload(c.workload)] : []), ...labels, c.policy, timesliceText(c.timeslice), hzLabel(c.hz), others.join(" ")];
}

/** A table of a sweep's results: one row per configuration, every configuration. */
export function formatSweepTable(dir: string): string {
  const src = openResults(join(dir, "results.sqlite"));
  try {
    const configs = chartConfigs(loadRuns(src)).filter((c) => (c.statuses.complete ?? 0) > 0);
    const withWorkload = new Set(configs.map((c) => c.workload)).size > 1;
    const labelNames = [...new Set(configs.flatMap((c) => c.labels.map(([name]) => name)))].sort();
    const heads = [...(withWorkload ? ["workload"] : []), ...labelNames, "policy", "timeslice", "HZ", "other settings"];
    const rows = configs.map((c) => identity(c, withWorkload, labelNames));
    // Columns as wide as their widest entry; an empty "other settings" column is dropped.
    const keep = heads.map((_, i) => rows.some((r) => r[i] !== ""));
    const widths = heads.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const pad = (cells: string[]) => cells.flatMap((text, i) => (keep[i] ? [text.padEnd(widths[i]!)] : [])).join("  ");
    const lines = [`${pad(heads)}  ${COLUMNS.map(([, h]) => h.padStart(12)).join(" ")}  runs`];
    for (const [i, c] of configs.entries()) lines.push(`${pad(rows[i]!)}  ${COLUMNS.map(([m]) => cell(c.metrics[m]?.mean)).join(" ")}  ${c.statuses.complete}`);
    return lines.join("\n");
  } finally {
    src.close();
  }
}
