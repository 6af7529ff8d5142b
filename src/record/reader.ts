import { open, type FileHandle } from "node:fs/promises";
import { basename } from "node:path";
import { RecordBatchReader, type Data, type RecordBatch } from "apache-arrow";
import { rowHashStep } from "./batch.ts";
import { FILE_COLUMNS } from "./arrow-file.ts";
import { COLUMN_INDEX, COLUMNS, EVENT_KINDS, FIELDS_MEMBERS, HEADER_COLUMNS, KIND_INDEX, MEMBER_OF_KIND, RUN_EVENT_SPECS, type ColumnName } from "./schema.ts";
import type { RunEvent } from "../machine/run-events.ts";

/** One row of events.arrow, decoded: the header, and every non-null column by name. */
export interface EventRow {
  seq: number;
  tNs: number;
  kind: string;
  thread: number;
  ctx: string;
  /** Every non-null column of the row (header columns included), by column name. */
  values: Partial<Record<ColumnName, number | boolean | string | number[]>>;
  /** The checksum recorded with the row, and the one its values give now. */
  recordedCheck: number;
  computedCheck: number;
}

/** Rebuilds a run event from its row; null when the row lacks a field its kind needs. */
export function decodeEvent(row: EventRow): { ev: RunEvent } | { missing: string } {
  const spec = RUN_EVENT_SPECS[row.kind as RunEvent["kind"]];
  const ev: Record<string, unknown> = { kind: row.kind };
  for (const [field, column] of Object.entries(spec.fields as Record<string, ColumnName>)) {
    const value = row.values[column];
    if (value === undefined) return { missing: `${field} (column ${column})` };
    ev[field] = value;
  }
  return { ev: ev as RunEvent };
}

/** Thrown when a file is not an events log pagesim can read. */
export class LogFormatError extends Error {
  override name = "LogFormatError";
}

export interface ColumnView {
  name: ColumnName;
  type: string;
  valid: (i: number) => boolean;
  get: (i: number) => number | boolean | string | number[];
  /** Folds row i's value into a checksum the way the recorder did. */
  mix: (h: number, i: number) => number;
}

/** A typed-array view of one column's Arrow data (col: its index in COLUMNS); reading a value allocates nothing but its result. */
export function columnView(col: number, data: Data): ColumnView {
  const def = COLUMNS[col]!;
  const bitmap = data.nullBitmap;
  const offset = data.offset;
  const valid = data.nullCount === 0 || bitmap === undefined || bitmap.length === 0 ? () => true : (i: number) => ((bitmap[(i + offset) >> 3]! >> ((i + offset) & 7)) & 1) === 1;
  const base = { name: def.name as ColumnName, type: def.type, valid };
  switch (def.type) {
    case "i32":
    case "u32": {
      const values = data.values as Int32Array | Uint32Array;
      return { ...base, get: (i) => values[i + offset]!, mix: (h, i) => rowHashStep(h, col, values[i + offset]! | 0) };
    }
    case "i64": {
      const values = data.values as unknown as BigInt64Array;
      const words = new Int32Array(values.buffer, values.byteOffset, values.length * 2);
      return {
        ...base,
        get: (i) => int64At(words, values, i + offset),
        mix: (h, i) => rowHashStep(rowHashStep(h, col, words[2 * (i + offset)]!), col, words[2 * (i + offset) + 1]!),
      };
    }
    case "bool": {
      const bits = data.values as Uint8Array;
      const bit = (i: number) => ((bits[(i + offset) >> 3]! >> ((i + offset) & 7)) & 1) === 1;
      return { ...base, get: bit, mix: (h, i) => rowHashStep(h, col, bit(i) ? 1 : 0) };
    }
    case "enum": {
      const indices = data.values as Int8Array | Int16Array;
      const dictionary = data.dictionary!.toArray() as string[];
      return { ...base, get: (i) => dictionary[indices[i + offset]!]!, mix: (h, i) => rowHashStep(h, col, indices[i + offset]!) };
    }
    case "text": {
      const offsets = data.valueOffsets as Int32Array;
      const bytes = data.values as Uint8Array;
      const decoder = new TextDecoder();
      return {
        ...base,
        get: (i) => decoder.decode(bytes.subarray(offsets[i + offset]!, offsets[i + offset + 1]!)),
        mix: (h, i) => {
          let x = rowHashStep(h, col, -1);
          for (let b = offsets[i + offset]!; b < offsets[i + offset + 1]!; b++) x = rowHashStep(x, col, bytes[b]!);
          return x;
        },
      };
    }
    case "i64list": {
      const offsets = data.valueOffsets as Int32Array;
      const items = data.children[0]!.values as unknown as BigInt64Array;
      const words = new Int32Array(items.buffer, items.byteOffset, items.length * 2);
      return {
        ...base,
        get: (i) => Array.from(items.subarray(offsets[i + offset]!, offsets[i + offset + 1]!), Number),
        mix: (h, i) => {
          let x = rowHashStep(h, col, -1);
          for (let k = offsets[i + offset]!; k < offsets[i + offset + 1]!; k++) x = rowHashStep(rowHashStep(x, col, words[2 * k]!), col, words[2 * k + 1]!);
          return x;
        },
      };
    }
  }
}

