import { closeSync, fsyncSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { Message, RecordBatchReader, type RecordBatch } from "apache-arrow";
import Database from "better-sqlite3";
import { ENGINE_EVENT_KINDS, type EngineEventKind } from "../engine/index.ts";
import { batchLayout, LogFormatError, type BatchLayout, type ColumnView } from "./reader.ts";
import { COLUMN_INDEX, COLUMNS, EVENT_KINDS, FIELDS_MEMBERS, HEADER_COLUMNS, RUN_EVENT_SPECS, isEngineKind, type ColumnDef } from "./schema.ts";

/** What the SQLite file says about the run besides its events (run.json holds the same). */
export interface SqliteMeta {
  run: Record<string, string | number | boolean>;
  threads: { uid: number; name: string; ctx: string }[];
  objects: string[];
}

/** Rows bound per INSERT: 64 × 72 columns is 4,608 parameters, far under SQLite's 32,766. */
export const ROWS_PER_INSERT = 64;
const NCOL = COLUMNS.length;

const SQL_TYPES: Record<ColumnDef["type"], string> = { i32: "INTEGER", u32: "INTEGER", i64: "INTEGER", bool: "INTEGER", enum: "TEXT", text: "TEXT", i64list: "TEXT" };

/** Every column name is quoted: many ("index", "order", "end", "check", …) are SQL keywords, and quoting all needs no keyword list. */
const quote = (name: string) => `"${name}"`;

/** The schema, shared with bench/sqlite.ts so its raw baseline fills the very same table. */
export const SQLITE_SCHEMA = [
  `CREATE TABLE events (${COLUMNS.map((c) => `${quote(c.name)} ${c.name === "seq" ? "INTEGER PRIMARY KEY" : SQL_TYPES[c.type]}`).join(", ")})`,
  "CREATE TABLE run (key TEXT PRIMARY KEY, value)",
  "CREATE TABLE threads (uid INTEGER PRIMARY KEY, name TEXT, ctx TEXT)",
  "CREATE TABLE objects (id INTEGER PRIMARY KEY, name TEXT)",
  "CREATE TABLE kinds (kind TEXT PRIMARY KEY, doc TEXT)",
];
/** Built after the load: maintaining them row by row would slow every insert. */
export const SQLITE_INDEXES = ['CREATE INDEX events_kind ON events("kind")', 'CREATE INDEX events_thread ON events("thread", "seq")'];

export function insertEventsSql(rows: number): string {
  const tuple = `(${new Array<string>(NCOL).fill("?").join(",")})`;
  return `INSERT INTO events VALUES ${new Array<string>(rows).fill(tuple).join(",")}`;
}

/**
 * Opens a new database for the bulk load. WAL, and synchronous=OFF because nothing is worth
 * syncing until the whole file is there: a crash leaves only the .tmp file, never the final name.
 */
export function openForLoad(path: string): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  db.pragma("temp_store = FILE"); // index builds sort in temporary files: memory stays flat however long the log
  db.pragma("cache_size = -16384"); // 16 MiB: bounded, whatever the log's length
  db.pragma("user_version = 1"); // the layout of this file, for readers that check
  for (const sql of SQLITE_SCHEMA) db.exec(sql);
  return db;
}

/**
 * Builds the indexes, folds the WAL into the file and closes it. It leaves rollback-journal mode
 * set, so the file opens read-only anywhere (a WAL file needs a writable directory for its -shm)
 * and nothing but the one file remains.
 */
export function finishLoad(db: Database.Database): void {
  for (const sql of SQLITE_INDEXES) db.exec(sql);
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.pragma("journal_mode = DELETE");
  db.close();
}

/** Writes params[r * NCOL + col] for rows first .. first + count - 1 of a batch (one column, or all the fields). */
type Fill = (params: unknown[], first: number, count: number) => void;

/** A value as SQLite stores it: booleans 0/1, an int64 list as a JSON array (SQLite's json_each() takes it apart). */
function sqlValue(type: ColumnDef["type"], value: number | boolean | string | number[]): unknown {
  if (type === "bool") return value === true ? 1 : 0;
  if (type === "i64list") return `[${(value as number[]).join(",")}]`;
  return value;
}

