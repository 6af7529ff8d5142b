/**
 * A label: a sweep parameter named `label.<name>` (`label.kernel: [seed-era, current]`, usually in
 * a zip group beside the settings it names). It is recorded with the run's parameters
 * (results.sqlite `run_params`, so it is part of the run's identity) and never applied to the
 * workload: it names a row of settings for tables and reports, which show it in place of the
 * settings it stands for. The sweep (src/sweep/plan.ts) and the analysis (src/analysis) share it.
 */
export const LABEL_PREFIX = "label.";

export const isLabel = (key: string): boolean => key.startsWith(LABEL_PREFIX);