/**
 * The int64 at i as a number, from its two Int32 halves: reading the BigInt64Array would allocate
 * a BigInt per value. Outside ±2^53 (never seen in a log so far) it is read exactly as a BigInt and
 * converted.
 */
function int64At(words: Int32Array, big: BigInt64Array, i: number): number {
  const hi = words[2 * i + 1]!;
  return hi >= -0x200000 && hi < 0x200000 ? hi * 4294967296 + (words[2 * i]! >>> 0) : Number(big[i]!);
}

/** A batch of events.arrow taken apart: the header and checksum columns, and the `fields` union. */
export interface BatchLayout {
  header: ColumnView[];
  check: ColumnView;
  /** Each row's union type id and its row in that member. */
  typeIds: Int8Array;
  offsets: Int32Array;
  /** By type id: the member's column views, in column order. */
  members: ColumnView[][];
  /** By type id: the member's own seq column (its rows' seqs, which must be the header's). */
  memberSeqs: ColumnView[];
}

/**
 * Checks a batch has events.arrow's layout (the header, a `fields` union whose members are
 * those of FIELDS_MEMBERS with their columns, `check`) and returns views of it. A file of the
 * old wide layout (one column per field) is named as such.
 */
export function batchLayout(batch: RecordBatch, path: string): BatchLayout {
  const fields = batch.schema.fields;
  const names = fields.map((f) => f.name).join(", ");
  const expected = FILE_COLUMNS.join(", ");
  if (names !== expected) {
    const wide = fields.length === COLUMNS.length;
    throw new LogFormatError(`${basename(path)}: ${wide ? "written by an older pagesim (one column per field, before the per-kind layout); run it again to read it" : `columns (${names}), expected (${expected})`} (${path})`);
  }
  const at = (name: (typeof FILE_COLUMNS)[number]) => batch.getChildAt(FILE_COLUMNS.indexOf(name))!.data[0]!;
  const union = at("fields");
  if (union.children.length !== FIELDS_MEMBERS.length) throw new LogFormatError(`${basename(path)}: its fields union has ${union.children.length} members, expected ${FIELDS_MEMBERS.length} (${path})`);
  const members = FIELDS_MEMBERS.map((m, typeId) => {
    const struct = union.children[typeId]!;
    const field = (union.type as { children: { name: string }[] }).children[typeId]!;
    if (field.name !== m.name || struct.children.length !== m.columns.length + 1) throw new LogFormatError(`${basename(path)}: union member ${typeId} is "${field.name}", expected "${m.name}" with seq and ${m.columns.length} columns (${path})`);
    return [columnView(COLUMN_INDEX.seq, struct.children[0]!), ...m.columns.map((col, k) => columnView(col, struct.children[k + 1]!))];
  });
  return {
    header: HEADER_COLUMNS.map((name) => columnView(COLUMN_INDEX[name], at(name))),
    check: columnView(COLUMN_INDEX.check, at("check")),
    typeIds: union.typeIds as Int8Array,
    offsets: union.valueOffsets as Int32Array,
    members: members.map((views) => views.slice(1)),
    memberSeqs: members.map((views) => views[0]!),
  };
}

