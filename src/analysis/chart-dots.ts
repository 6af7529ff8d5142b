import * as Plot from "@observablehq/plot";
import { formatValue } from "./format.ts";
import { colorScale, dodge, dodgedScale, NARROW, renderSvg, WIDE, type LegendEntry, type Panel } from "./render.ts";

/** One mark of a dot panel: a policy's mean and range over seeds at one category of one facet. */
export interface DotDatum {
  /** The policy (colour). */
  series: string;
  /** The x category: a timeslice, an HZ, a percentile. */
  category: string;
  /** The facet (column) it sits in; "" when the panel has one. */
  facet: string;
  mean: number;
  min: number;
  max: number;
  /** Complete runs (seeds) the figures are over. */
  n: number;
}

export interface DotPanelOptions {
  data: readonly DotDatum[];
  categories: readonly string[];
  facets: readonly string[];
  legend: readonly LegendEntry[];
  xLabel: string;
  yLabel: string;
  /** Categories a policy's line may join (the swept timeslices, not "not used"); default: all. */
  joins?: (category: string) => boolean;
  log?: boolean;
  wide?: boolean;
  /** Fields every row of the panel's data-values gets (the metric it draws). */
  about?: Record<string, string>;
  height?: number;
}

/**
 * A dot panel: per facet, categories along x, one dodged dot per policy at its mean with a bar
 * from min to max over its seeds, and a line through a policy's dots. Dodging keeps policies with
 * equal figures side by side, so every policy keeps a mark of its own.
 */
export function dotPanel(o: DotPanelOptions): Panel {
  const order = o.legend.map((e) => e.label);
  const data = dodge(o.data, o.categories, order).sort((a, b) => a.xPos - b.xPos);
  const faceted = o.facets.length > 1;
  const fx = faceted ? { fx: "facet" } : {};
  const joined = data.filter((d) => (o.joins ?? (() => true))(d.category));
  const title = (d: DotDatum) => `${d.series}${d.facet === "" ? "" : `, ${d.facet}`}, ${d.category}: ${formatValue(d.mean)}${d.min === d.max ? "" : ` (${formatValue(d.min)}–${formatValue(d.max)} over ${d.n} seeds)`}`;
  const svg = renderSvg({
    width: o.wide === true || faceted ? WIDE : NARROW,
    height: o.height ?? 260,
    ...(faceted ? { fx: { domain: [...o.facets], label: null, padding: 0.08 } } : {}),
    x: dodgedScale(o.categories, o.xLabel),
    y: o.log === true ? logScale(o.data, o.yLabel) : { label: o.yLabel, zero: true, nice: true, insetBottom: 6 },
    color: colorScale(o.legend),
    marks: [
      Plot.ruleX(data.filter((d) => d.min < d.max), { x: "xPos", y1: "min", y2: "max", stroke: "series", strokeWidth: 2, strokeOpacity: 0.6, ...fx }),
      Plot.line(joined, { x: "xPos", y: "mean", stroke: "series", z: "series", strokeOpacity: 0.7, ...fx }),
      Plot.dot(data, { x: "xPos", y: "mean", fill: "series", r: 3.5, stroke: "white", strokeWidth: 0.75, ariaLabel: "series", title, ...fx }),
    ],
  });
  const rows = o.data.map((d) => ({ ...o.about, policy: d.series, category: d.category, facet: d.facet, mean: d.mean, min: d.min, max: d.max, n: d.n }));
  return { svg, data: rows, wide: o.wide === true || faceted };
}

/**
 * A log scale that shows its lowest and highest values away from the frame (a third of a decade
 * of room either side), with a tick per decade: the median of a fast side does not sit on the floor.
 */
function logScale(data: readonly DotDatum[], label: string): Plot.ScaleOptions {
  const values = data.flatMap((d) => [d.min, d.max, d.mean]).filter((v) => v > 0);
  const lo = Math.min(...values) / 2.5;
  const hi = Math.max(...values) * 2.5;
  const ticks: number[] = [];
  for (let t = 10 ** Math.ceil(Math.log10(lo)); t <= hi; t *= 10) ticks.push(t);
  return { type: "log", domain: [lo, hi], ticks, tickFormat: (v: number) => formatValue(v), label, grid: true };
}
