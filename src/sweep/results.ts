import Database from "better-sqlite3";
import type { PlannedRun } from "./plan.ts";
import type { RunResult } from "./worker.ts";

const SCHEMA = [
  "CREATE TABLE IF NOT EXISTS sweep (key TEXT PRIMARY KEY, value TEXT)",
  `CREATE TABLE IF NOT EXISTS runs (
     run_id TEXT PRIMARY KEY, run_index INTEGER, workload TEXT, repetition INTEGER, seed INTEGER,
     status TEXT, error TEXT, wall_ms REAL, events INTEGER, end_ns INTEGER, digest TEXT)`,
  "CREATE TABLE IF NOT EXISTS run_params (run_id TEXT, name TEXT, value TEXT, PRIMARY KEY (run_id, name))",
  "CREATE TABLE IF NOT EXISTS metrics (run_id TEXT, name TEXT, value REAL, PRIMARY KEY (run_id, name))",
  "CREATE TABLE IF NOT EXISTS series (run_id TEXT, name TEXT, t_ms REAL, value REAL, PRIMARY KEY (run_id, name, t_ms))",
];

/** The `sweep` table of a results.sqlite (sweep file, planned runs, shard), read without writing. */
export function readSweepMeta(path: string): Record<string, string> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare("SELECT key, value FROM sweep").all() as { key: string; value: string }[];
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  } finally {
    db.close();
  }
}

/**
 * results.sqlite of a sweep: one `runs` row per run (its workload, seed, status, wall time,
 * events), its parameters in `run_params`, its figures in `metrics`, its time series in `series`. A run's rows are written in
 * one transaction when it completes, so a killed sweep never leaves half a run recorded.
 */
export class SweepResults {
  private readonly db: Database.Database;

  constructor(readonly path: string) {
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    for (const sql of SCHEMA) this.db.exec(sql);
  }

  setMeta(meta: Record<string, string>): void {
    const put = this.db.prepare("INSERT OR REPLACE INTO sweep (key, value) VALUES (?, ?)");
    this.db.transaction(() => {
      for (const [k, v] of Object.entries(meta)) put.run(k, v);
    })();
  }

  meta(key: string): string | undefined {
    return (this.db.prepare("SELECT value FROM sweep WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  }

  /** Runs already recorded as complete: a resumed sweep skips them. */
  completedIds(): Set<string> {
    return new Set(this.completedEvents().keys());
  }

  /** The events each complete run recorded, by run id: what the dispatch order learns costs from. */
  completedEvents(): Map<string, number> {
    const rows = this.db.prepare("SELECT run_id, events FROM runs WHERE status = 'complete'").all() as { run_id: string; events: number }[];
    return new Map(rows.map((r) => [r.run_id, r.events]));
  }

  record(run: PlannedRun, result: RunResult): void {
    const db = this.db;
    db.transaction(() => {
      db.prepare("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").run(
        run.id, run.index, run.workloadName, run.repetition, run.seed, result.status, result.error ?? null, result.wallMs, result.events, result.endNs, result.digest,
      );
      db.prepare("DELETE FROM run_params WHERE run_id = ?").run(run.id);
      db.prepare("DELETE FROM metrics WHERE run_id = ?").run(run.id);
      db.prepare("DELETE FROM series WHERE run_id = ?").run(run.id);
      const param = db.prepare("INSERT INTO run_params VALUES (?, ?, ?)");
      for (const [k, v] of Object.entries(run.params)) param.run(run.id, k, JSON.stringify(v));
      const metric = db.prepare("INSERT INTO metrics VALUES (?, ?, ?)");
      for (const [k, v] of Object.entries(result.metrics)) metric.run(run.id, k, v);
      const point = db.prepare("INSERT INTO series VALUES (?, ?, ?, ?)");
      for (const [name, points] of Object.entries(result.series ?? {})) for (const [tMs, v] of points) point.run(run.id, name, tMs, v);
    })();
  }

  /** Copies every run of another results file in (pagesim merge). */
  mergeFrom(path: string): number {
    this.db.exec(`ATTACH DATABASE '${path.replaceAll("'", "''")}' AS other`);
    try {
      const n = (this.db.prepare("SELECT count(*) AS n FROM other.runs").get() as { n: number }).n;
      this.db.transaction(() => {
        this.db.exec("INSERT OR REPLACE INTO runs SELECT * FROM other.runs");
        this.db.exec("INSERT OR REPLACE INTO run_params SELECT * FROM other.run_params");
        this.db.exec("INSERT OR REPLACE INTO metrics SELECT * FROM other.metrics");
        this.db.exec("INSERT OR REPLACE INTO series SELECT * FROM other.series");
        this.db.exec("INSERT OR IGNORE INTO sweep SELECT * FROM other.sweep");
      })();
      return n;
    } finally {
      this.db.exec("DETACH DATABASE other");
    }
  }

  close(): void {
    this.db.pragma("wal_checkpoint(TRUNCATE)");
    this.db.close();
  }
}
