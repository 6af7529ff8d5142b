import { chartConfigs, barsCaption, hasMetric, middle, policiesOf, referenceHz, subjectAndBaseline, variantsOf, type ChartConfig, type ConfigSummary } from "./aggregate.ts";
import { dotPanel } from "./chart-dots.ts";
import { formatRatio, formatValue, hzLabel } from "./format.ts";
import { latencyMetric, PERCENTILES } from "./metric-names.ts";
import { colors, joinReadings, missing, type Chart } from "./render.ts";
import { timesliceText } from "./settings.ts";
import type { RunRow } from "./results.ts";

const ID = "latency";
const TITLE = "Fault latency by percentile";
const SIDES = [
  { side: "gpu", label: "GPU faults" },
  { side: "cpu", label: "CPU faults" },
] as const;

/** One percentile of one side for one configuration: mean and range over its seeds. */
export interface LatencyPoint {
  policy: string;
  side: string;
  percentile: string;
  latencyUs: number;
  minUs: number;
  maxUs: number;
  /** Complete runs (seeds) the figures are over. */
  n: number;
}

/**
 * The configurations the chart shows for one variant: at the reference HZ, each policy at the
 * middle of the timeslices it was run at (its one setting when it reads none). A slice, not an
 * average: the configurations table has every configuration's p99.
 */
export function latencyConfigs(configs: readonly ChartConfig[]): ChartConfig[] {
  const hz = referenceHz(configs);
  const atHz = configs.filter((c) => c.hz === hz);
  return [...new Set(atHz.map((c) => c.policy))].flatMap((policy) => {
    const mine = atHz.filter((c) => c.policy === policy);
    const ms = middle(mine.flatMap((c) => (c.timesliceMs === null ? [] : [c.timesliceMs])));
    return mine.filter((c) => c.timesliceMs === (ms ?? null)).slice(0, 1);
  });
}

/** Every percentile each configuration recorded, per side. Zero latencies are dropped: a log axis has no 0. */
export function latencyPoints(configs: readonly ConfigSummary[]): LatencyPoint[] {
  return SIDES.flatMap(({ side, label }) =>
    configs.flatMap((g) =>
      PERCENTILES.flatMap((p) => {
        const s = g.metrics[latencyMetric(side, p.key)];
        return s === undefined || !(s.mean > 0) ? [] : [{ policy: g.policy, side: label, percentile: p.label, latencyUs: s.mean, minUs: s.min > 0 ? s.min : s.mean, maxUs: s.max, n: s.n }];
      }),
    ),
  );
}

/**
 * Chart c: GPU and CPU fault latency at p50/p90/p99/p99.9 per policy, per workload, on a log axis
 * so the tail and the median share one chart; policies side by side at each percentile. Each run
 * records its own percentiles; a dot is their mean over the configuration's seeds.
 */
export function latencyChart(runs: readonly RunRow[]): Chart {
  const names = SIDES.flatMap(({ side }) => PERCENTILES.map((p) => latencyMetric(side, p.key)));
  const configs = chartConfigs(runs);
  const variants = variantsOf(configs);
  const sliced = variants.map((variant) => ({ variant, configs: latencyConfigs(configs.filter((c) => c.variant === variant)) }));
  const all = sliced.flatMap((v) => latencyPoints(v.configs));
  if (all.length === 0 && names.some((n) => hasMetric(runs, n))) return { kind: "missing", id: ID, title: TITLE, note: "No fault took any time in these results (every latency percentile is 0), so there is nothing to draw on a log axis." };
  if (all.length === 0) return missing(ID, TITLE, names);
  const legend = colors(policiesOf(runs));
  const sides = SIDES.map((s) => s.label).filter((label) => all.some((p) => p.side === label));
  const groups = sliced.map(({ variant, configs: mine }) => {
    const points = latencyPoints(mine);
    const data = points.map((p) => ({ series: p.policy, category: p.percentile, facet: p.side, mean: p.latencyUs, min: p.minUs, max: p.maxUs, n: p.n }));
    const panel = dotPanel({ data, categories: PERCENTILES.map((p) => p.label), facets: sides, legend, xLabel: "percentile", yLabel: "fault latency (µs, log scale)", log: true, wide: true, height: 280 });
    const timed = mine.filter((c) => c.timeslice !== "unused").map((c) => `${c.policy} ${timesliceText(c.timeslice)}`);
    const at = [hzLabel(mine[0]?.hz ?? null), ...(timed.length === 0 ? [] : [`timeslice: ${timed.join(", ")}`])].join("; ");
    return { title: variants.length > 1 ? variant : "", panels: [panel], reading: `${latencyReading(points, policiesOf(runs)).replace(/\.$/, "")} (${at}).` };
  });
  const missingSides = SIDES.filter((s) => !sides.includes(s.label)).map((s) => `${s.label}: not in these results.`);
  const stats = all.map((p) => ({ n: p.n }));
  const subtitle = `Each run's fault-latency percentiles, mean over seeds, per workload, at the reference HZ and each policy's middle timeslice (named under each workload; the configurations table has every p99); ${barsCaption(stats)}; log scale.${missingSides.length > 0 ? ` ${missingSides.join(" ")}` : ""}`;
  return { kind: "drawn", id: ID, title: TITLE, subtitle, reading: joinReadings(groups), groups, legend };
}

/**
 * The sentence under chart c, per side: the subject's tail (p99, or the highest percentile there is)
 * against the baseline's, or with one policy against its own median.
 */
export function latencyReading(points: readonly LatencyPoint[], policies: readonly string[]): string {
  const parts = SIDES.flatMap(({ label }) => {
    const side = points.filter((p) => p.side === label);
    if (side.length === 0) return [];
    const { subject, baseline } = subjectAndBaseline(policies.filter((p) => side.some((q) => q.policy === p)));
    const at = (policy: string | undefined, percentile: string) => side.find((p) => p.policy === policy && p.percentile === percentile)?.latencyUs;
    const tail = ["p99", "p99.9", "p90"].find((q) => at(subject, q) !== undefined);
    if (tail === undefined) return [`${label}: ${subject}'s median is ${formatValue(at(subject, "p50") ?? NaN)} µs`];
    const mine = at(subject, tail)!;
    const theirs = at(baseline, tail);
    if (theirs !== undefined) return [`${label}: ${subject}'s ${tail} is ${formatValue(mine)} µs, ${formatRatio(mine, theirs)} ${baseline}'s (${formatValue(theirs)} µs)`];
    const median = at(subject, "p50");
    return [`${label}: ${subject}'s ${tail} is ${formatValue(mine)} µs${median === undefined ? "" : `, ${formatRatio(mine, median)} its median (${formatValue(median)} µs)`}`];
  });
  return `${parts.join("; ")}.`;
}
