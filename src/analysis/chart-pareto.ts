import * as Plot from "@observablehq/plot";
import { chartConfigs, seedsText, hasMetric, policiesOf, variantsOf, type ChartConfig } from "./aggregate.ts";
import { formatPercent, formatValue, hzLabel } from "./format.ts";
import { metricLabel } from "./metric-names.ts";
import { colorScale, colors, joinReadings, missing, renderSvg, WIDE, type Chart, type LegendEntry, type Panel } from "./render.ts";
import { timesliceText } from "./settings.ts";
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

/** A configuration's name on the chart: "xe · 5 ms · HZ 250"; a policy without a timeslice omits it. */
export function tradeLabel(c: ChartConfig): string {
  return [c.policy, ...(c.timeslice === "unused" ? [] : [timesliceText(c.timeslice)]), hzLabel(c.hz)].join(" · ");
}

/** The configurations' mean CPU and GPU work, frontier marked. */
export function tradePoints(groups: readonly ChartConfig[]): TradePoint[] {
  return markFrontier(
    groups.flatMap((g) => {
      const cpu = g.metrics[CPU]?.mean;
      const gpu = g.metrics[GPU]?.mean;
      return cpu === undefined || gpu === undefined ? [] : [{ policy: g.policy, label: tradeLabel(g), cpu, gpu }];
    }),
  );
}

/** The panel's frame in px: fixed here so dots that would overprint can be spread in pixel space. */
const FRAME = { width: WIDE, height: 400, top: 30, right: 24, bottom: 42, left: 72 };
/** A label is about this wide and tall at 10 px type; closer labels would overprint. */
const LABEL = { width: 150, height: 13 };
const DOT_R = 5.5;

/** A linear map from data to px over a padded domain, and back. */
function axis(values: readonly number[], from: number, to: number): { domain: [number, number]; px: (v: number) => number; value: (px: number) => number } {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.1 || 1;
  const domain: [number, number] = [lo - pad, hi + pad];
  const k = (to - from) / (domain[1] - domain[0]);
  return { domain, px: (v) => from + (v - domain[0]) * k, value: (px) => domain[0] + (px - from) / k };
}

/** A dot as drawn: at its configuration's figures, or moved onto a small ring round them when it would overprint others. */
interface PlacedPoint extends TradePoint {
  drawnCpu: number;
  drawnGpu: number;
  /** The ring's radius in px (0 when the dot is where its figures are). */
  ringPx: number;
}

/**
 * Spreads dots closer than a dot's width (equal figures: xe and notifier-block, or four policies
 * at no GPU work) evenly round a ring at their common centre, joined to it by a thin line, in
 * legend order, so each policy keeps a mark of its own.
 */
export function spread(points: readonly TradePoint[], order: readonly string[]): { placed: PlacedPoint[]; x: ReturnType<typeof axis>; y: ReturnType<typeof axis> } {
  const x = axis(points.map((p) => p.cpu), FRAME.left, FRAME.width - FRAME.right);
  const y = axis(points.map((p) => p.gpu), FRAME.height - FRAME.bottom, FRAME.top);
  const clusters: { cx: number; cy: number; members: TradePoint[] }[] = [];
  const sorted = [...points].sort((a, b) => order.indexOf(a.policy) - order.indexOf(b.policy));
  for (const p of sorted) {
    const [px, py] = [x.px(p.cpu), y.px(p.gpu)];
    const near = clusters.find((c) => Math.hypot(c.cx - px, c.cy - py) < 2 * DOT_R + 2);
    if (near === undefined) clusters.push({ cx: px, cy: py, members: [p] });
    else near.members.push(p);
  }
  const placed = clusters.flatMap(({ cx, cy, members }) => {
    if (members.length === 1) return [{ ...members[0]!, drawnCpu: members[0]!.cpu, drawnGpu: members[0]!.gpu, ringPx: 0 }];
    const ring = Math.max(2 * DOT_R + 1, (members.length * (2 * DOT_R + 2)) / (2 * Math.PI));
    return members.map((m, i) => {
      const angle = -Math.PI / 2 + (2 * Math.PI * i) / members.length;
      return { ...m, drawnCpu: x.value(cx + ring * Math.cos(angle)), drawnGpu: y.value(cy + ring * Math.sin(angle)), ringPx: ring };
    });
  });
  return { placed, x, y };
}

/**
 * Which frontier points get a text label, above their ring: coincident points share one ("none, 3
 * alike"), and a label that would overprint one already placed is left out (every dot keeps its
 * hover title). Greedy from the top, so the high-GPU end, usually the interesting one, wins.
 */
