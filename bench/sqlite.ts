/**
 * The SQLite sink's speed against raw better-sqlite3, measured in the same process:
 *   npx tsx bench/sqlite.ts [cycles]
 * Records a log of about 72k rows per cycle (the timeslice-refault scenario repeated; 15 cycles
 * give a little over 1M rows), then times, median of 5, interleaved:
 *   ours  writeSqlite(events.arrow → events.sqlite), the whole call;
 *   raw   the same rows already decoded into parameter arrays in memory, inserted into the same
 *         table with the same pragmas, 64-row statements, one transaction per 64k rows, the same
 *         indexes and close: all SQLite work, none of reading Arrow.
 * The goal: ours ≥ 70 % of raw. Prints the figures and one JSON line.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArrowEventWriter } from "../src/record/arrow-file.ts";
import { readEventRows } from "../src/record/reader.ts";
import { EventRecorder } from "../src/record/recorder.ts";
import { COLUMNS } from "../src/record/schema.ts";
import { ROWS_PER_INSERT, finishLoad, insertEventsSql, openForLoad, writeSqlite, type SqliteMeta } from "../src/record/sqlite.ts";
import { parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";
import { refaultWorkloadText } from "./refault-workload.ts";
import { median } from "./args.ts";

const CYCLES = Number(process.argv[2] ?? 15);
const RUNS = Number(process.argv[3] ?? 5);
const TRANSACTION_ROWS = 65536;

function recordLog(arrow: string): { rows: number; simMs: number; meta: SqliteMeta } {
  const writer = new ArrowEventWriter(arrow);
  let rec!: EventRecorder;
  const start = performance.now();
  const { world } = runWorkload(parseWorkload(refaultWorkloadText(CYCLES, "timeslice-refault, repeated (bench/sqlite.ts)"), "bench-sqlite"), undefined, {
    onLog: (log) => {
      rec = new EventRecorder(log.state, [writer]);
      log.subscribe(rec);
    },
  });
  rec.flush();
  writer.close();
  const simMs = performance.now() - start;
  return { rows: rec.rowsWritten, simMs, meta: { run: { workload: "bench-sqlite", seed: 1 }, threads: rec.threads, objects: [...world.engine.objectNames()] } };
}

/** The log as the raw baseline binds it: per transaction, its statements' flat parameter arrays. */
async function decodeForRaw(arrow: string): Promise<unknown[][][]> {
  const transactions: unknown[][][] = [];
  let statements: unknown[][] = [];
  let params: unknown[] = [];
  let inTransaction = 0;
  for await (const row of readEventRows(arrow)) {
    for (const def of COLUMNS) {
      const v = def.name === "check" ? row.recordedCheck : row.values[def.name];
      params.push(v === undefined ? null : typeof v === "boolean" ? Number(v) : Array.isArray(v) ? JSON.stringify(v) : v);
    }
    if (params.length === ROWS_PER_INSERT * COLUMNS.length) {
      statements.push(params);
      params = [];
    }
    if (++inTransaction === TRANSACTION_ROWS) {
      if (params.length > 0) statements.push(params);
      transactions.push(statements);
      statements = [];
      params = [];
      inTransaction = 0;
    }
  }
  if (params.length > 0) statements.push(params);
  if (statements.length > 0) transactions.push(statements);
  return transactions;
}

function rawLoad(path: string, transactions: unknown[][][]): void {
  const tmp = `${path}.tmp`;
  for (const suffix of ["", "-wal", "-shm"]) rmSync(tmp + suffix, { force: true });
  const db = openForLoad(tmp);
  const full = db.prepare(insertEventsSql(ROWS_PER_INSERT));
  const load = db.transaction((statements: unknown[][]) => {
    for (const params of statements) (params.length === ROWS_PER_INSERT * COLUMNS.length ? full : db.prepare(insertEventsSql(params.length / COLUMNS.length))).run(params);
  });
  for (const statements of transactions) load(statements);
  finishLoad(db);
  const fd = openSync(tmp, "r"); // writeSqlite syncs once before its rename: so does the baseline
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}

const rate = (rows: number, ms: number) => Math.round(rows / (ms / 1000));

const dir = mkdtempSync(join(tmpdir(), "pagesim-bench-sqlite-"));
try {
  const arrow = join(dir, "events.arrow");
  const { rows, simMs, meta } = recordLog(arrow);
  console.log(`log: ${rows} rows, recorded in ${(simMs / 1000).toFixed(2)} s (${rate(rows, simMs)} rows/s simulating + Arrow)`);
  const transactions = await decodeForRaw(arrow);
  const ours: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    const written = await writeSqlite(arrow, join(dir, "ours.sqlite"), meta);
    ours.push(performance.now() - t);
    if (written.rows !== rows) throw new Error(`writeSqlite wrote ${written.rows} rows, the log has ${rows}`);
    t = performance.now();
    rawLoad(join(dir, "raw.sqlite"), transactions);
    raw.push(performance.now() - t);
  }
  const oursRate = rate(rows, median(ours));
  const rawRate = rate(rows, median(raw));
  console.log(`ours (writeSqlite, Arrow → SQLite): ${oursRate} rows/s  (median ${median(ours).toFixed(0)} ms of ${ours.map((x) => x.toFixed(0)).join(", ")})`);
  console.log(`raw better-sqlite3 (decoded rows):  ${rawRate} rows/s  (median ${median(raw).toFixed(0)} ms of ${raw.map((x) => x.toFixed(0)).join(", ")})`);
  console.log(`ratio ours / raw: ${((100 * oursRate) / rawRate).toFixed(1)} %  (goal ≥ 70 %)`);
  console.log(JSON.stringify({ bench: "sqlite", rows, oursRowsPerS: oursRate, rawRowsPerS: rawRate, ratio: oursRate / rawRate, simRowsPerS: rate(rows, simMs) }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
