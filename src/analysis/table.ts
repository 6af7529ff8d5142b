import { summarise, type ConfigSummary, type Stat } from "./aggregate.ts";
import { escapeHtml, formatValue, hzLabel, paramText, timesliceLabel } from "./format.ts";
import { metricLabel, TABLE_METRICS } from "./metric-names.ts";
import type { RunRow } from "./results.ts";

/** The params that already have their own column; the rest go under "other settings". */
const OWN_COLUMNS = new Set(["policy.name", "policy.timesliceMs", "platform.gpu.atomicTimesliceMs", "model.hz"]);

/** A failed run's error can be a whole stack; the table keeps its start (results.sqlite has it all). */
const MAX_ERROR_CHARS = 400;

/** A metric cell: the mean, with the min–max range under it when repetitions disagree. */
function cell(s: Stat | undefined): string {
  if (s === undefined) return "<td></td>";
  const range = s.min === s.max ? "" : `<span class="range">${formatValue(s.min)}–${formatValue(s.max)}</span>`;
  return `<td class="num">${formatValue(s.mean)}${range}</td>`;
}

const shortWorkload = (path: string): string => path.split("/").pop() ?? path;

function otherSettings(c: ConfigSummary): string {
  return Object.keys(c.params)
    .filter((k) => !OWN_COLUMNS.has(k))
    .sort()
    .map((k) => `${k}=${paramText(c.params[k])}`)
    .join(" ");
}

/**
 * The table of configurations (every distinct workload and param set), with the key metrics the
 * results have: mean over complete repetitions, range when they differ.
 */
export function configTable(runs: readonly RunRow[]): string {
  const configs = summarise(runs);
  const metrics = TABLE_METRICS.filter((m) => configs.some((c) => c.metrics[m] !== undefined));
  const workloads = new Set(configs.map((c) => c.workload)).size > 1;
  const others = configs.some((c) => otherSettings(c) !== "");
  const head = [...(workloads ? ["workload"] : []), "policy", "timeslice", "HZ", ...(others ? ["other settings"] : []), "runs (complete/all)", ...metrics.map(metricLabel)];
  const rows = configs.map((c) => {
    const complete = c.statuses.complete ?? 0;
    const cells = [
      ...(workloads ? [`<td>${escapeHtml(shortWorkload(c.workload))}</td>`] : []),
      `<td>${escapeHtml(c.policy)}</td>`,
      `<td>${timesliceLabel(c.timesliceMs)}</td>`,
      `<td>${hzLabel(c.hz).replace(/^HZ /, "")}</td>`,
      ...(others ? [`<td class="params">${escapeHtml(otherSettings(c))}</td>`] : []),
      `<td class="num${complete < c.runIds.length ? " bad" : ""}">${complete}/${c.runIds.length}</td>`,
      ...metrics.map((m) => cell(c.metrics[m])),
    ];
    return `<tr>${cells.join("")}</tr>`;
  });
  return `<table class="configs"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`;
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