/** Reads events.arrow batch by batch (never the whole file in memory) and yields its rows in order. */
export async function* readEventRows(path: string): AsyncGenerator<EventRow> {
  const batches = await checkArrowFile(path);
  const handle = await open(path, "r");
  try {
    const reader = await RecordBatchReader.from(handle);
    await reader.open();
    const iterator = reader[Symbol.asyncIterator]();
    for (let index = 0; ; index++) {
      const next = await decoded(iterator.next(), path, index, batches);
      if (next.done === true) {
        // The Arrow reader ends quietly at a message it cannot find: every batch the footer lists must have come.
        if (index < batches) throw new LogFormatError(`${basename(path)}: damaged: record batch ${index + 1} of ${batches} cannot be read, so the log ends after ${index} whole batches (${path})`);
        break;
      }
      yield* batchRows(next.value, path);
    }
  } finally {
    await handle.close();
  }
}

/** A batch the Arrow library cannot decode: named by place, never by the library's own message. */
async function decoded<T>(next: Promise<T>, path: string, index: number, batches: number): Promise<T> {
  try {
    return await next;
  } catch {
    throw new LogFormatError(`${basename(path)}: damaged: record batch ${index + 1} of ${batches} cannot be decoded (${path})`);
  }
}

function* batchRows(batch: RecordBatch, path: string): Generator<EventRow> {
  const layout = batchLayout(batch, path);
  const { header, check, typeIds, offsets, members, memberSeqs } = layout;
  for (let i = 0; i < batch.numRows; i++) {
    const values: EventRow["values"] = {};
    let h = 0;
    for (const v of header) {
      values[v.name] = v.get(i);
      h = v.mix(h, i);
    }
    const kind = values.kind as string;
    const typeId = typeIds[i]!;
    if (typeId !== MEMBER_OF_KIND[KIND_INDEX.get(kind)!]) throw new LogFormatError(`${basename(path)}: event seq ${String(values.seq)} is a ${kind} but holds the fields of ${FIELDS_MEMBERS[typeId]?.name ?? `union member ${typeId}`} (${path})`);
    const j = offsets[i]!;
    if (memberSeqs[typeId]!.get(j) !== values.seq) throw new LogFormatError(`${basename(path)}: event seq ${String(values.seq)}'s fields are row ${j} of ${kind}, which says seq ${String(memberSeqs[typeId]!.get(j))} (${path})`);
    for (const v of members[typeId]!) {
      if (!v.valid(j)) continue;
      values[v.name] = v.get(j);
      h = v.mix(h, j);
    }
    yield {
      seq: values.seq as number,
      tNs: values.t_ns as number,
      kind,
      thread: values.thread as number,
      ctx: values.ctx as string,
      values,
      recordedCheck: check.get(i) as number,
      computedCheck: h >>> 0,
    };
  }
}

const MAGIC = "ARROW1";

/**
 * Checks that a file is a whole Arrow IPC file before anything reads it, and says what is wrong
 * when it is not (empty, zeroed, truncated, a footer that points past the end), so that a damaged
 * log gives a sentence naming the file rather than the Arrow library's error. Returns the number
 * of record batches its footer lists.
 */
