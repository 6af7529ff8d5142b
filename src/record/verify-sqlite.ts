import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import type { EventRow } from "./reader.ts";
import { COLUMNS } from "./schema.ts";
import type { Divergence } from "./divergence.ts";

const FILE = "events.sqlite";
const NCOL = COLUMNS.length;
const NAMES = COLUMNS.map((c) => c.name);
const TYPES = COLUMNS.map((c) => c.type);
const CONVERTED = COLUMNS.map((c) => c.type === "bool" || c.type === "i64list");
const CHECK = NAMES.indexOf("check");

/** What events.sqlite stores for a value of the Arrow log (as src/record/sqlite.ts writes it). */
function stored(type: string, v: EventRow["values"][keyof EventRow["values"]]): unknown {
  if (v === undefined) return null;
  if (type === "bool") return v === true ? 1 : 0;
  if (type === "i64list") return JSON.stringify(v);
  return v;
}

const show = (v: unknown): string => (v === null ? "NULL" : typeof v === "string" ? JSON.stringify(v) : String(v));
const sqliteMessage = (error: unknown): string => (error instanceof Database.SqliteError ? `${error.message} (${error.code})` : "it cannot be read");

/**
 * Compares events.sqlite with the Arrow log row by row, every column, as verify reads the log: an
 * edited value, a missing or an extra row is named by its seq. The file must first pass SQLite's
 * own integrity check. SQLite errors (a corrupt page met while reading) become divergences too.
 */
export class SqliteLogCheck {
  rows = 0;
  private constructor(
    private readonly db: Database.Database,
    private readonly iterator: IterableIterator<unknown[]>,
  ) {}

  /** Opens the file and runs PRAGMA integrity_check: a check to compare rows with, or why it cannot be one. */
  static open(path: string): SqliteLogCheck | Divergence {
    if (!existsSync(path)) return fileDivergence("the run recorded events.sqlite but it is missing");
    let db: Database.Database | null = null;
    const give = (d: Divergence) => {
      if (db?.open === true) db.close();
      return d;
    };
    try {
      db = new Database(path, { readonly: true, fileMustExist: true });
      db.prepare("SELECT count(*) FROM sqlite_master").get();
    } catch (error) {
      return give(fileDivergence(`not a readable SQLite database: ${sqliteMessage(error)}`));
    }
    try {
      const problems = (db.pragma("integrity_check") as { integrity_check: string }[]).map((r) => r.integrity_check);
      if (problems.length !== 1 || problems[0] !== "ok") return give(fileDivergence(`fails SQLite's integrity check (${problems.length} problems): ${problems.slice(0, 3).join("; ")}`));
    } catch (error) {
      return give(fileDivergence(`fails SQLite's integrity check: ${sqliteMessage(error)}`));
    }
    try {
      const names = db.prepare("SELECT * FROM events LIMIT 0").columns().map((c) => c.name);
      const want = COLUMNS.map((c) => c.name);
      if (names.join() !== want.join()) return give(fileDivergence("its events table does not have the log's columns", want.join(","), names.join(",")));
      return new SqliteLogCheck(db, db.prepare("SELECT * FROM events ORDER BY seq").raw().iterate() as IterableIterator<unknown[]>);
    } catch (error) {
      return give(fileDivergence(`has no readable events table: ${sqliteMessage(error)}`));
    }
  }

  /** The next Arrow row against the next SQLite row: null when they are the same in every column. */
  compare(row: EventRow): Divergence | null {
    const at = { seq: row.seq, kind: row.kind };
    let next: IteratorResult<unknown[]>;
    try {
      next = this.iterator.next();
    } catch (error) {
      return { ...at, what: `${FILE} cannot be read here: ${sqliteMessage(error)}` };
    }
    if (next.done === true) return { ...at, what: `${FILE} lacks this row (and every later one): it ends after ${this.rows} rows` };
    const got = next.value;
    const seq = got[0] as number;
    if (seq < row.seq) return { seq, kind: String(got[2]), what: `${FILE} has a row seq ${seq} that the Arrow log does not` };
    if (seq > row.seq) return { ...at, what: `${FILE} lacks this row`, expected: `seq ${row.seq}`, found: `seq ${seq} next` };
    this.rows++;
    const values = row.values;
    for (let col = 0; col < NCOL; col++) {
      const name = NAMES[col]!;
      const v = values[name];
      // Most columns hold what the Arrow row holds, or NULL; bool and list columns are converted first.
      const want = col === CHECK ? row.recordedCheck : v === undefined ? null : CONVERTED[col] ? stored(TYPES[col]!, v) : v;
      if (got[col] !== want) return { ...at, what: `${FILE} differs from events.arrow in column ${name}`, expected: show(want), found: show(got[col]) };
    }
    return null;
  }

  /** After the last Arrow row: SQLite must have no rows left. */
  finish(lastSeq: number): Divergence | null {
    let next: IteratorResult<unknown[]>;
    try {
      next = this.iterator.next();
    } catch (error) {
      return fileDivergence(`cannot be read after seq ${lastSeq}: ${sqliteMessage(error)}`);
    }
    if (next.done === true) return null;
    const seq = next.value[0] as number;
    return { seq, kind: String(next.value[2]), what: `${FILE} has a row seq ${seq} past the end of the Arrow log (seq ${lastSeq})` };
  }

  close(): void {
    this.iterator.return?.();
    this.db.close();
  }
}

function fileDivergence(what: string, expected?: string, found?: string): Divergence {
  return { seq: -1, kind: `(${FILE})`, what: `${FILE}: ${what}`, ...(expected === undefined ? {} : { expected }), ...(found === undefined ? {} : { found }) };
}