/** A header or checksum column, filled column by column. */
function headerFill(view: ColumnView): Fill {
  const col = COLUMN_INDEX[view.name];
  return (p, first, count) => {
    for (let r = 0, i = first, at = col; r < count; r++, i++, at += NCOL) p[at] = sqlValue(view.type as ColumnDef["type"], view.get(i));
  };
}

/** Every field column of the wide table: null, except the columns of the row's own union member. */
function fieldsFill(layout: BatchLayout): Fill {
  const header = new Set<number>([...HEADER_COLUMNS.map((n) => COLUMN_INDEX[n]), COLUMN_INDEX.check]);
  const fieldColumns = COLUMNS.map((_, col) => col).filter((col) => !header.has(col));
  const { typeIds, offsets, members } = layout;
  return (p, first, count) => {
    for (let r = 0, i = first; r < count; r++, i++) {
      const base = r * NCOL;
      for (const col of fieldColumns) p[base + col] = null;
      const typeId = typeIds[i]!;
      const j = offsets[i]!;
      const columns = FIELDS_MEMBERS[typeId]!.columns;
      const views = members[typeId]!;
      for (let k = 0; k < views.length; k++) {
        const v = views[k]!;
        if (v.valid(j)) p[base + columns[k]!] = sqlValue(v.type as ColumnDef["type"], v.get(j));
      }
    }
  };
}

function batchFills(batch: RecordBatch, path: string): Fill[] {
  const layout = batchLayout(batch, path);
  return [...layout.header.map(headerFill), headerFill(layout.check), fieldsFill(layout)];
}

/** One IPC stream message: continuation marker, metadata length, metadata padded to 8 bytes. */
function framed(metadata: Uint8Array): Uint8Array {
  const padded = (metadata.length + 7) & ~7;
  const out = new Uint8Array(8 + padded);
  new DataView(out.buffer).setInt32(0, -1, true);
  new DataView(out.buffer).setInt32(4, padded, true);
  out.set(metadata, 8);
  return out;
}

/**
 * The log's record batches, one at a time, read into one reused buffer. apache-arrow's async file
 * reader allocates a new buffer per batch, and on the 2-core VM this was measured on, touching
 * fresh memory runs at ~250 MB/s: 0.7 s of reading for a 1M-row log, against 0.15 s reused.
 * Each batch is framed as a small IPC stream (schema, dictionaries, the batch) and decoded
 * without copying, so a batch is valid only until the next one is read.
 */
async function* logBatches(path: string): AsyncGenerator<RecordBatch> {
  const handle = await open(path, "r");
  try {
    const file = await RecordBatchReader.from(handle);
    await file.open(); // checks the magic and reads the footer: the schema and where each message is
    const footer = file.isFile() ? file.footer : null;
    if (footer === null) throw new LogFormatError(`${path}: not an Arrow IPC file`);
    const readBlock = async (into: Uint8Array, at: number, block: { offset: number; metaDataLength: number; bodyLength: number }) => {
      const size = block.metaDataLength + block.bodyLength;
      for (let done = 0; done < size; ) {
        const { bytesRead } = await handle.read(into, at + done, size - done, block.offset + done);
        if (bytesRead === 0) throw new LogFormatError(`${path}: truncated`);
        done += bytesRead;
      }
      return at + size;
    };
    // The prefix every batch's stream starts with: the schema message, then the dictionaries.
    const parts = [framed(Message.encode(Message.from(file.schema)))];
    for (const block of footer.dictionaryBatches()) {
      const part = new Uint8Array(block.metaDataLength + block.bodyLength);
      await readBlock(part, 0, block);
      parts.push(part);
    }
    const prefix = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      prefix.set(p, at);
      at += p.length;
    }
    let buffer = new Uint8Array(0);
    let index = 0;
    for (const block of footer.recordBatches()) {
      const length = prefix.length + block.metaDataLength + block.bodyLength + 8;
      if (buffer.length < length) {
        buffer = new Uint8Array(Math.ceil(length * 1.25)); // slack, so a slightly larger batch reuses it
        buffer.set(prefix, 0);
      }
      const end = await readBlock(buffer, prefix.length, block);
      new DataView(buffer.buffer).setBigInt64(end, 0xffffffffn, true); // end of stream
      yield decodeOne(buffer.subarray(0, length), path, index++, footer.numRecordBatches);
    }
  } finally {
    await handle.close();
  }
}

