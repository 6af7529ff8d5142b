import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import {
  AsyncByteQueue, Bool, Data, DenseUnion, Dictionary, Field, Int8, Int16, Int32, Int64, List, makeData, RecordBatch,
  RecordBatchFileWriter, Schema, Struct, Uint32, Utf8, vectorFromArray, type DataType, type Vector,
} from "apache-arrow";
import type { EventBatch, FieldBuffer, MemberBuffer } from "./batch.ts";
import { dictionarySize } from "./batch.ts";
import { COLUMN_INDEX, COLUMNS, EVENT_KINDS, FIELDS_MEMBERS, type ColumnDef } from "./schema.ts";

/** The Arrow type of each column type; enums are dictionary-encoded strings. */
function arrowType(def: ColumnDef, col: number): DataType {
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
      // Dictionary ids are the column's position, so every file has the same schema bytes and
      // members sharing a column (dir, memory, access, …) share its one dictionary.
      return new Dictionary(new Utf8(), dictionarySize(def) <= 127 ? new Int8() : new Int16(), col);
  }
}

const withKinds = (def: ColumnDef): ColumnDef => (def.name === "kind" ? { ...def, values: EVENT_KINDS } : def);
const DEFS: ColumnDef[] = COLUMNS.map(withKinds);
const TYPES: DataType[] = DEFS.map(arrowType);
const C = COLUMN_INDEX;

/** Each union member's struct type: its columns, named as in COLUMNS, null only where the member allows. */
const MEMBER_TYPES: Struct[] = FIELDS_MEMBERS.map(
  (m) => new Struct([new Field("seq", TYPES[C.seq]!, false), ...m.columns.map((col) => new Field(DEFS[col]!.name, TYPES[col]!, m.nullable.has(col)))]),
);
const FIELDS_TYPE = new DenseUnion(
  FIELDS_MEMBERS.map((m) => m.typeId),
  FIELDS_MEMBERS.map((m, i) => new Field(m.name, MEMBER_TYPES[i]!, false)),
);

/** The top-level columns of events.arrow, in order: the header, `fields`, then the checksum. */
export const FILE_COLUMNS = ["seq", "t_ns", "kind", "thread", "ctx", "fields", "check"] as const;

/** The schema of events.arrow: the five header columns, the `fields` union and `check`, none null. */
export const EVENTS_SCHEMA = new Schema(
  FILE_COLUMNS.map((name) => (name === "fields" ? new Field("fields", FIELDS_TYPE, false) : new Field(name, TYPES[C[name]]!, false))),
);

/** Each enum column's dictionary, built once and shared by every batch (written once per file). */
const DICTIONARIES: (Vector | null)[] = DEFS.map((def) => (def.type === "enum" ? vectorFromArray([...def.values!], new Utf8()) : null));

/** Small pieces (messages, padding, small buffers) are gathered up to this before a write. */
const STAGE_BYTES = 1 << 20;

/**
 * An AsyncByteQueue that writes the Arrow writer's output straight to a file descriptor, so the
 * writer never buffers a run. Small pieces are gathered into one write of up to 1 MiB.
 */
class FdSink extends AsyncByteQueue {
  bytes = 0;
  private readonly stage = new Uint8Array(STAGE_BYTES);
  private staged = 0;

  constructor(private readonly fd: number) {
    super();
  }

  override write(value: unknown): void {
    const chunk = value as Uint8Array;
    if (chunk.byteLength > STAGE_BYTES / 4) {
      this.flushStage();
      this.writeAll(chunk);
    } else {
      if (this.staged + chunk.byteLength > STAGE_BYTES) this.flushStage();
      this.stage.set(chunk, this.staged);
      this.staged += chunk.byteLength;
    }
    this.bytes += chunk.byteLength;
  }

  /** Writes what is gathered. */
  flushStage(): void {
    if (this.staged === 0) return;
    this.writeAll(this.stage.subarray(0, this.staged));
    this.staged = 0;
  }

  private writeAll(buf: Uint8Array): void {
    let done = 0;
    while (done < buf.byteLength) done += writeSync(this.fd, buf, done, buf.byteLength - done);
  }
}

const i64Data = (words: Int32Array, rows: number) => new BigInt64Array(words.buffer, words.byteOffset, rows);

