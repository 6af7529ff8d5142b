import * as Plot from "@observablehq/plot";
import { hasMetric, middle, policiesOf, policyKey, subjectAndBaseline, summarise, type ConfigSummary } from "./aggregate.ts";
import { formatRatio, formatValue, timesliceLabel } from "./format.ts";
import { metricLabel } from "./metric-names.ts";
import { colorScale, colors, missing, renderSvg, type Chart } from "./render.ts";
import type { RunRow } from "./results.ts";

const ID = "hz";
const TITLE = "The effect of HZ";

/**
 * What HZ moves: the timeslice is counted in jiffies, so a coarse tick lengthens it (5 ms at HZ 100
 * is a whole 10 ms tick), which the CPU pays in spinning and the GPU gains in work.
 */
const HZ_METRICS = [
  { metric: "cpu_spin_ms", what: "CPU spin time", unit: " ms" },
  { metric: "gpu_work_per_s", what: "GPU work", unit: " accesses/s" },
] as const;

/**
 * Chart e: each metric against model.hz, one line per policy, one facet per timeslice (HZ matters
 * through the timeslice's rounding to ticks, so they are read together).
 */
export function hzChart(runs: readonly RunRow[]): Chart {
  const metrics = HZ_METRICS.filter((m) => hasMetric(runs, m.metric));
  if (metrics.length === 0) return missing(ID, TITLE, HZ_METRICS.map((m) => m.metric));
  const groups = summarise(runs, policyKey).filter((g) => g.hz !== null);
  const hzs = [...new Set(groups.map((g) => g.hz!))].sort((a, b) => a - b);
  if (hzs.length < 2) return missing(ID, TITLE, ["more than one value of model.hz"]);
  const timeslices = [...new Set(groups.map((g) => g.timesliceMs))].sort((a, b) => (a ?? -1) - (b ?? -1)).map(timesliceLabel);
  const facet = timeslices.length > 1 ? { fx: "timeslice" } : {};
  const legend = colors(policiesOf(runs));
  const panels = metrics.map(({ metric }) => {
    const points = groups.flatMap((g) => {
      const s = g.metrics[metric];
      return s === undefined ? [] : [{ policy: g.policy, hz: g.hz!, timeslice: timesliceLabel(g.timesliceMs), mean: s.mean, min: s.min, max: s.max }];
    });
    return renderSvg({
      ...(timeslices.length > 1 ? { fx: { domain: timeslices, label: null, padding: 0.15 } } : {}),
      // HZ takes a handful of discrete values (100, 250, 300, 1000): a point scale spaces them evenly.
      x: { type: "point", domain: hzs, label: "HZ (ticks/s)", padding: 0.3 },
      // Not from zero: what HZ changes is often a few percent, which a zero-based axis flattens.
      y: { label: metricLabel(metric), inset: 8 },
      color: colorScale(legend),
      marks: [
        Plot.ruleX(points, { x: "hz", y1: "min", y2: "max", stroke: "policy", strokeOpacity: 0.5, ...facet }),
        Plot.line(points, { x: "hz", y: "mean", stroke: "policy", z: "policy", ...facet }),
        Plot.dot(points, { x: "hz", y: "mean", fill: "policy", r: 3, ...facet }),
      ],
    });
  });
  const subtitle = `Mean over repetitions (bars: min to max)${timeslices.length > 1 ? ", one facet per timeslice" : ""}.`;
  return { kind: "drawn", id: ID, title: TITLE, subtitle, reading: hzReading(groups, policiesOf(runs)), panels, legend };
}

/** The sentence under chart e: how the subject policy's metrics change from the lowest HZ to the highest. */
export function hzReading(groups: readonly ConfigSummary[], policies: readonly string[]): string {
  const { subject } = subjectAndBaseline(policies.filter((p) => groups.some((g) => g.policy === p)));
  const mine = groups.filter((g) => g.policy === subject);
  const ms = mine.some((g) => g.timesliceMs === null) ? null : (middle(mine.map((g) => g.timesliceMs!)) ?? null);
  const at = mine.filter((g) => g.timesliceMs === ms);
  const hzs = at.map((g) => g.hz!);
  const lo = Math.min(...hzs);
  const hi = Math.max(...hzs);
  const value = (hz: number, metric: string) => at.find((g) => g.hz === hz)?.metrics[metric]?.mean;
  const parts = HZ_METRICS.flatMap(({ metric, what, unit }) => {
    const a = value(lo, metric);
    const b = value(hi, metric);
    return a === undefined || b === undefined ? [] : [`${what} goes from ${formatValue(a)}${unit} to ${formatValue(b)}${unit} (${formatRatio(b, a)})`];
  });
  if (lo === hi || parts.length === 0) return `${subject} was run at one HZ only at the ${timesliceLabel(ms)} timeslice, so there is no HZ trend to read.`;
  return `From HZ ${lo} to HZ ${hi} at the ${timesliceLabel(ms)} timeslice, ${subject}'s ${parts.join(" and its ")}.`;
}
