import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import {
  AsyncByteQueue, Bool, Data, Dictionary, Field, Int8, Int16, Int32, Int64, List, makeData, RecordBatch,
  RecordBatchFileWriter, Schema, Struct, Uint32, Utf8, vectorFromArray, type DataType, type Vector,
} from "apache-arrow";
import type { ColumnBuffer, EventBatch } from "./batch.ts";
import { dictionarySize } from "./batch.ts";
import { COLUMNS, EVENT_KINDS, type ColumnDef } from "./schema.ts";

/** The Arrow type of each column type; enums are dictionary-encoded strings. */
function arrowType(def: ColumnDef): DataType {
  switch (def.type) {
    case "i32":
      return new Int32();
    case "u32":
      return new Uint32();
    case "i64":
      return new Int64();
    case "bool":
      return new Bool();
    case "text":
      return new Utf8();
    case "i64list":
      return new List(new Field("item", new Int64(), false));
    case "enum":
      return new Dictionary(new Utf8(), dictionarySize(def) <= 127 ? new Int8() : new Int16(), dictionaryId(def));
  }
}

/** Dictionary ids are fixed by column position, so every file has the same schema bytes. */
function dictionaryId(def: ColumnDef): number {
  return COLUMNS.findIndex((c) => c.name === def.name);
}

const withKinds = (def: ColumnDef): ColumnDef => (def.name === "kind" ? { ...def, values: EVENT_KINDS } : def);
const DEFS: ColumnDef[] = COLUMNS.map(withKinds);
const TYPES: DataType[] = DEFS.map(arrowType);
const NULLABLE = new Set(["seq", "t_ns", "kind", "thread", "ctx", "check"]);

/** The schema of events.arrow: one field per column, the five header columns and `check` never null. */
export const EVENTS_SCHEMA = new Schema(DEFS.map((def, i) => new Field(def.name, TYPES[i]!, !NULLABLE.has(def.name))));

/** Each enum column's dictionary, built once and shared by every batch (written once per file). */
const DICTIONARIES: (Vector | null)[] = DEFS.map((def) => (def.type === "enum" ? vectorFromArray([...def.values!], new Utf8()) : null));

/** An AsyncByteQueue that writes straight to a file descriptor, so the writer never buffers a run. */
class FdSink extends AsyncByteQueue {
  bytes = 0;
  constructor(private readonly fd: number) {
    super();
  }

  override write(value: unknown): void {
    const chunk = value as Uint8Array;
    let done = 0;
    while (done < chunk.byteLength) done += writeSync(this.fd, chunk, done, chunk.byteLength - done);
    this.bytes += chunk.byteLength;
  }
}

/** A column's rows as Arrow data, viewing the batch's buffers (no copy). */
function columnData(c: ColumnBuffer, rows: number, i: number): Data {
  const type = TYPES[i]!;
  const nullCount = rows - c.setCount;
  const nullBitmap = nullCount > 0 ? c.validity.subarray(0, Math.ceil(rows / 8)) : undefined;
  const common = { length: rows, nullCount, ...(nullBitmap === undefined ? {} : { nullBitmap }) };
  switch (c.def.type) {
    case "i64": {
      const words = c.values as Int32Array;
      return makeData({ type: type as Int64, ...common, data: new BigInt64Array(words.buffer, words.byteOffset, rows) });
    }
    case "bool":
      return makeData({ type: type as Bool, ...common, data: c.values.subarray(0, Math.ceil(rows / 8)) as Uint8Array });
    case "enum":
      return makeData({ type: type as Dictionary, ...common, data: c.values.subarray(0, rows) as Int8Array, dictionary: DICTIONARIES[i]! });
    case "text":
      return makeData({ type: type as Utf8, ...common, valueOffsets: c.offsets!.subarray(0, rows + 1), data: (c.heap as Uint8Array).subarray(0, c.heapUsed) });
    case "i64list": {
      const heap = c.heap as Int32Array;
      const items = c.heapUsed / 2;
      const child = makeData({ type: new Int64(), length: items, nullCount: 0, data: new BigInt64Array(heap.buffer, heap.byteOffset, items) });
      return makeData({ type: type as List, ...common, valueOffsets: c.offsets!.subarray(0, rows + 1), child });
    }
    case "i32":
      return makeData({ type: type as Int32, ...common, data: c.values.subarray(0, rows) as Int32Array });
    case "u32":
      return makeData({ type: type as Uint32, ...common, data: c.values.subarray(0, rows) as Uint32Array });
  }
}

/**
 * Writes events.arrow (Arrow IPC file format) batch by batch as the run goes. It writes to a
 * temporary name and renames at close(), so a killed run never leaves a truncated file under the
 * final name. The bytes depend only on the events: no timestamps, fixed dictionaries.
 */
export class ArrowEventWriter {
  private readonly fd: number;
  private readonly sink: FdSink;
  private readonly writer: RecordBatchFileWriter;
  private closed = false;
  batches = 0;

  constructor(readonly path: string) {
    this.fd = openSync(`${path}.tmp`, "w");
    this.sink = new FdSink(this.fd);
    this.writer = new RecordBatchFileWriter();
    this.writer.reset(this.sink as unknown as AsyncByteQueue, EVENTS_SCHEMA);
  }

  write(batch: EventBatch): void {
    const rows = batch.rows;
    const children = batch.columns.map((c, i) => columnData(c, rows, i));
    const data = makeData({ type: new Struct(EVENTS_SCHEMA.fields), length: rows, nullCount: 0, children });
    this.writer.write(new RecordBatch(EVENTS_SCHEMA, data));
    this.batches++;
  }

  /**
   * Writes the footer, syncs, and (unless `rename` is false) moves the file to its final name.
   * Returns the file's size. With rename false, the caller renames `tmpPath` when it is ready.
   */
  close(rename = true): number {
    if (this.closed) return this.sink.bytes;
    this.closed = true;
    this.writer.finish();
    fsyncSync(this.fd);
    closeSync(this.fd);
    if (rename) renameSync(this.tmpPath, this.path);
    return this.sink.bytes;
  }

  /** Bytes written so far (whole batches: a batch reaches the file when it is full). */
  get bytesWritten(): number {
    return this.sink.bytes;
  }

  get tmpPath(): string {
    return `${this.path}.tmp`;
  }

  /** Gives up: removes the temporary file and leaves any earlier file alone. */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    rmSync(`${this.path}.tmp`, { force: true });
  }
}