export function frontierLabels(placed: readonly PlacedPoint[], x: ReturnType<typeof axis>, y: ReturnType<typeof axis>): { cpu: number; gpu: number; text: string }[] {
  const frontier = placed.filter((p) => p.frontier);
  const labels: { px: number; py: number; cpu: number; gpu: number; text: string }[] = [];
  for (const p of [...frontier].sort((a, b) => b.gpu - a.gpu || a.cpu - b.cpu)) {
    const alike = frontier.filter((q) => q.cpu === p.cpu && q.gpu === p.gpu);
    const [px, py] = [x.px(p.cpu), y.px(p.gpu) - p.ringPx - DOT_R - 8];
    if (labels.some((l) => l.cpu === p.cpu && l.gpu === p.gpu)) continue;
    if (labels.some((l) => Math.abs(l.px - px) < LABEL.width && Math.abs(l.py - py) < LABEL.height)) continue;
    const policies = [...new Set(alike.map((q) => q.policy))];
    labels.push({ px, py, cpu: p.cpu, gpu: p.gpu, text: alike.length === 1 ? p.label : `${policies.length === 1 ? `${policies[0]}, ` : ""}${alike.length} alike` });
  }
  return labels.map((l) => ({ cpu: x.value(l.px), gpu: y.value(l.py), text: l.text }));
}

/** Chart b: per workload, one dot per configuration (policy × timeslice × HZ), CPU work against GPU work. */
export function paretoChart(runs: readonly RunRow[]): Chart {
  if (!hasMetric(runs, CPU) || !hasMetric(runs, GPU)) return missing(ID, TITLE, [CPU, GPU].filter((m) => !hasMetric(runs, m)));
  const configs = chartConfigs(runs);
  const variants = variantsOf(configs);
  const legend = colors(policiesOf(runs));
  const groups = variants.map((variant) => {
    const points = tradePoints(configs.filter((c) => c.variant === variant));
    return { title: variants.length > 1 ? variant : "", panels: [tradePanel(points, legend)], reading: paretoReading(points) };
  });
  const stats = configs.flatMap((c) => (c.metrics[GPU] === undefined ? [] : [c.metrics[GPU]]));
  const subtitle = `Per workload, one dot per configuration at its mean over ${seedsText(stats)} (hover a dot for its figures; the configurations table has their range). Outlined: the Pareto frontier (no other configuration does more work on one side without doing less on the other), joined by the dashed line. Dots with equal figures sit on a small ring round them, joined to the true point by a thin line.`;
  return { kind: "drawn", id: ID, title: TITLE, subtitle, reading: joinReadings(groups), groups, legend };
}

/** One variant's scatter. */
function tradePanel(points: readonly TradePoint[], legend: readonly LegendEntry[]): Panel {
  const { placed, x, y } = spread(points, legend.map((e) => e.label));
  // Joined left to right, the frontier falls: each step right buys CPU work with GPU work.
  const frontier = points.filter((p) => p.frontier).sort((a, b) => a.cpu - b.cpu || b.gpu - a.gpu);
  const title = (p: TradePoint) => `${p.label}: ${formatValue(p.cpu)} CPU, ${formatValue(p.gpu)} GPU accesses/s`;
  const moved = placed.filter((p) => p.ringPx > 0);
  const svg = renderSvg({
    width: FRAME.width,
    height: FRAME.height,
    marginTop: FRAME.top,
    marginRight: FRAME.right,
    marginBottom: FRAME.bottom,
    marginLeft: FRAME.left,
    x: { label: metricLabel(CPU), domain: x.domain, nice: false },
    y: { label: metricLabel(GPU), domain: y.domain, nice: false },
    color: colorScale(legend),
    marks: [
      Plot.line(frontier, { x: "cpu", y: "gpu", stroke: "#333", strokeDasharray: "4,3" }),
      Plot.link(moved, { x1: "cpu", y1: "gpu", x2: "drawnCpu", y2: "drawnGpu", stroke: "#888", strokeWidth: 0.75 }),
      Plot.dot(placed.filter((p) => !p.frontier), { x: "drawnCpu", y: "drawnGpu", fill: "policy", r: 4, stroke: "white", strokeWidth: 0.75, ariaLabel: "policy", title }),
      Plot.dot(placed.filter((p) => p.frontier), { x: "drawnCpu", y: "drawnGpu", fill: "policy", r: DOT_R, stroke: "#111", strokeWidth: 1.5, ariaLabel: "policy", title }),
      Plot.text(frontierLabels(placed, x, y), { x: "cpu", y: "gpu", text: "text", fontSize: 10, stroke: "white", strokeWidth: 3, fill: "#111", paintOrder: "stroke" }),
    ],
  });
  return { svg, data: points.map((p) => ({ policy: p.policy, label: p.label, cpu: p.cpu, gpu: p.gpu, frontier: p.frontier ? 1 : 0 })), wide: true };
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
