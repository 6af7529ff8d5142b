import * as Plot from "@observablehq/plot";
import { hasMetric, policiesOf, subjectAndBaseline, summarise } from "./aggregate.ts";
import { formatRatio, formatValue } from "./format.ts";
import { latencyMetric, PERCENTILES } from "./metric-names.ts";
import { colorScale, colors, missing, renderSvg, type Chart } from "./render.ts";
import type { RunRow } from "./results.ts";

const ID = "latency";
const TITLE = "Fault latency by percentile";
const SIDES = [
  { side: "gpu", label: "GPU faults" },
  { side: "cpu", label: "CPU faults" },
] as const;

/** One percentile of one side for one policy: mean and range over the policy's runs. */
export interface LatencyPoint {
  policy: string;
  side: string;
  percentile: string;
  latencyUs: number;
  minUs: number;
  maxUs: number;
}

/** Every percentile each policy recorded, per side. Zero latencies are dropped: a log axis has no 0. */
export function latencyPoints(runs: readonly RunRow[]): LatencyPoint[] {
  const byPolicy = summarise(runs, (r) => r.policy);
  return SIDES.flatMap(({ side, label }) =>
    byPolicy.flatMap((g) =>
      PERCENTILES.flatMap((p) => {
        const s = g.metrics[latencyMetric(side, p.key)];
        return s === undefined || !(s.mean > 0) ? [] : [{ policy: g.policy, side: label, percentile: p.label, latencyUs: s.mean, minUs: Math.max(s.min, s.mean / 1e3), maxUs: s.max }];
      }),
    ),
  );
}

/**
 * Chart c: GPU and CPU fault latency at p50/p90/p99/p99.9 per policy, on a log axis so the tail
 * and the median share one chart. The percentiles are per run; the chart shows their mean over a
 * policy's runs, with the range as a bar.
 */
export function latencyChart(runs: readonly RunRow[]): Chart {
  const points = latencyPoints(runs);
  const names = SIDES.flatMap(({ side }) => PERCENTILES.map((p) => latencyMetric(side, p.key)));
  if (points.length === 0 && names.some((n) => hasMetric(runs, n))) return { kind: "missing", id: ID, title: TITLE, note: "No fault took any time in these results (every latency percentile is 0), so there is nothing to draw on a log axis." };
  if (points.length === 0) return missing(ID, TITLE, names);
  const sides = SIDES.map((s) => s.label).filter((label) => points.some((p) => p.side === label));
  const legend = colors(policiesOf(runs));
  const svg = renderSvg({
    height: 320,
    fx: { domain: sides, label: null },
    x: { type: "point", domain: PERCENTILES.map((p) => p.label), label: "percentile", padding: 0.3 },
    y: { type: "log", label: "fault latency (µs)", grid: true },
    color: colorScale(legend),
    marks: [
      // min clamped to a thousandth of the mean above: a run with no faults would put 0 on a log axis.
      Plot.ruleX(points, { x: "percentile", y1: "minUs", y2: "maxUs", stroke: "policy", strokeOpacity: 0.5, fx: "side" }),
      Plot.line(points, { x: "percentile", y: "latencyUs", stroke: "policy", z: "policy", fx: "side" }),
      Plot.dot(points, { x: "percentile", y: "latencyUs", fill: "policy", r: 3, fx: "side" }),
      Plot.text(points, Plot.selectLast({ x: "percentile", y: "latencyUs", z: "policy", text: "policy", fill: "policy", dx: 8, textAnchor: "start", fx: "side" })),
    ],
  });
  const missingSides = SIDES.filter((s) => !sides.includes(s.label)).map((s) => `${s.label}: not in these results.`);
  const subtitle = `Each run's fault-latency percentiles, mean over a policy's runs (bars: min to max); log scale.${missingSides.length > 0 ? ` ${missingSides.join(" ")}` : ""}`;
  return { kind: "drawn", id: ID, title: TITLE, subtitle, reading: latencyReading(points, policiesOf(runs)), panels: [svg], legend };
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
