import { hzChart } from "./chart-hz.ts";
import { latencyChart } from "./chart-latency.ts";
import { migrationChart } from "./chart-migrations.ts";
import { paretoChart } from "./chart-pareto.ts";
import { workChart } from "./chart-work.ts";
import { page } from "./html.ts";
import type { Chart } from "./render.ts";
import { assertResults, loadRuns, loadSweepMeta } from "./results.ts";
import type { SqlSource } from "./sql-source.ts";
import { labelMeanings } from "./settings.ts";
import { configTable, statusSection } from "./table.ts";

/** The report as a string, and which charts it drew or could not. */
export interface BuiltReport {
  html: string;
  /** Ids of the charts drawn, in page order: work, pareto, latency, migrations, hz. */
  charts: string[];
  /** Ids of the charts shown as "not in these results" instead. */
  skipped: string[];
}

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`;

/** The sweep's one-line description, from the sweep file text it recorded. */
function describe(meta: Record<string, string>): string | undefined {
  return /^description:\s*(.+?)\s*$/m.exec(meta.sweep_file_text ?? "")?.[1]?.replace(/^(["'])(.*)\1$/, "$2");
}

/**
 * Builds the whole report from a results database, whatever driver reads it (see sql-source.ts):
 * a pure function of the database's contents, so the same results give the same bytes.
 * `label` names the database in errors.
 */
export function buildReport(src: SqlSource, label = "results.sqlite"): BuiltReport {
  assertResults(src, label);
  const runs = loadRuns(src);
  const meta = loadSweepMeta(src);
  const charts: Chart[] = [workChart(runs), paretoChart(runs), latencyChart(runs), migrationChart(src, runs), hzChart(runs)];
  const description = describe(meta);
  const lines = [
    ...(meta.sweep_file === undefined ? [] : [`Sweep ${meta.sweep_file}${meta.shard ? `, shard ${meta.shard}` : ""}.`]),
    ...labelMeanings(runs).map((l) => `Label ${l}; each label value is drawn apart, never pooled.`),
    `${runs.length} runs recorded${meta.planned_runs === undefined ? "" : ` of ${meta.planned_runs} planned`}; ${plural(new Set(runs.map((r) => r.workload)).size, "workload")}, drawn apart; ${plural(new Set(runs.map((r) => r.policy)).size, "policy setting")} (a policy with different knobs counts once per setting).`,
  ];
  const html = page({
    title: `pagesim report${description === undefined ? "" : `: ${description}`}`,
    meta: lines,
    status: statusSection(runs),
    charts,
    table: configTable(runs),
  });
  return { html, charts: charts.filter((c) => c.kind === "drawn").map((c) => c.id), skipped: charts.filter((c) => c.kind === "missing").map((c) => c.id) };
}
