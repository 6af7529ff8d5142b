import type { RunRow } from "./results.ts";
import { variantOf, type Timeslice } from "./settings.ts";

/** A metric over the repetitions of one configuration. */
export interface Stat {
  mean: number;
  min: number;
  max: number;
  /** How many runs had the metric. */
  n: number;
}

/** The runs of one configuration, reduced: who they are and their metrics' mean and range. */
export interface ConfigSummary {
  key: string;
  workload: string;
  policy: string;
  timesliceMs: number | null;
  /** The keys the timeslice came from (the first run's): not another setting. */
  timesliceFrom: string[];
  hz: number | null;
  /** The first run's params: identical across repetitions, which is what a configuration is. */
  params: Record<string, unknown>;
  /** The first run's labels and the settings they stand for (RunRow). */
  labels: [string, string][];
  labelled: string[];
  runIds: string[];
  /** Runs per status ("complete", "failed", ...). */
  statuses: Record<string, number>;
  metrics: Record<string, Stat>;
}

/** The full configuration: workload plus every param, so repetitions (seeds) fall together. */
export function configKey(run: RunRow): string {
  const params = Object.keys(run.params).sort().map((k) => [k, run.params[k]]);
  return JSON.stringify([run.workload, params]);
}

/**
 * What one mark of a chart stands for: a workload and its other applicable settings (the variant,
 * drawn apart), the policy with its own knobs, the timeslice it reads and HZ. Runs that share it
 * differ only in their seed and in settings that do not act on them, so they are repetitions.
 */
export function chartKey(run: RunRow): string {
  return JSON.stringify([variantOf(run), run.policy, run.timeslice, run.hz]);
}

/** A configuration as the charts draw it. */
export interface ChartConfig extends ConfigSummary {
  /** The workload and its other applicable settings: each variant gets panels of its own. */
  variant: string;
  timeslice: Timeslice;
}

/**
 * The runs grouped by chartKey, in order of their first run. `timesliceMs` is the run's recorded
 * timeslice (null when it has none, or several), so a policy that holds for none is not drawn at one.
 */
export function chartConfigs(runs: readonly RunRow[]): ChartConfig[] {
  const byId = new Map(runs.map((r) => [r.runId, r]));
  return summarise(runs, chartKey).map((c) => {
    const first = byId.get(c.runIds[0]!)!;
    return { ...c, variant: variantOf(first), timeslice: first.timeslice };
  });
}

/** The variants in order of first appearance. */
export function variantsOf(configs: readonly { variant: string }[]): string[] {
  return [...new Set(configs.map((c) => c.variant))];
}

/**
 * How many complete repetitions each drawn figure is over, as the error bars' caption says it:
 * "bars: min–max over the 2 seeds" (or "over 1–3 seeds" when configurations differ).
 */
export function barsCaption(stats: readonly { n: number }[]): string {
  const ns = [...new Set(stats.map((s) => s.n))];
  if (ns.length === 0) return "no complete runs";
  if (ns.length === 1 && ns[0] === 1) return "one seed per configuration, so no bars";
  return `bars: min–max over ${seedsText(stats)} of each configuration (not over workloads or settings; none where the seeds agree)`;
}

/** How many seeds each figure is a mean over: "the 2 seeds", "1–3 seeds". */
export function seedsText(stats: readonly { n: number }[]): string {
  const ns = [...new Set(stats.map((s) => s.n))].sort((a, b) => a - b);
  if (ns.length === 1) return ns[0] === 1 ? "its one seed" : `the ${ns[0]} seeds`;
  return `${ns[0]}–${ns[ns.length - 1]} seeds`;
}

/** Mean, min and max of the finite values (undefined when there are none). */
export function stat(values: readonly number[]): Stat | undefined {
  const xs = values.filter(Number.isFinite);
  if (xs.length === 0) return undefined;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const x of xs) {
    sum += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { mean: sum / xs.length, min, max, n: xs.length };
}

/**
 * Groups runs by `keyOf` (default: the full configuration) in order of their first run, with each
 * metric's mean and range over the group's complete runs. A failed run counts in `statuses` only:
 * its zeroed figures would drag the means.
 */
export function summarise(runs: readonly RunRow[], keyOf: (run: RunRow) => string = configKey): ConfigSummary[] {
  const groups = new Map<string, RunRow[]>();
  for (const run of runs) {
    const key = keyOf(run);
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups].map(([key, members]) => {
    const first = members[0]!;
    const complete = members.filter((r) => r.status === "complete");
    const names = [...new Set(complete.flatMap((r) => Object.keys(r.metrics)))].sort();
    const metrics: Record<string, Stat> = {};
    for (const name of names) {
      const s = stat(complete.flatMap((r) => (r.metrics[name] === undefined ? [] : [r.metrics[name]])));
      if (s !== undefined) metrics[name] = s;
    }
    const statuses: Record<string, number> = {};
    for (const r of members) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    return { key, workload: first.workload, policy: first.policy, timesliceMs: first.timesliceMs, timesliceFrom: first.timesliceFrom, hz: first.hz, params: first.params, labels: first.labels, labelled: first.labelled, runIds: members.map((r) => r.runId), statuses, metrics };
  });
}

/** Whether any complete run recorded the metric: the charts' "not in these results" test. */
export function hasMetric(runs: readonly RunRow[], name: string): boolean {
  return runs.some((r) => r.status === "complete" && r.metrics[name] !== undefined);
}

/** The policies in the results, the reference one ("xe") first, then by name. */
export function policiesOf(runs: readonly RunRow[]): string[] {
  return [...new Set(runs.map((r) => r.policy))].sort((a, b) => (a === "xe" ? -1 : b === "xe" ? 1 : a.localeCompare(b, "en")));
}

/**
 * The policy the readings describe ("xe", the driver's own, when present) and the one they compare
 * it with ("none", the no-timeslice baseline, when present; else the next policy). The baseline
 * may come from a wider list (`baselines`): a policy that reads no timeslice can still be compared.
 */
export function subjectAndBaseline(policies: readonly string[], baselines: readonly string[] = policies): { subject: string | undefined; baseline: string | undefined } {
  const subject = policies.includes("xe") ? "xe" : policies[0];
  const others = baselines.filter((p) => p !== subject);
  return { subject, baseline: others.includes("none") ? "none" : others[0] };
}

/**
 * The HZ the readings quote: the one with the most configurations; ties go to 250, Linux's
 * default CONFIG_HZ, then to the lowest.
 */
export function referenceHz(configs: readonly { hz: number | null }[]): number | null {
  const counts = new Map<number | null, number>();
  for (const c of configs) counts.set(c.hz, (counts.get(c.hz) ?? 0) + 1);
  const ranked = [...counts].sort(([a, na], [b, nb]) => nb - na || (a === 250 ? -1 : b === 250 ? 1 : (a ?? -1) - (b ?? -1)));
  return ranked[0]?.[0] ?? null;
}

/**
 * The middle of the distinct values, the upper one for an even count: a "typical" setting to quote
 * (of 0, 1, 5, 10 ms it is 5 ms; the lower middle would be the nearly-off 1 ms).
 */
export function middle(values: readonly number[]): number | undefined {
  const s = [...new Set(values)].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
