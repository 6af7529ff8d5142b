import Database from "better-sqlite3";
import { join } from "node:path";
import { formatReasons } from "../sweep/resume.ts";
import type { SweepSummary } from "../sweep/runner.ts";

/**
 * The end-of-sweep line: runs done (new, and re-run with why), kept, removed, failed, e.g.
 * "results/default: 6 runs done of 6 to run (3 new; 3 re-run: workload x.yaml changed), 141 kept from before, 0 failed, of 144".
 */
export function formatSweepSummary(s: SweepSummary): string {
  const toRun = s.fresh + s.rerun;
  const why = [s.fresh > 0 ? `${s.fresh} new` : "", formatReasons(s.rerunReasons)].filter((x) => x !== "").join("; ");
  const parts = [`${s.ran} runs done${toRun === 0 ? "" : ` of ${toRun} to run (${why})`}`];
  if (s.skipped > 0) parts.push(`${s.skipped} kept from before`);
  if (s.removed > 0) parts.push(`${s.removed} removed (no longer in the sweep)`);
  parts.push(`${s.failed} failed, of ${s.planned}${s.stopped ? " (stopped: --resume continues)" : ""}`);
  return `${s.dir}: ${parts.join(", ")}`;
}

/** The metrics the end-of-sweep table shows (docs/metrics.md), averaged over repetitions. */
const COLUMNS: [metric: string, header: string][] = [
  ["gpu_work_per_s", "GPU work/s"],
  ["cpu_work_per_s", "CPU work/s"],
  ["gpu_access_failures", "GPU failed"],
  ["cpu_spin_ms", "CPU spin ms"],
  ["cpu_sleep_ms", "CPU sleep ms"],
  ["ping_pongs", "ping-pongs"],
  ["sim_end_ms", "sim ms"],
];
const SHOWN = COLUMNS.map(([m]) => m);

/** "policy.name="xe" model.hz=100" → "name=xe hz=100": the last key segment, unquoted values. */
function shortParams(params: string): string {
  return params
    .split(" ")
    .map((kv) => {
      const eq = kv.indexOf("=");
      return `${kv.slice(0, eq).split(".").pop()}=${kv.slice(eq + 1).replace(/^"(.*)"$/, "$1")}`;
    })
    .join(" ");
}

/** A short table of a sweep's results: one row per workload and parameter set. */
export function formatSweepTable(dir: string, maxRows = 40): string {
  const db = new Database(join(dir, "results.sqlite"), { readonly: true });
  try {
    const rows = db
      .prepare(
        `SELECT r.workload AS workload,
                (SELECT group_concat(name || '=' || value, ' ') FROM (SELECT name, value FROM run_params p WHERE p.run_id = r.run_id ORDER BY name)) AS params,
                m.name AS metric, avg(m.value) AS value, count(DISTINCT r.run_id) AS runs
         FROM runs r JOIN metrics m USING (run_id)
         WHERE r.status = 'complete' AND m.name IN (${SHOWN.map(() => "?").join(", ")})
         GROUP BY r.workload, params, m.name ORDER BY min(r.run_index)`,
      )
      .all(...SHOWN) as { workload: string; params: string | null; metric: string; value: number; runs: number }[];
    const byConfig = new Map<string, Record<string, number>>();
    const oneWorkload = new Set(rows.map((r) => r.workload)).size === 1;
    for (const row of rows) {
      const key = `${oneWorkload ? "" : row.workload.split("/").pop()} ${shortParams(row.params ?? "")}`.trim();
      byConfig.set(key, { ...(byConfig.get(key) ?? {}), [row.metric]: row.value, runs: row.runs });
    }
    const width = Math.max(20, ...[...byConfig.keys()].map((k) => k.length));
    const lines = [`${"configuration".padEnd(width)}  ${COLUMNS.map(([, h]) => h.padStart(12)).join(" ")}  runs`];
    const cell = (v: number | undefined) => (v === undefined ? "" : v >= 100 ? Math.round(v).toString() : Number(v.toFixed(2)).toString()).padStart(12);
    for (const [key, m] of [...byConfig].slice(0, maxRows)) lines.push(`${key.padEnd(width)}  ${SHOWN.map((s) => cell(m[s])).join(" ")}  ${m.runs}`);
    if (byConfig.size > maxRows) lines.push(`… ${byConfig.size - maxRows} more configurations in results.sqlite`);
    return lines.join("\n");
  } finally {
    db.close();
  }
}