/** One column of a member's rows as Arrow data, viewing the batch's buffers (no copy). */
function fieldData(f: FieldBuffer, rows: number): Data {
  const type = TYPES[f.col]!;
  const nullBitmap = f.validity !== null && f.nulls > 0 ? f.validity.subarray(0, Math.ceil(rows / 8)) : undefined;
  const common = { length: rows, nullCount: f.validity === null ? 0 : f.nulls, ...(nullBitmap === undefined ? {} : { nullBitmap }) };
  switch (f.def.type) {
    case "i64":
      return makeData({ type: type as Int64, ...common, data: i64Data(f.values as Int32Array, rows) });
    case "bool":
      return makeData({ type: type as Bool, ...common, data: f.values.subarray(0, Math.ceil(rows / 8)) as Uint8Array });
    case "enum":
      return makeData({ type: type as Dictionary, ...common, data: f.values.subarray(0, rows) as Int8Array, dictionary: DICTIONARIES[f.col]! });
    case "text":
      return makeData({ type: type as Utf8, ...common, valueOffsets: f.offsets!.subarray(0, rows + 1), data: (f.heap as Uint8Array).subarray(0, f.heapUsed) });
    case "i64list": {
      const items = f.heapUsed / 2;
      const child = makeData({ type: new Int64(), length: items, nullCount: 0, data: i64Data(f.heap as Int32Array, items) });
      return makeData({ type: type as List, ...common, valueOffsets: f.offsets!.subarray(0, rows + 1), child });
    }
    case "i32":
      return makeData({ type: type as Int32, ...common, data: f.values.subarray(0, rows) as Int32Array });
    case "u32":
      return makeData({ type: type as Uint32, ...common, data: f.values.subarray(0, rows) as Uint32Array });
  }
}

function memberData(m: MemberBuffer, i: number): Data {
  const seq = makeData({ type: TYPES[C.seq] as Int64, length: m.rows, nullCount: 0, data: i64Data(m.seq, m.rows) });
  return makeData({ type: MEMBER_TYPES[i]!, length: m.rows, nullCount: 0, children: [seq, ...m.fields.map((f) => fieldData(f, m.rows))] });
}

/** A batch as Arrow data: the header, the union and the checksum, in FILE_COLUMNS order. */
function batchData(b: EventBatch): Data<Struct> {
  const rows = b.rows;
  const plain = <T extends DataType>(col: number, data: T["TArray"]) => makeData({ type: TYPES[col] as T, length: rows, nullCount: 0, data } as never);
  const enumData = (col: number, data: Int8Array) => makeData({ type: TYPES[col] as Dictionary, length: rows, nullCount: 0, data, dictionary: DICTIONARIES[col]! });
  const fields = makeData({
    type: FIELDS_TYPE, length: rows, nullCount: 0,
    typeIds: b.typeIds.subarray(0, rows), valueOffsets: b.offsets.subarray(0, rows),
    children: b.members.map(memberData),
  });
  const children = [
    plain(C.seq, i64Data(b.seq, rows)),
    plain(C.t_ns, i64Data(b.tNs, rows)),
    enumData(C.kind, b.kind.subarray(0, rows)),
    plain(C.thread, b.thread.subarray(0, rows)),
    enumData(C.ctx, b.ctx.subarray(0, rows)),
    fields,
    plain(C.check, b.check.subarray(0, rows)),
  ] as Data[];
  return makeData({ type: new Struct(EVENTS_SCHEMA.fields), length: rows, nullCount: 0, children }) as Data<Struct>;
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
  private readonly fsync: boolean;
  batches = 0;

  /** `fsync: false` skips the sync at close (--no-fsync: throw-away sweeps need no durability). */
  constructor(readonly path: string, options: { fsync?: boolean } = {}) {
    this.fsync = options.fsync ?? true;
    this.fd = openSync(`${path}.tmp`, "w");
    this.sink = new FdSink(this.fd);
    this.writer = new RecordBatchFileWriter();
    this.writer.reset(this.sink as unknown as AsyncByteQueue, EVENTS_SCHEMA);
  }

  write(batch: EventBatch): void {
    this.writer.write(new RecordBatch(EVENTS_SCHEMA, batchData(batch)));
    this.batches++;
  }

  /**
   * Writes the footer, syncs (unless the writer was made with `fsync: false`), and (unless `rename` is false) moves the file to its final name.
   * Returns the file's size. With rename false, the caller renames `tmpPath` when it is ready.
   */
  close(rename = true): number {
    if (this.closed) return this.sink.bytes;
    this.closed = true;
    this.writer.finish();
    this.sink.flushStage();
    if (this.fsync) fsyncSync(this.fd);
    closeSync(this.fd);
    if (rename) renameSync(this.tmpPath, this.path);
    return this.sink.bytes;
  }

  /** Bytes of the file so far (whole batches: a batch is written when it is full). */
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