export async function checkArrowFile(path: string): Promise<number> {
  const name = basename(path);
  const bad = (what: string) => new LogFormatError(`${name}: ${what} (${path})`);
  const handle = await open(path, "r").catch(() => {
    throw bad("cannot be read");
  });
  try {
    const size = (await handle.stat()).size;
    if (size === 0) throw bad("empty (0 bytes): not an Arrow IPC file");
    const headBytes = Math.min(size, 65536);
    const head = Buffer.alloc(headBytes);
    await handle.read(head, 0, headBytes, 0);
    const tail = Buffer.alloc(Math.min(size, 65536));
    await handle.read(tail, 0, tail.length, size - tail.length);
    const zero = (b: Buffer) => b.every((x) => x === 0);
    if (zero(head) && zero(tail)) throw bad(`not an Arrow IPC file (zeroed: its ${size} bytes start and end with zeros)`);
    if (head.toString("latin1", 0, 6) !== MAGIC) throw bad("not an Arrow IPC file (it does not start with ARROW1)");
    if (size < 18 || tail.toString("latin1", tail.length - 6) !== MAGIC) {
      const how = zero(tail) ? "its last bytes are zeros" : "it ends without the Arrow footer";
      throw bad(`truncated or damaged after ${size} bytes: ${how}, so its record batches cannot be found (a run killed while writing it, or a partial copy?)`);
    }
    const footerBytes = tail.readInt32LE(tail.length - 10);
    if (footerBytes <= 0 || footerBytes > size - 18) throw bad(`damaged: its footer length (${footerBytes} bytes) does not fit the file's ${size} bytes`);
    return await footerBatches(handle, size, bad);
  } finally {
    await handle.close();
  }
}

/** Reads the footer and checks every record batch it lists lies inside the file. */
async function footerBatches(handle: FileHandle, size: number, bad: (what: string) => LogFormatError): Promise<number> {
  let blocks: { offset: number; metaDataLength: number; bodyLength: number }[];
  try {
    const reader = await RecordBatchReader.from(handle);
    await reader.open();
    if (!reader.isFile()) throw new Error("not a file");
    blocks = [...reader.footer!.recordBatches()].map((b) => ({ offset: Number(b.offset), metaDataLength: b.metaDataLength, bodyLength: Number(b.bodyLength) }));
  } catch {
    throw bad("damaged: its footer cannot be read");
  }
  const whole = blocks.findIndex((b) => b.offset + b.metaDataLength + b.bodyLength > size);
  if (whole >= 0) throw bad(`truncated: ${size} bytes hold ${whole} of its ${blocks.length} record batches`);
  return blocks.length;
}

/**
 * The checksum of a decoded row, computed from its values the way the recorder folds them (enum
 * values by their index in the schema's fixed dictionaries). For tools and tests that edit rows.
 */
export function rowChecksum(values: EventRow["values"]): number {
  let h = 0;
  COLUMNS.forEach((def, col) => {
    const v = values[def.name];
    if (v === undefined || def.name === "check") return;
    const i64 = (n: number) => {
      h = rowHashStep(rowHashStep(h, col, (n >>> 0) | 0), col, Math.floor(n / 4294967296) | 0);
    };
    switch (def.type) {
      case "i32":
        h = rowHashStep(h, col, (v as number) | 0);
        break;
      case "i64":
        i64(v as number);
        break;
      case "bool":
        h = rowHashStep(h, col, v === true ? 1 : 0);
        break;
      case "enum": {
        const dictionary = def.name === "kind" ? EVENT_KINDS : (def as { values: readonly string[] }).values;
        h = rowHashStep(h, col, dictionary.indexOf(v as string));
        break;
      }
      case "text":
        h = rowHashStep(h, col, -1);
        for (const b of new TextEncoder().encode(v as string)) h = rowHashStep(h, col, b);
        break;
      case "i64list":
        h = rowHashStep(h, col, -1);
        for (const n of v as number[]) i64(n);
        break;
    }
  });
  return h >>> 0;
}
