import * as Plot from "@observablehq/plot";
import { hasMetric, policiesOf, policyKey, summarise, type ConfigSummary } from "./aggregate.ts";
import { configLabel, formatPercent, formatValue } from "./format.ts";
import { metricLabel } from "./metric-names.ts";
import { colorScale, colors, missing, renderSvg, type Chart } from "./render.ts";
import type { RunRow } from "./results.ts";

const ID = "pareto";
const TITLE = "CPU/GPU trade-off: which configurations are worth running";
const CPU = "cpu_work_per_s";
const GPU = "gpu_work_per_s";

/** A configuration as one dot: its mean work on each side. */
export interface TradePoint {
  policy: string;
  label: string;
  cpu: number;
  gpu: number;
  frontier: boolean;
}

/**
 * Marks the Pareto frontier: the points no other point beats on one side without losing on the
 * other (more work is better on both). Quadratic, which is fine for the tens of configurations a
 * sweep has, and plain enough to check by eye.
 */
export function markFrontier(points: readonly Omit<TradePoint, "frontier">[]): TradePoint[] {
  return points.map((p) => ({
    ...p,
    frontier: !points.some((q) => q.cpu >= p.cpu && q.gpu >= p.gpu && (q.cpu > p.cpu || q.gpu > p.gpu)),
  }));
}

/** The configurations' mean CPU and GPU work, frontier marked. */
export function tradePoints(groups: readonly ConfigSummary[]): TradePoint[] {
  return markFrontier(
    groups.flatMap((g) => {
      const cpu = g.metrics[CPU]?.mean;
      const gpu = g.metrics[GPU]?.mean;
      return cpu === undefined || gpu === undefined ? [] : [{ policy: g.policy, label: configLabel(g), cpu, gpu }];
    }),
  );
}

/** The plot area in pixels (BASE width 640 less margins, height 360 less margins), for label spacing. */
const AREA = { width: 486, height: 300 };
/** A label is about this wide and tall at 10 px type; closer labels would overprint. */
const LABEL = { width: 140, height: 13 };

/**
 * Which frontier points get a text label: coincident points share one ("none, 12 alike"), and
 * a label that would overprint one already placed is left out (every dot still has a hover
 * title). Greedy from the top of the chart, so the high-GPU end, usually the interesting one, wins.
 */
export function frontierLabels(frontier: readonly TradePoint[]): { cpu: number; gpu: number; text: string }[] {
  const span = (xs: number[]) => Math.max(...xs) - Math.min(...xs) || 1;
  const sx = AREA.width / span(frontier.map((p) => p.cpu));
  const sy = AREA.height / span(frontier.map((p) => p.gpu));
  const placed: { cpu: number; gpu: number; text: string }[] = [];
  for (const p of [...frontier].sort((a, b) => b.gpu - a.gpu || a.cpu - b.cpu)) {
    const alike = frontier.filter((q) => q.cpu === p.cpu && q.gpu === p.gpu);
    if (placed.some((l) => l.cpu === p.cpu && l.gpu === p.gpu)) continue;
    if (placed.some((l) => Math.abs(l.cpu - p.cpu) * sx < LABEL.width && Math.abs(l.gpu - p.gpu) * sy < LABEL.height)) continue;
    const policies = [...new Set(alike.map((q) => q.policy))];
    placed.push({ cpu: p.cpu, gpu: p.gpu, text: alike.length === 1 ? p.label : `${policies.length === 1 ? `${policies[0]}, ` : ""}${alike.length} alike` });
  }
  return placed;
}

/** Chart b: one dot per configuration (policy × timeslice × HZ), CPU work against GPU work. */
export function paretoChart(runs: readonly RunRow[]): Chart {
  if (!hasMetric(runs, CPU) || !hasMetric(runs, GPU)) return missing(ID, TITLE, [CPU, GPU].filter((m) => !hasMetric(runs, m)));
  const points = tradePoints(summarise(runs, policyKey));
  const legend = colors(policiesOf(runs));
  // Joined left to right, the frontier falls: each step right buys CPU work with GPU work.
  const frontier = points.filter((p) => p.frontier).sort((a, b) => a.cpu - b.cpu || b.gpu - a.gpu);
  const title = (p: TradePoint) => `${p.label}: ${formatValue(p.cpu)} CPU, ${formatValue(p.gpu)} GPU accesses/s`;
  const svg = renderSvg({
    height: 360,
    // Not from zero: the trade lives in a corner of the plane, and the frontier is what matters.
    x: { label: metricLabel(CPU), inset: 12 },
    y: { label: metricLabel(GPU), inset: 12 },
    color: colorScale(legend),
    marks: [
      Plot.line(frontier, { x: "cpu", y: "gpu", stroke: "#333", strokeDasharray: "4,3" }),
      Plot.dot(points.filter((p) => !p.frontier), { x: "cpu", y: "gpu", fill: "policy", r: 3.5, fillOpacity: 0.5, title }),
      Plot.dot(frontier, { x: "cpu", y: "gpu", fill: "policy", r: 5.5, stroke: "#111", strokeWidth: 1.5, title }),
      Plot.text(frontierLabels(frontier), { x: "cpu", y: "gpu", text: "text", dy: -11, fontSize: 10, stroke: "white", strokeWidth: 3, fill: "#111", paintOrder: "stroke" }),
    ],
  });
  const subtitle = "One dot per configuration, mean over repetitions (hover a dot for its figures); outlined: the Pareto frontier (no other configuration does more work on one side without doing less on the other), joined by the dashed line.";
  return { kind: "drawn", id: ID, title: TITLE, subtitle, reading: paretoReading(points), panels: [svg], legend };
}

/** The sentence under chart b: how many configurations are on the frontier, and its two ends. */
export function paretoReading(points: readonly TradePoint[]): string {
  const frontier = points.filter((p) => p.frontier);
  if (frontier.length === 0) return "No configuration recorded both CPU and GPU work.";
  const byPolicy = [...new Set(frontier.map((p) => p.policy))].map((policy) => `${frontier.filter((p) => p.policy === policy).length} ${policy}`).join(", ");
  const head = `${frontier.length} of ${points.length} configurations are on the frontier (${byPolicy})`;
  const bestGpu = frontier.reduce((a, b) => (b.gpu > a.gpu ? b : a));
  const bestCpu = frontier.reduce((a, b) => (b.cpu > a.cpu ? b : a));
  if (bestGpu === bestCpu) return `${head}; ${bestGpu.label} does the most work on both sides (${formatValue(bestGpu.gpu)} GPU and ${formatValue(bestGpu.cpu)} CPU accesses/s), so nothing here trades one side for the other.`;
  return `${head}; the most GPU work, ${formatValue(bestGpu.gpu)} accesses/s at ${bestGpu.label}, keeps ${formatPercent(bestGpu.cpu, bestCpu.cpu)} of the best CPU work (${formatValue(bestCpu.cpu)} accesses/s at ${bestCpu.label}).`;
}
