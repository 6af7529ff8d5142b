import { barsCaption, chartConfigs, hasMetric, middle, policiesOf, subjectAndBaseline, variantsOf, type ConfigSummary, type Stat } from "./aggregate.ts";
import { dotPanel } from "./chart-dots.ts";
import { timesliceCategories } from "./chart-work.ts";
import { formatRatio, formatValue, timesliceLabel } from "./format.ts";
import { metricLabel } from "./metric-names.ts";
import { colors, joinReadings, missing, type Chart } from "./render.ts";
import { timesliceText } from "./settings.ts";
import type { RunRow } from "./results.ts";

const ID = "hz";
const TITLE = "The effect of HZ";

/**
 * What HZ moves: the timeslice is counted in jiffies, so a coarse tick lengthens it (5 ms at HZ 100
 * is a whole 10 ms tick), which the CPU pays in spinning (xe) or sleeping (notifier-block) and the
 * GPU gains in work.
 */
const HZ_METRICS = [
  { metric: "cpu_spin_ms", what: "CPU spin time", unit: " ms" },
  { metric: "cpu_sleep_ms", what: "CPU sleep time", unit: " ms" },
  { metric: "gpu_work_per_s", what: "GPU work", unit: " accesses/s" },
] as const;

/**
 * Chart e: each metric against model.hz, per workload (and other settings): one panel per metric,
 * a facet per timeslice (HZ matters through the timeslice's rounding to ticks), policies dodged at
 * each HZ so equal figures stay side by side.
 */
export function hzChart(runs: readonly RunRow[]): Chart {
  const metrics = HZ_METRICS.filter((m) => hasMetric(runs, m.metric));
  if (metrics.length === 0) return missing(ID, TITLE, HZ_METRICS.map((m) => m.metric));
  const configs = chartConfigs(runs).filter((g) => g.hz !== null);
  const hzs = [...new Set(configs.map((g) => g.hz!))].sort((a, b) => a - b);
  if (hzs.length < 2) return missing(ID, TITLE, ["more than one value of model.hz"]);
  const legend = colors(policiesOf(runs));
  const variants = variantsOf(configs);
  const stats: Stat[] = [];
  const groups = variants.map((variant) => {
    const mine = configs.filter((c) => c.variant === variant);
    const facets = timesliceCategories(mine);
    const panels = metrics.map(({ metric }) => {
      const data = mine.flatMap((c) => {
        const s = c.metrics[metric];
        if (s !== undefined) stats.push(s);
        return s === undefined ? [] : [{ series: c.policy, category: String(c.hz), facet: timesliceText(c.timeslice), ...s }];
      });
      return dotPanel({ data, categories: hzs.map(String), facets: facets.length > 1 ? facets : [""], legend, xLabel: "HZ (ticks/s)", yLabel: metricLabel(metric), wide: true, height: 220, about: { metric } });
    });
    return { title: variants.length > 1 ? variant : "", panels, reading: hzReading(mine, policiesOf(runs)) };
  });
  const subtitle = `Mean over seeds, per workload; ${barsCaption(stats)}. One facet per timeslice ("not used": policies that do not read it); policies side by side at each HZ.`;
  return { kind: "drawn", id: ID, title: TITLE, subtitle, reading: joinReadings(groups), groups, legend };
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
    // A figure that stays at zero (xe never sleeps) says nothing about HZ.
    return a === undefined || b === undefined || (a === 0 && b === 0) ? [] : [`${what} goes from ${formatValue(a)}${unit} to ${formatValue(b)}${unit} (${formatRatio(b, a)})`];
  });
  const atTimeslice = ms === null ? "with no one timeslice" : `at the ${timesliceLabel(ms)} timeslice`;
  if (lo === hi || parts.length === 0) return `${subject} was run at one HZ only ${atTimeslice}, so there is no HZ trend to read.`;
  return `From HZ ${lo} to HZ ${hi} ${atTimeslice}, ${subject}'s ${parts.join(" and its ")}.`;
}
