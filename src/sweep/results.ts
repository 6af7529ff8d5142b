import Database from "better-sqlite3";
import type { RunInputs } from "./inputs.ts";
import type { PlannedRun } from "./plan.ts";
import type { RunResult } from "./worker.ts";

/** The columns of `runs`, in order: merge and migration name them rather than trust `SELECT *`. */
const RUN_COLUMNS = [
  "run_id", "run_index", "workload", "repetition", "seed", "status", "error", "wall_ms", "events", "end_ns", "digest",
  "run_key", "inputs_hash", "model_hash", "workload_hash", "platform_hash",
] as const;
/** Added after results files existed: an older file gets them (NULL: every run counts as changed). */
const HASH_COLUMNS = ["run_key", "inputs_hash", "model_hash", "workload_hash", "platform_hash"] as const;

const SCHEMA = [
  "CREATE TABLE IF NOT EXISTS sweep (key TEXT PRIMARY KEY, value TEXT)",
  `CREATE TABLE IF NOT EXISTS runs (
     run_id TEXT PRIMARY KEY, run_index INTEGER, workload TEXT, repetition INTEGER, seed INTEGER,
     status TEXT, error TEXT, wall_ms REAL, events INTEGER, end_ns INTEGER, digest TEXT,
     run_key TEXT, inputs_hash TEXT, model_hash TEXT, workload_hash TEXT, platform_hash TEXT)`,
  // `value` has no declared type, so SQLite keeps each value as bound: integers, reals, text.
  "CREATE TABLE IF NOT EXISTS run_params (run_id TEXT, name TEXT, value, PRIMARY KEY (run_id, name))",
  "CREATE TABLE IF NOT EXISTS metrics (run_id TEXT, name TEXT, value REAL, PRIMARY KEY (run_id, name))",
  "CREATE TABLE IF NOT EXISTS series (run_id TEXT, name TEXT, t_ms REAL, value REAL, PRIMARY KEY (run_id, name, t_ms))",
  // Run directories a resume still has to move to their runs' new ids (src/sweep/run-dirs.ts).
  "CREATE TABLE IF NOT EXISTS pending_moves (from_id TEXT, to_id TEXT PRIMARY KEY)",
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

/** Older files stored parameter values as JSON text ('"xe"', '100'): this gives them typed. */
const JSON_TO_TYPED = `CASE WHEN json_valid(value) AND json_type(value) IN ('true', 'false') THEN json_type(value)
                           WHEN json_valid(value) THEN json_extract(value, '$') ELSE value END`;

/** A run as an earlier sweep recorded it: what --resume compares the plan with. */
export interface RecordedRun {
  runId: string;
  runIndex: number;
  workload: string;
  status: string;
  events: number;
  runKey: string | null;
  inputsHash: string | null;
  modelHash: string | null;
  workloadHash: string | null;
  platformHash: string | null;
}

/**
 * A parameter value as results.sqlite stores it: an integer as INTEGER, another number as REAL,
 * text as TEXT (no JSON quotes, so `WHERE value = 'xe'` works), a boolean as the TEXT 'true' or
 * 'false' (as the sweep file says it).
 */
export function paramValue(v: unknown): bigint | number | string | null {
  if (typeof v === "number") return Number.isSafeInteger(v) ? BigInt(v) : v;
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return v ? "true" : "false";
  return v === null || v === undefined ? null : JSON.stringify(v);
}

/**
 * results.sqlite of a sweep: one `runs` row per run (its workload, seed, status, wall time,
 * events, and the hashes of its inputs), its parameters in `run_params`, its figures in
 * `metrics`, its time series in `series`. A run's rows are written in one transaction when it
 * completes, so a killed sweep never leaves half a run recorded. The rollback journal (not WAL)
 * leaves no -wal/-shm files beside it, however the process ends.
 */
export class SweepResults {
  private readonly db: Database.Database;

  constructor(readonly path: string) {
    this.db = new Database(path);
    this.db.pragma("journal_mode = DELETE");
    this.db.pragma("synchronous = NORMAL");
    for (const sql of SCHEMA) this.db.exec(sql);
    this.migrate();
  }

  /** Brings a results file of an older pagesim to this schema: hash columns, typed parameters. */
  private migrate(): void {
    const db = this.db;
    const have = new Set((db.prepare("PRAGMA table_info(runs)").all() as { name: string }[]).map((c) => c.name));
    for (const c of HASH_COLUMNS) if (!have.has(c)) db.exec(`ALTER TABLE runs ADD COLUMN ${c} TEXT`);
    const valueType = (db.prepare("PRAGMA table_info(run_params)").all() as { name: string; type: string }[]).find((c) => c.name === "value")?.type;
    if (valueType === "TEXT") {
      db.transaction(() => {
        db.exec("ALTER TABLE run_params RENAME TO run_params_json");
        db.exec(SCHEMA[2]!);
        db.exec(`INSERT INTO run_params SELECT run_id, name, ${JSON_TO_TYPED} FROM run_params_json`);
        db.exec("DROP TABLE run_params_json");
      })();
    }
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

  /** Every run recorded, complete or not, with its input hashes (null in older files). */
  recordedRuns(): RecordedRun[] {
    return (
      this.db
        .prepare("SELECT run_id, run_index, workload, status, events, run_key, inputs_hash, model_hash, workload_hash, platform_hash FROM runs ORDER BY run_index, run_id")
        .all() as Record<string, unknown>[]
    ).map((r) => ({
      runId: String(r.run_id),
      runIndex: Number(r.run_index),
      workload: String(r.workload),
      status: String(r.status),
      events: Number(r.events),
      runKey: (r.run_key as string | null) ?? null,
      inputsHash: (r.inputs_hash as string | null) ?? null,
      modelHash: (r.model_hash as string | null) ?? null,
      workloadHash: (r.workload_hash as string | null) ?? null,
      platformHash: (r.platform_hash as string | null) ?? null,
    }));
  }

  /**
   * Applies a resume's bookkeeping in one transaction: drops the rows of runs that are removed or
   * re-run, gives kept runs whose place in the plan moved their new id (through temporary ids, so
   * that ids may swap), and every kept run its index, repetition and workload path in this plan. The run directories follow from the journal it
   * leaves (pending_moves, phase "stage"): see finishRunDirMoves.
   */
  reconcile(dropped: readonly string[], moved: readonly { from: string; to: PlannedRun }[], kept: readonly PlannedRun[] = []): void {
    const db = this.db;
    const tables = ["runs", "run_params", "metrics", "series"];
    db.transaction(() => {
      for (const id of dropped) for (const t of tables) db.prepare(`DELETE FROM ${t} WHERE run_id = ?`).run(id);
      for (const { from, to } of moved) for (const t of tables) db.prepare(`UPDATE ${t} SET run_id = ? WHERE run_id = ?`).run(`~${to.id}`, from);
      for (const { to } of moved) for (const t of tables) db.prepare(`UPDATE ${t} SET run_id = ? WHERE run_id = ?`).run(to.id, `~${to.id}`);
      // Every kept run takes its place in this plan: its index, repetition, and workload path as
      // named from here (the same file, reached from another directory, keeps its runs).
      const place = db.prepare("UPDATE runs SET run_index = ?, repetition = ?, workload = ? WHERE run_id = ?");
      for (const run of [...kept, ...moved.map((m) => m.to)]) place.run(run.index, run.repetition, run.workloadName, run.id);
      db.exec("DELETE FROM pending_moves");
      const put = db.prepare("INSERT INTO pending_moves (from_id, to_id) VALUES (?, ?)");
      for (const { from, to } of moved) put.run(from, to.id);
      db.prepare("INSERT OR REPLACE INTO sweep (key, value) VALUES ('run_dirs_phase', 'stage')").run();
    })();
  }

  /** The run-directory journal: its phase ("stage", "place" or none) and the moves left. */
  pendingMoves(): { phase: string | undefined; moves: { from: string; to: string }[]; recordedIds: Set<string> } {
    const phase = this.meta("run_dirs_phase") || undefined;
    const moves = (this.db.prepare("SELECT from_id, to_id FROM pending_moves ORDER BY to_id").all() as { from_id: string; to_id: string }[]).map((m) => ({ from: m.from_id, to: m.to_id }));
    const recordedIds = new Set((this.db.prepare("SELECT run_id FROM runs").all() as { run_id: string }[]).map((r) => r.run_id));
    return { phase, moves, recordedIds };
  }

  setMovesPhase(phase: "place" | ""): void {
    this.db.transaction(() => {
      if (phase === "") this.db.exec("DELETE FROM pending_moves");
      this.db.prepare("INSERT OR REPLACE INTO sweep (key, value) VALUES ('run_dirs_phase', ?)").run(phase);
    })();
  }

  record(run: PlannedRun, result: RunResult, inputs?: RunInputs & { runKey: string }): void {
    const db = this.db;
    db.transaction(() => {
      db.prepare(`INSERT OR REPLACE INTO runs (${RUN_COLUMNS.join(", ")}) VALUES (${RUN_COLUMNS.map(() => "?").join(", ")})`).run(
        run.id, run.index, run.workloadName, run.repetition, BigInt(run.seed), result.status, result.error ?? null, result.wallMs, result.events, result.endNs, result.digest,
        inputs?.runKey ?? null, inputs?.inputsHash ?? null, inputs?.modelHash ?? null, inputs?.workloadHash ?? null, inputs?.platformHash ?? null,
      );
      db.prepare("DELETE FROM run_params WHERE run_id = ?").run(run.id);
      db.prepare("DELETE FROM metrics WHERE run_id = ?").run(run.id);
      db.prepare("DELETE FROM series WHERE run_id = ?").run(run.id);
      const param = db.prepare("INSERT INTO run_params VALUES (?, ?, ?)");
      for (const [k, v] of Object.entries(run.params)) param.run(run.id, k, paramValue(v));
      // The run's recorded parameters (timesliceMs, timesliceFrom): named apart from every key path a sweep can set.
      for (const [k, v] of Object.entries(result.parameters ?? {})) param.run(run.id, k, paramValue(v));
      const metric = db.prepare("INSERT INTO metrics VALUES (?, ?, ?)");
      for (const [k, v] of Object.entries(result.metrics)) metric.run(run.id, k, v);
      const point = db.prepare("INSERT INTO series VALUES (?, ?, ?, ?)");
      for (const [name, points] of Object.entries(result.series ?? {})) for (const [tMs, v] of points) point.run(run.id, name, tMs, v);
    })();
  }

  /**
   * Copies every run of another results file in (pagesim merge), hashes included. The other file
   * is only read: an older one's missing hash columns arrive as NULL, its JSON-text parameter
   * values typed.
   */
  mergeFrom(path: string): number {
    this.db.exec(`ATTACH DATABASE '${path.replaceAll("'", "''")}' AS other`);
    try {
      const n = (this.db.prepare("SELECT count(*) AS n FROM other.runs").get() as { n: number }).n;
      const theirs = new Set((this.db.prepare("PRAGMA other.table_info(runs)").all() as { name: string }[]).map((c) => c.name));
      const valueType = (this.db.prepare("PRAGMA other.table_info(run_params)").all() as { name: string; type: string }[]).find((c) => c.name === "value")?.type;
      const cols = RUN_COLUMNS.join(", ");
      const picked = RUN_COLUMNS.map((c) => (theirs.has(c) ? c : "NULL")).join(", ");
      this.db.transaction(() => {
        this.db.exec(`INSERT OR REPLACE INTO runs (${cols}) SELECT ${picked} FROM other.runs`);
        this.db.exec(`INSERT OR REPLACE INTO run_params (run_id, name, value) SELECT run_id, name, ${valueType === "TEXT" ? JSON_TO_TYPED : "value"} FROM other.run_params`);
        this.db.exec("INSERT OR REPLACE INTO metrics (run_id, name, value) SELECT run_id, name, value FROM other.metrics");
        this.db.exec("INSERT OR REPLACE INTO series (run_id, name, t_ms, value) SELECT run_id, name, t_ms, value FROM other.series");
        this.db.exec("INSERT OR IGNORE INTO sweep (key, value) SELECT key, value FROM other.sweep");
      })();
      return n;
    } finally {
      this.db.exec("DETACH DATABASE other");
    }
  }

  close(): void {
    this.db.close();
  }
}
