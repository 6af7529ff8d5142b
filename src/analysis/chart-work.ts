import * as Plot from "@observablehq/plot";
import { hasMetric, middle, policiesOf, policyKey, referenceHz, subjectAndBaseline, summarise, type ConfigSummary } from "./aggregate.ts";
import { formatRatio, formatValue, hzLabel, timesliceLabel } from "./format.ts";
import { metricLabel } from "./metric-names.ts";
import { colorScale, colors, missing, renderSvg, type Chart } from "./render.ts";
import type { RunRow } from "./results.ts";

const ID = "work";
const TITLE = "Work done per side against the timeslice";

/** The two sides whose throughput the timeslice trades: the GPU gains what the CPU waits for. */
const SIDES = [
  { metric: "gpu_work_per_s", side: "GPU" },
  { metric: "cpu_work_per_s", side: "CPU" },
] as const;

/** One point of a line: a policy at a timeslice and HZ, mean and range over repetitions. */
interface Point {
  policy: string;
  timesliceMs: number | null;
  hz: string;
  mean: number;
  min: number;
  max: number;
}

function points(groups: readonly ConfigSummary[], metric: string): Point[] {
  return groups
    .flatMap((g) => {
      const s = g.metrics[metric];
      return s === undefined ? [] : [{ policy: g.policy, timesliceMs: g.timesliceMs, hz: hzLabel(g.hz), mean: s.mean, min: s.min, max: s.max }];
    })
    .sort((a, b) => (a.timesliceMs ?? -1) - (b.timesliceMs ?? -1));
}

/**
 * Chart a: GPU and CPU work per simulated second against the timeslice, one line per policy (a
 * panel per side, since their magnitudes differ by orders; facets per HZ when HZ is swept).
 */
export function workChart(runs: readonly RunRow[]): Chart {
  const sides = SIDES.filter((s) => hasMetric(runs, s.metric));
  if (sides.length === 0) return missing(ID, TITLE, SIDES.map((s) => s.metric));
  const groups = summarise(runs, policyKey);
  if (!groups.some((g) => g.timesliceMs !== null)) return missing(ID, TITLE, ["a swept timeslice (policy.timesliceMs or platform.gpu.atomicTimesliceMs)"]);
  const legend = colors(policiesOf(runs));
  const hzs = [...new Set(groups.map((g) => g.hz))].sort((a, b) => (a ?? 0) - (b ?? 0)).map(hzLabel);
  const facet = hzs.length > 1;
  const untimed = groups.some((g) => g.timesliceMs === null);
  const panels = sides.map(({ metric }) => {
    const all = points(groups, metric);
    const timed = all.filter((p) => p.timesliceMs !== null);
    const fx = facet ? { fx: "hz" } : {};
    return renderSvg({
      ...(facet ? { fx: { domain: hzs, label: null, padding: 0.15 } } : {}),
      x: { label: "timeslice (ms)" },
      y: { label: metricLabel(metric), zero: true },
      color: colorScale(legend),
      marks: [
        // Runs that kept the default timeslice have no x: a dashed level per policy instead.
        Plot.ruleY(all.filter((p) => p.timesliceMs === null), { y: "mean", stroke: "policy", strokeDasharray: "4,3", ...fx }),
        Plot.ruleX(timed, { x: "timesliceMs", y1: "min", y2: "max", stroke: "policy", strokeOpacity: 0.5, ...fx }),
        Plot.lineY(timed, { x: "timesliceMs", y: "mean", stroke: "policy", z: "policy", ...fx }),
        Plot.dot(timed, { x: "timesliceMs", y: "mean", fill: "policy", r: 3, ...fx }),
        // Line-end labels, unless faceted: there they would run into the next facet (the legend names the lines).
        ...(facet ? [] : [Plot.text(timed, Plot.selectLast({ x: "timesliceMs", y: "mean", z: "policy", text: "policy", fill: "policy", dx: 6, textAnchor: "start" }))]),
      ],
    });
  });
  const subtitle = `Mean over repetitions (vertical bars: min to max)${facet ? ", one facet per HZ" : ""}${untimed ? "; dashed: runs at the default timeslice" : ""}.`;
  return { kind: "drawn", id: ID, title: TITLE, subtitle, reading: workReading(groups, policiesOf(runs)), panels, legend };
}

/**
 * The sentence under chart a, from the data: the subject policy against the baseline at a middle
 * timeslice, or, with one policy, how its work changes from the shortest timeslice to the longest.
 */
export function workReading(groups: readonly ConfigSummary[], policies: readonly string[]): string {
  const timed = groups.filter((g) => g.timesliceMs !== null);
  const hz = referenceHz(timed);
  const atHz = timed.filter((g) => g.hz === hz);
  const where = hz === null ? "" : ` (${hzLabel(hz)})`;
  const { subject, baseline } = subjectAndBaseline(policies.filter((p) => atHz.some((g) => g.policy === p)));
  const value = (policy: string | undefined, ms: number, metric: string) => atHz.find((g) => g.policy === policy && g.timesliceMs === ms)?.metrics[metric]?.mean;
  const sides = SIDES.filter((s) => atHz.some((g) => g.metrics[s.metric] !== undefined));
  const figures = (a: number, b: number) => `(${formatValue(a)} vs ${formatValue(b)} accesses/s)`;
  const own = atHz.filter((g) => g.policy === subject).map((g) => g.timesliceMs!);
  const ms = middle(own.filter((t) => atHz.some((o) => o.policy === baseline && o.timesliceMs === t)));
  if (baseline !== undefined && ms !== undefined) {
    const parts: string[] = [];
    for (const s of sides) {
      const a = value(subject, ms, s.metric);
      const b = value(baseline, ms, s.metric);
      if (a === undefined || b === undefined) continue;
      // The first side names the baseline; the second reads on from it: "…, at 0.4× the CPU work".
      // A ratio to nothing says nothing: name the side the baseline got no work done on instead.
      const share = b === 0 && a > 0 ? `${s.side} work where ${baseline} completes none` : `${formatRatio(a, b)} the ${s.side} work${parts.length === 0 ? ` of ${baseline}` : ""}`;
      parts.push(parts.length === 0 ? `${share} ${figures(a, b)}` : `at ${share} ${figures(a, b)}`);
    }
    if (parts.length > 0) return `At ${timesliceLabel(ms)}${where}, ${subject} completes ${parts.join(", ")}.`;
  }
  const lo = Math.min(...own);
  const hi = Math.max(...own);
  if (lo === hi) {
    const each = sides.map((s) => `${formatValue(value(subject, lo, s.metric) ?? NaN)} ${s.side}`);
    return `At ${timesliceLabel(lo)}${where}, ${subject} completes ${each.join(" and ")} accesses/s; only one timeslice was swept.`;
  }
  const changes = sides.flatMap((s) => {
    const a = value(subject, lo, s.metric);
    const b = value(subject, hi, s.metric);
    return a === undefined || b === undefined ? [] : [`its ${s.side} work ${formatRatio(b, a)} (${formatValue(a)} → ${formatValue(b)} accesses/s)`];
  });
  if (changes.length === 0) return `${subject} has no work figures at both ends of the timeslices swept${where}.`;
  return `Raising ${subject}'s timeslice from ${timesliceLabel(lo)} to ${timesliceLabel(hi)}${where} changes ${changes.join(" and ")}.`;
}
