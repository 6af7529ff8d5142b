import Database from "better-sqlite3";
import { join } from "node:path";

/** The metrics the end-of-sweep table shows, averaged over repetitions. */
const SHOWN = ["sim_end_ms", "gpu_faults", "faults_in_steps", "gpu_migrate_us", "context_violations"];

/** A short table of a sweep's results: one row per workload and parameter set. */
export function formatSweepTable(dir: string, maxRows = 30): string {
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
    for (const row of rows) {
      const key = `${row.workload.split("/").pop()} ${row.params ?? ""}`.trim();
      byConfig.set(key, { ...(byConfig.get(key) ?? {}), [row.metric]: row.value, runs: row.runs });
    }
    const width = Math.max(20, ...[...byConfig.keys()].map((k) => k.length));
    const lines = [`${"configuration".padEnd(width)}  ${SHOWN.map((s) => s.padStart(14)).join("  ")}  runs`];
    for (const [key, m] of [...byConfig].slice(0, maxRows)) {
      lines.push(`${key.padEnd(width)}  ${SHOWN.map((s) => (m[s] === undefined ? "" : Number(m[s].toFixed(2)).toString()).padStart(14)).join("  ")}  ${m.runs}`);
    }
    if (byConfig.size > maxRows) lines.push(`… ${byConfig.size - maxRows} more configurations in results.sqlite`);
    return lines.join("\n");
  } finally {
    db.close();
  }
}