/** The one batch of a framed stream, or a sentence naming it when its bytes do not decode. */
function decodeOne(stream: Uint8Array, path: string, index: number, batches: number): RecordBatch {
  let decoded: RecordBatch[] = [];
  try {
    const reader = RecordBatchReader.from(stream);
    reader.open();
    decoded = [...reader];
  } catch {
    // fall through: named below
  }
  if (decoded.length !== 1) throw new LogFormatError(`${path}: damaged: record batch ${index + 1} of ${batches} cannot be decoded`);
  return decoded[0]!;
}

function insertMeta(db: Database.Database, meta: SqliteMeta): void {
  const run = db.prepare("INSERT INTO run VALUES (?, ?)");
  const thread = db.prepare("INSERT INTO threads VALUES (?, ?, ?)");
  const object = db.prepare("INSERT INTO objects VALUES (?, ?)");
  const kind = db.prepare("INSERT INTO kinds VALUES (?, ?)");
  db.transaction(() => {
    // SQLite has no booleans; 0/1 is what its own functions return.
    for (const [key, value] of Object.entries(meta.run)) run.run(key, typeof value === "boolean" ? Number(value) : value);
    for (const t of meta.threads) thread.run(t.uid, t.name, t.ctx);
    meta.objects.forEach((name, id) => object.run(id, name));
    for (const k of EVENT_KINDS) kind.run(k, isEngineKind(k) ? ENGINE_EVENT_KINDS[k as EngineEventKind] : RUN_EVENT_SPECS[k as keyof typeof RUN_EVENT_SPECS].doc);
  })();
}

const removeDatabase = (path: string) => {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(path + suffix, { force: true });
};

/**
 * Fills an SQLite file from events.arrow, after the run: SQLite inserts cost several times what
 * simulating an event does, so they are kept off the simulation. Built under `${sqlitePath}.tmp`
 * and renamed when complete. Same log and meta, same bytes (no timestamps are stored).
 */
export async function writeSqlite(arrowPath: string, sqlitePath: string, meta: SqliteMeta): Promise<{ rows: number; bytes: number }> {
  const tmp = `${sqlitePath}.tmp`;
  removeDatabase(tmp);
  let db: Database.Database | null = null;
  let rows = 0;
  try {
    const live = (db = openForLoad(tmp));
    insertMeta(live, meta);
    const full = live.prepare(insertEventsSql(ROWS_PER_INSERT));
    const params = new Array<unknown>(ROWS_PER_INSERT * NCOL).fill(null); // reused: one array, no garbage per statement
    // One transaction per Arrow batch: about 64k rows, so a commit costs little per row.
    const insertBatch = live.transaction((batch: RecordBatch) => {
      const fills = batchFills(batch, arrowPath);
      const n = batch.numRows;
      let first = 0;
      for (; first + ROWS_PER_INSERT <= n; first += ROWS_PER_INSERT) {
        for (const fill of fills) fill(params, first, ROWS_PER_INSERT);
        full.run(params);
      }
      const rest = n - first;
      if (rest > 0) {
        const tail = new Array<unknown>(rest * NCOL).fill(null);
        for (const fill of fills) fill(tail, first, rest);
        live.prepare(insertEventsSql(rest)).run(tail);
      }
    });
    for await (const batch of logBatches(arrowPath)) {
      insertBatch(batch);
      rows += batch.numRows;
    }
    finishLoad(live);
    // synchronous=OFF never synced: do it once, before the name says the file is complete.
    const fd = openSync(tmp, "r");
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, sqlitePath);
  } catch (err) {
    if (db?.open === true) db.close();
    removeDatabase(tmp);
    throw err;
  }
  return { rows, bytes: statSync(sqlitePath).size };
}
