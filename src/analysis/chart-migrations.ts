import * as Plot from "@observablehq/plot";
import { chartConfigs, subjectAndBaseline, variantsOf, type ChartConfig } from "./aggregate.ts";
import { latencyConfigs } from "./chart-latency.ts";
import { configLabel, formatValue, trim } from "./format.ts";
import { joinReadings, missing, renderSvg, WIDE, type Chart, type LegendEntry, type Panel } from "./render.ts";
import { loadSeries, seriesNames, type RunRow, type SeriesPoint } from "./results.ts";
import type { SqlSource } from "./sql-source.ts";

const ID = "migrations";
const TITLE = "Migrations per second over a run, per policy";
const PREFIX = "migrations_";

/** Fixed colours per direction, apart from the policy palette: here colour means direction. */
const DIRECTION_COLORS: Record<string, string> = { "to device": "#7b3294", "to system": "#1b7837" };

/** "migrations_to_device_per_s" → "to device". */
export const directionOf = (name: string): string => name.slice(PREFIX.length).replace(/_per_s$/, "").replaceAll("_", " ");

/**
 * The runs the chart shows for one variant, one per policy: the first complete run with migration
 * series of the configuration latencyConfigs picks (the reference HZ, the policy's middle
 * timeslice). Deterministic, and each row names its run.
 */
export function representativeRuns(runs: readonly RunRow[], series: ReadonlyMap<string, readonly string[]>, configs: readonly ChartConfig[]): { policy: string; run: RunRow }[] {
  const byId = new Map(runs.map((r) => [r.runId, r]));
  return latencyConfigs(configs).flatMap((c) => {
    const run = c.runIds.map((id) => byId.get(id)!).find((r) => r.status === "complete" && (series.get(r.runId) ?? []).some((n) => n.startsWith(PREFIX)));
    return run === undefined ? [] : [{ policy: c.policy, run }];
  });
}

/** One bin of a run's migrations in one direction: the rate over [t0Ms, t1Ms). */
export interface RateBin {
  policy: string;
  runId: string;
  direction: string;
  t0Ms: number;
  t1Ms: number;
  ratePerS: number;
}

/** Bins the chart aims for over the longest run: coarse enough to read, fine enough to see ping-pong. */
const TARGET_BINS = 60;

/**
 * Re-bins a run's recorded rates (one value per recording interval, sampled at the interval's
 * middle) into bins of `binMs`: each interval's migrations (rate × length) are shared among the
 * bins it overlaps, and a bin's rate is its migrations over its length. Rates are counts over
 * time, so bins keep them honest where a line through point samples draws spikes.
 */
export function binRates(points: readonly SeriesPoint[], intervalMs: number, binMs: number): { direction: string; t0Ms: number; t1Ms: number; ratePerS: number }[] {
  const counts = new Map<string, number>();
  for (const p of points) {
    const start = p.tMs - intervalMs / 2;
    const count = (p.value * intervalMs) / 1000;
    for (let bin = Math.floor(start / binMs + 1e-9); bin * binMs < start + intervalMs - 1e-9; bin++) {
      const overlap = Math.min(start + intervalMs, (bin + 1) * binMs) - Math.max(start, bin * binMs);
      const key = JSON.stringify([directionOf(p.name), bin]);
      counts.set(key, (counts.get(key) ?? 0) + (count * overlap) / intervalMs);
    }
  }
  return [...counts].map(([key, count]) => {
    const [direction, bin] = JSON.parse(key) as [string, number];
    return { direction, t0Ms: bin * binMs, t1Ms: (bin + 1) * binMs, ratePerS: count / (binMs / 1000) };
  });
}

/** The recording interval of a run's series: the smallest step between its sample times. */
function intervalOf(points: readonly SeriesPoint[]): number {
  const times = [...new Set(points.map((p) => p.tMs))].sort((a, b) => a - b);
  let step = Infinity;
  for (let i = 1; i < times.length; i++) step = Math.min(step, times[i]! - times[i - 1]!);
  return Number.isFinite(step) ? step : 1;
}

/** The smallest 1-2-5 step of at least `ms` (0.5, 1, 2, 5, 10 ...). */
function niceStep(ms: number): number {
  const decade = 10 ** Math.floor(Math.log10(ms));
  return [1, 2, 5, 10].map((m) => m * decade).find((s) => s >= ms * (1 - 1e-9))!;
}

/**
 * Chart d: per workload, one row per policy (its representative run), the migration rate against
 * simulated time in bins: to the device upwards, to system memory downwards.
 */
