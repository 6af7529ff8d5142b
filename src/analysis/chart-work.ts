import { barsCaption, chartConfigs, hasMetric, middle, policiesOf, referenceHz, subjectAndBaseline, variantsOf, type ChartConfig, type ConfigSummary, type Stat } from "./aggregate.ts";
import { dotPanel } from "./chart-dots.ts";
import { formatRatio, formatValue, hzLabel, timesliceLabel } from "./format.ts";
import { metricLabel } from "./metric-names.ts";
import { colors, joinReadings, missing, type Chart } from "./render.ts";
import { compareTimeslices, timesliceText } from "./settings.ts";
import type { RunRow } from "./results.ts";

const ID = "work";
const TITLE = "Work done per side against the timeslice";

/** The two sides whose throughput the timeslice trades: the GPU gains what the CPU waits for. */
const SIDES = [
  { metric: "gpu_work_per_s", side: "GPU" },
  { metric: "cpu_work_per_s", side: "CPU" },
] as const;

/** The timeslice categories present, in axis order ("1 ms", "5 ms", "10 ms", "not used"). */
export function timesliceCategories(configs: readonly ChartConfig[]): string[] {
  return [...new Map(configs.map((c) => [timesliceText(c.timeslice), c.timeslice]))].sort(([, a], [, b]) => compareTimeslices(a, b)).map(([text]) => text);
}

/** HZ facets present, lowest first ("HZ 100", ...; "HZ default" first when unset). */
export function hzFacets(configs: readonly ChartConfig[]): string[] {
  return [...new Set(configs.map((c) => c.hz))].sort((a, b) => (a ?? -1) - (b ?? -1)).map(hzLabel);
}

/**
 * Chart a: GPU and CPU work per simulated second against the timeslice, per workload (and other
 * settings): a panel per side, a facet per HZ, policies dodged at each timeslice. Policies that do
 * not read the timeslice stand at "not used".
 */
export function workChart(runs: readonly RunRow[]): Chart {
  const sides = SIDES.filter((s) => hasMetric(runs, s.metric));
  if (sides.length === 0) return missing(ID, TITLE, SIDES.map((s) => s.metric));
  const configs = chartConfigs(runs);
  if (!configs.some((g) => g.timesliceMs !== null)) return missing(ID, TITLE, ["runs that recorded a timeslice in ms (run param timesliceMs)"]);
  const legend = colors(policiesOf(runs));
  const variants = variantsOf(configs);
  const stats: Stat[] = [];
  const groups = variants.map((variant) => {
    const mine = configs.filter((c) => c.variant === variant);
    const categories = timesliceCategories(mine);
    const panels = sides.map(({ metric }) => {
      const data = mine.flatMap((c) => {
        const s = c.metrics[metric];
        if (s !== undefined) stats.push(s);
        return s === undefined ? [] : [{ series: c.policy, category: timesliceText(c.timeslice), facet: hzLabel(c.hz), ...s }];
      });
      const facets = hzFacets(mine);
      return dotPanel({ data, categories, facets: facets.length > 1 ? facets : [""], legend, xLabel: "timeslice", yLabel: metricLabel(metric), joins: (c) => c.endsWith(" ms"), wide: true, height: 240, about: { metric } });
    });
    return { title: variants.length > 1 ? variant : "", panels, reading: workReading(mine, policiesOf(runs)) };
  });
  const subtitle = `Mean over seeds, per workload; ${barsCaption(stats)}. One facet per HZ; policies side by side at each timeslice ("not used": the policy does not read it).`;
  return { kind: "drawn", id: ID, title: TITLE, subtitle, reading: joinReadings(groups), groups, legend };
}

/**
 * The sentence under chart a, from the data: the subject policy against the baseline at a middle
 * timeslice, or, with one policy, how its work changes from the shortest timeslice to the longest.
 */
export function workReading(groups: readonly ConfigSummary[], policies: readonly string[]): string {
  const timed = groups.filter((g) => g.timesliceMs !== null);
  const hz = referenceHz(timed);
  const atHz = groups.filter((g) => g.hz === hz);
  const where = hz === null ? "" : ` (${hzLabel(hz)})`;
  const { subject, baseline } = subjectAndBaseline(policies.filter((p) => atHz.some((g) => g.policy === p && g.timesliceMs !== null)), policies.filter((p) => atHz.some((g) => g.policy === p)));
  const value = (policy: string | undefined, ms: number, metric: string) => atHz.find((g) => g.policy === policy && g.timesliceMs === ms)?.metrics[metric]?.mean;
  // A baseline that reads no timeslice (none) is compared at its one setting.
  const untimedBaseline = atHz.filter((g) => g.policy === baseline && g.timesliceMs === null);
  const baselineValue = (ms: number, metric: string) => value(baseline, ms, metric) ?? (untimedBaseline.length === 1 ? untimedBaseline[0]!.metrics[metric]?.mean : undefined);
  const sides = SIDES.filter((s) => atHz.some((g) => g.metrics[s.metric] !== undefined));
  const figures = (a: number, b: number) => `(${formatValue(a)} vs ${formatValue(b)} accesses/s)`;
  const own = atHz.filter((g) => g.policy === subject && g.timesliceMs !== null).map((g) => g.timesliceMs!);
  const ms = middle(own.filter((t) => untimedBaseline.length === 1 || atHz.some((o) => o.policy === baseline && o.timesliceMs === t)));
  if (baseline !== undefined && ms !== undefined) {
    const parts: string[] = [];
    for (const s of sides) {
      const a = value(subject, ms, s.metric);
      const b = baselineValue(ms, s.metric);
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
