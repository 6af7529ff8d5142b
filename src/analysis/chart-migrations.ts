import * as Plot from "@observablehq/plot";
import { middle, policiesOf, referenceHz, subjectAndBaseline } from "./aggregate.ts";
import { configLabel, formatValue, trim } from "./format.ts";
import { missing, renderSvg, type Chart, type LegendEntry } from "./render.ts";
import { loadSeries, seriesNames, type RunRow } from "./results.ts";
import type { SqlSource } from "./sql-source.ts";

const ID = "migrations";
const TITLE = "Migrations per second over one run";
const PREFIX = "migrations_";

/** Fixed colours per direction, apart from the policy palette: here colour means direction. */
const DIRECTION_COLORS: Record<string, string> = { "to device": "#7b3294", "to system": "#1b7837" };

/** "migrations_to_device_per_s" → "to device". */
export const directionOf = (name: string): string => name.slice(PREFIX.length).replace(/_per_s$/, "").replaceAll("_", " ");

/**
 * The run the chart shows: a complete run with migration series, of the subject policy ("xe"),
 * at the default timeslice when some run kept it (else the middle one swept), at the reference
 * HZ, the first such by run order. Deterministic, and the subtitle names it.
 */
export function representativeRun(runs: readonly RunRow[], series: ReadonlyMap<string, readonly string[]>): RunRow | undefined {
  let pool = runs.filter((r) => r.status === "complete" && (series.get(r.runId) ?? []).some((n) => n.startsWith(PREFIX)));
  const { subject } = subjectAndBaseline(policiesOf(pool));
  pool = pool.filter((r) => r.policy === subject);
  const ms = pool.some((r) => r.timesliceMs === null) ? null : (middle(pool.map((r) => r.timesliceMs!)) ?? null);
  pool = pool.filter((r) => r.timesliceMs === ms);
  const hz = referenceHz(pool);
  return pool.find((r) => r.hz === hz);
}

/** Chart d: the migration rate in each direction against simulated time, for one run. */
export function migrationChart(src: SqlSource, runs: readonly RunRow[]): Chart {
  const run = representativeRun(runs, seriesNames(src));
  if (run === undefined) return missing(ID, TITLE, ["the series table with migrations_to_device_per_s / migrations_to_system_per_s"]);
  const points = loadSeries(src, run.runId)
    .filter((p) => p.name.startsWith(PREFIX))
    .map((p) => ({ direction: directionOf(p.name), tMs: p.tMs, ratePerS: p.value }));
  const directions = [...new Set(points.map((p) => p.direction))].sort();
  const legend: LegendEntry[] = directions.map((label, i) => ({ label, color: DIRECTION_COLORS[label] ?? ["#e08214", "#2166ac"][i % 2]! }));
  const svg = renderSvg({
    x: { label: "simulated time (ms)" },
    y: { label: "migration rate (migrations/s)", zero: true },
    color: { type: "categorical", domain: legend.map((e) => e.label), range: legend.map((e) => e.color) },
    marks: [
      Plot.lineY(points, { x: "tMs", y: "ratePerS", stroke: "direction" }),
      Plot.text(points, Plot.selectLast({ x: "tMs", y: "ratePerS", z: "direction", text: "direction", fill: "direction", dx: 6, textAnchor: "start" })),
    ],
  });
  const which = `run ${run.runId} (${configLabel(run)}, seed ${run.seed})`;
  const subtitle = `From the series table of ${which}: the first complete run of ${run.policy} at ${run.timesliceMs === null ? "the default timeslice" : "the middle timeslice swept"}.`;
  return { kind: "drawn", id: ID, title: TITLE, subtitle, reading: migrationReading(which, points), panels: [svg], legend };
}

/** The sentence under chart d: each direction's peak (and when) and its mean rate over the run. */
export function migrationReading(which: string, points: readonly { direction: string; tMs: number; ratePerS: number }[]): string {
  const parts = [...new Set(points.map((p) => p.direction))].sort().map((direction) => {
    const mine = points.filter((p) => p.direction === direction);
    const peak = mine.reduce((a, b) => (b.ratePerS > a.ratePerS ? b : a));
    const mean = mine.reduce((n, p) => n + p.ratePerS, 0) / mine.length;
    if (peak.ratePerS === 0) return `migrations ${direction} never happen`;
    return `migrations ${direction} peak at ${formatValue(peak.ratePerS)}/s at ${trim(peak.tMs, 4)} ms and average ${formatValue(mean)}/s`;
  });
  return `In ${which}, ${parts.join("; ")}.`;
}
