/**
 * pagesim's analysis layer, driver-free: Deno notebooks import this file and read results.sqlite
 * with node:sqlite (`sqlSource(new DatabaseSync(path, { readOnly: true }))`). The Node CLI's
 * better-sqlite3 adapter and writeReport live in better-sqlite.ts and write-report.ts.
 */
export { sqlSource, hasTable, type SqlSource, type SqlRow, type SqlParam, type PreparingDatabase } from "./sql-source.ts";
export { loadRuns, loadSeries, loadSweepMeta, seriesNames, assertResults, ResultsError, type RunRow, type SeriesPoint } from "./results.ts";
export { summarise, configKey, chartKey, chartConfigs, variantsOf, stat, hasMetric, policiesOf, type ChartConfig, type ConfigSummary, type Stat } from "./aggregate.ts";
export { settingApplies, otherSettings, variantOf, type Timeslice } from "./settings.ts";
export { renderSvg, type Chart, type DrawnChart, type MissingChart } from "./render.ts";
export { workChart, workReading } from "./chart-work.ts";
export { paretoChart, paretoReading, markFrontier, tradePoints, type TradePoint } from "./chart-pareto.ts";
export { latencyChart, latencyReading, latencyPoints, latencyConfigs, type LatencyPoint } from "./chart-latency.ts";
export { migrationChart, migrationReading, representativeRuns, binRates } from "./chart-migrations.ts";
export { hzChart, hzReading } from "./chart-hz.ts";
export { configTable, statusSection } from "./table.ts";
export { buildReport, type BuiltReport } from "./report.ts";
