import { chartConfigs, variantsOf, type Stat } from "./aggregate.ts";
import { escapeHtml, formatValue, hzLabel, paramText } from "./format.ts";
import { shortWorkload, timesliceText } from "./settings.ts";
import { metricLabel, TABLE_METRICS } from "./metric-names.ts";
import type { RunRow } from "./results.ts";

/** Older results' stand-ins for the work figures (see configTable). */
const LEGACY_METRICS: readonly string[] = ["gpu_faults", "faults_in_steps"];

/** A failed run's error can be a whole stack; the table keeps its start (results.sqlite has it all). */
const MAX_ERROR_CHARS = 400;

/** A metric cell: the mean, with the min–max range under it when repetitions disagree. */
function cell(s: Stat | undefined): string {
  if (s === undefined) return "<td></td>";
  const range = s.min === s.max ? "" : `<span class="range">${formatValue(s.min)}–${formatValue(s.max)}</span>`;
  return `<td class="num">${formatValue(s.mean)}${range}</td>`;
}

/**
 * The configurations (one table per variant: workload and other settings), with the key metrics
 * the results have: mean over complete repetitions, range when they differ. A configuration lists
 * only the settings that apply to its policy (settings.ts).
 */
export function configTable(runs: readonly RunRow[]): string {
  const configs = chartConfigs(runs);
  // The fault counts stand in for the work figures in results from before them; beside them
  // they would only widen the table past a laptop screen.
  const modern = configs.some((c) => c.metrics.gpu_work_per_s !== undefined);
  const metrics = TABLE_METRICS.filter((m) => configs.some((c) => c.metrics[m] !== undefined) && !(modern && LEGACY_METRICS.includes(m)));
  const variants = variantsOf(configs);
  return variants
    .map((variant) => {
      const mine = configs.filter((c) => c.variant === variant);
      const head = ["policy", "timeslice", "HZ", "runs ok/all", ...metrics.map(metricLabel)];
      const rows = mine.map((c) => {
        const complete = c.statuses.complete ?? 0;
        const cells = [
          `<td>${escapeHtml(c.policy)}</td>`,
          `<td>${escapeHtml(timesliceText(c.timeslice))}</td>`,
          `<td>${hzLabel(c.hz).replace(/^HZ /, "")}</td>`,
          `<td class="num${complete < c.runIds.length ? " bad" : ""}">${complete}/${c.runIds.length}</td>`,
          ...metrics.map((m) => cell(c.metrics[m])),
        ];
        return `<tr>${cells.join("")}</tr>`;
      });
      const heading = variants.length > 1 ? `<h3>${escapeHtml(variant)}</h3>\n` : "";
      return `${heading}<div class="table-wrap"><table class="configs" data-variant="${escapeHtml(variant)}"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table></div>`;
    })
    .join("\n");
}

/** Run counts per status, and every run that did not complete with its error. */
export function statusSection(runs: readonly RunRow[]): string {
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const order = [...counts.keys()].sort((a, b) => (a === "complete" ? -1 : b === "complete" ? 1 : a.localeCompare(b, "en")));
  if (runs.length === 0) return `<p class="status">No runs recorded yet.</p>`;
  const summary = `<p class="status">${runs.length} runs: ${order.map((s) => `<span class="${s === "complete" ? "ok" : "bad"}">${counts.get(s)} ${escapeHtml(s)}</span>`).join(", ")}.</p>`;
  const failed = runs.filter((r) => r.status !== "complete");
  if (failed.length === 0) return summary;
  const rows = failed.map((r) => {
    const error = r.error ?? "(no error recorded)";
    const shown = error.length > MAX_ERROR_CHARS ? `${error.slice(0, MAX_ERROR_CHARS)}…` : error;
    const params = Object.keys(r.params).sort().map((k) => `${k}=${paramText(r.params[k])}`).join(" ");
    return `<tr><td>${escapeHtml(r.runId)}</td><td>${escapeHtml(r.status)}</td><td>${escapeHtml(shortWorkload(r.workload))}</td><td class="params">${escapeHtml(params)}</td><td class="num">${r.seed}</td><td class="error">${escapeHtml(shown)}</td></tr>`;
  });
  return `${summary}\n<table class="failed"><thead><tr><th>run</th><th>status</th><th>workload</th><th>settings</th><th>seed</th><th>error</th></tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`;
}