export function migrationChart(src: SqlSource, runs: readonly RunRow[]): Chart {
  const names = seriesNames(src);
  const configs = chartConfigs(runs);
  const variants = variantsOf(configs);
  const chosen = variants.map((variant) => ({ variant, picks: representativeRuns(runs, names, configs.filter((c) => c.variant === variant)) })).filter((v) => v.picks.length > 0);
  if (chosen.length === 0) return missing(ID, TITLE, ["the series table with migrations_to_device_per_s / migrations_to_system_per_s"]);
  const legend: LegendEntry[] = Object.entries(DIRECTION_COLORS).map(([label, color]) => ({ label, color }));
  const groups = chosen.map(({ variant, picks }) => {
    // Each run records at its own interval (longer runs, coarser); the bins suit the longest run.
    const loaded = picks.map((p) => {
      const points = loadSeries(src, p.run.runId).filter((q) => q.name.startsWith(PREFIX));
      return { ...p, points, intervalMs: intervalOf(points) };
    });
    const endMs = Math.max(...loaded.flatMap((l) => l.points.map((q) => q.tMs + l.intervalMs / 2)));
    const binMs = niceStep(Math.max(...loaded.map((l) => l.intervalMs), endMs / TARGET_BINS));
    const bins: RateBin[] = loaded.flatMap((l) => binRates(l.points, l.intervalMs, binMs).map((b) => ({ policy: l.policy, runId: l.run.runId, ...b })));
    const panel = ratePanel(bins, picks.map((p) => p.policy), endMs, binMs);
    const which = picks.map((p) => `${p.policy}: ${p.run.runId}`).join(", ");
    const subject = picks.find((p) => p.policy === subjectAndBaseline(picks.map((q) => q.policy)).subject)!;
    const reading = `${migrationReading(`run ${subject.run.runId} (${configLabel(subject.run)}, seed ${subject.run.seed})`, bins.filter((b) => b.runId === subject.run.runId).map((b) => ({ direction: b.direction, tMs: b.t0Ms, ratePerS: b.ratePerS })))} ${busiest(bins, picks.map((p) => p.policy), binMs)} Runs: ${which}.`;
    return { title: variants.length > 1 ? variant : "", panels: [panel], reading };
  });
  const subtitle = "One run per policy (the reference HZ, the policy's middle timeslice, its first seed; run ids under each workload), migrations per second in bins of a few recording intervals: above the line to the device, below it to system memory. Bars that alternate up and down are pages ping-ponging.";
  return { kind: "drawn", id: ID, title: TITLE, subtitle, reading: joinReadings(groups), groups, legend };
}

/** The panel: a row per policy, binned rates as bars, up to the device and down to system. */
function ratePanel(bins: readonly RateBin[], policies: readonly string[], endMs: number, binMs: number): Panel {
  const drawn = bins.filter((b) => b.ratePerS > 0).map((b) => ({ ...b, signed: b.direction === "to system" ? -b.ratePerS : b.ratePerS }));
  const quiet = policies.filter((p) => !drawn.some((b) => b.policy === p)).map((policy) => ({ policy, t: endMs / 2 }));
  const svg = renderSvg({
    width: WIDE,
    height: 40 + 60 * policies.length,
    marginLeft: 130,
    marginRight: 64,
    fy: { domain: [...policies], label: null, axis: "left", padding: 0.12 },
    // To the end of the last bin, so its bar stays inside the frame.
    x: { domain: [0, Math.ceil(endMs / binMs - 1e-9) * binMs], label: `simulated time (ms; bins of ${trim(binMs, 3)} ms)` },
    y: { axis: "right", label: "migrations/s (↑ device, ↓ system)", tickFormat: (v: number) => formatValue(Math.abs(v)), ticks: 3 },
    color: { type: "categorical", domain: Object.keys(DIRECTION_COLORS), range: Object.values(DIRECTION_COLORS) },
    marks: [
      Plot.ruleY([0], { stroke: "#999" }),
      Plot.rectY(drawn, { x1: "t0Ms", x2: "t1Ms", y1: 0, y2: "signed", fill: "direction", fy: "policy", ariaLabel: "policy", title: (b: RateBin) => `${b.policy} (${b.runId}), ${b.direction}, ${trim(b.t0Ms, 4)}–${trim(b.t1Ms, 4)} ms: ${formatValue(b.ratePerS)}/s` }),
      Plot.text(quiet, { x: "t", y: 0, fy: "policy", text: () => "no migrations", ariaLabel: "policy", fill: "#555" }),
    ],
  });
  return { svg, data: bins.map((b) => ({ ...b })), wide: true };
}

/** Which policy's run migrates most and which least (counts from the bins). */
function busiest(bins: readonly RateBin[], policies: readonly string[], binMs: number): string {
  if (policies.length < 2) return "";
  const count = (policy: string) => bins.filter((b) => b.policy === policy).reduce((n, b) => n + (b.ratePerS * binMs) / 1000, 0);
  const ranked = [...policies].sort((a, b) => count(b) - count(a));
  return `Most migrations: ${ranked[0]} (${trim(count(ranked[0]!), 3)}); fewest: ${ranked[ranked.length - 1]} (${trim(count(ranked[ranked.length - 1]!), 3)}).`;
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
