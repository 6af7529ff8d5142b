import { closeSync, fsyncSync, ftruncateSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
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

/** Bytes of a body buffer looked at as one: a run of them with no value is left as a hole. */
const GRANULE_BYTES = 4096;
/** Small pieces (messages, padding, the header columns' tails) are gathered up to this before a write. */
const STAGE_BYTES = 1 << 20;

/**
 * Where a body buffer of the current batch may be zero: a column's values or validity bitmap,
 * which hold zeros wherever the column has no value (batch.ts keeps null slots zero).
 */
interface ZeroMap {
  /** The column's validity bitmap, as 32-row words. */
  validityWords: Int32Array;
  /** Rows per byte of the buffer: 1/8 for an i64 column's values, 8 for a bitmap. */
  rowsPerByte: number;
}

/**
 * An AsyncByteQueue that writes the Arrow writer's output straight to a file descriptor, so the
 * writer never buffers a run. Small pieces are gathered into one write; the body buffers of
 * nullable columns are written granule by granule, skipping every 4 KiB that holds no value:
 * those bytes are zero, and a file reads zeros where nothing was written, so the file's bytes
 * are the same while most of a wide, mostly-null batch is never copied to the page cache nor
 * synced. `bytes` counts every byte of the file, written or skipped.
 */
class FdSink extends AsyncByteQueue {
  bytes = 0;
  /** Of `bytes`, those left unwritten because they are zero. */
  skipped = 0;
  /** The current batch's buffers that may hold zeros, by their ArrayBuffer. */
  zeroMaps: Map<ArrayBufferLike, ZeroMap> | null = null;
  private readonly stage = new Uint8Array(STAGE_BYTES);
  private staged = 0;
  /** The file ends at `bytes`, but the last bytes were skipped (a hole at the end must be made by truncating). */
  private endsInHole = false;

  constructor(private readonly fd: number) {
    super();
  }

  override write(value: unknown): void {
    const chunk = value as Uint8Array;
    const zeros = this.zeroMaps?.get(chunk.buffer);
    if (zeros !== undefined && chunk.byteLength >= 2 * GRANULE_BYTES) this.writeSparse(chunk, zeros);
    else if (chunk.byteLength > STAGE_BYTES / 4) {
      this.flushStage();
      this.writeAt(chunk, 0, chunk.byteLength, this.bytes);
      this.endsInHole = false;
    } else {
      if (this.staged + chunk.byteLength > STAGE_BYTES) this.flushStage();
      this.stage.set(chunk, this.staged);
      this.staged += chunk.byteLength;
      this.endsInHole = false;
    }
    this.bytes += chunk.byteLength;
  }

  /** Writes what is gathered (it ends at `bytes`). */
  flushStage(): void {
    if (this.staged === 0) return;
    this.writeAt(this.stage, 0, this.staged, this.bytes - this.staged);
    this.staged = 0;
  }

  /** Makes the file `bytes` long when its last bytes were skipped. */
  finish(): void {
    this.flushStage();
    if (this.endsInHole) ftruncateSync(this.fd, this.bytes);
  }

  private writeSparse(chunk: Uint8Array, zeros: ZeroMap): void {
    this.flushStage();
    let runStart = -1;
    for (let at = 0; at < chunk.byteLength; at += GRANULE_BYTES) {
      const end = Math.min(at + GRANULE_BYTES, chunk.byteLength);
      const empty = noValueIn(zeros, chunk.byteOffset + at, chunk.byteOffset + end);
      if (!empty && runStart < 0) runStart = at;
      if (empty && runStart >= 0) {
        this.writeAt(chunk, runStart, at - runStart, this.bytes + runStart);
        runStart = -1;
      }
      if (empty) this.skipped += end - at;
    }
    if (runStart >= 0) this.writeAt(chunk, runStart, chunk.byteLength - runStart, this.bytes + runStart);
    this.endsInHole = runStart < 0;
  }

  private writeAt(buf: Uint8Array, offset: number, length: number, position: number): void {
    let done = 0;
    while (done < length) done += writeSync(this.fd, buf, offset + done, length - done, position + done);
  }
}

/** True when bytes [from, to) of a column buffer cover no row with a value (so they are all zero). */
function noValueIn(z: ZeroMap, from: number, to: number): boolean {
  const words = z.validityWords;
  const firstWord = Math.floor((from * z.rowsPerByte) / 32);
  const endWord = Math.min(words.length, Math.ceil((to * z.rowsPerByte) / 32));
  for (let w = firstWord; w < endWord; w++) if (words[w] !== 0) return false;
  return true;
}

/** The buffers of a batch's nullable fixed-width columns, with what says where they are zero. */
function zeroMapsOf(batch: EventBatch): Map<ArrayBufferLike, ZeroMap> {
  const maps = new Map<ArrayBufferLike, ZeroMap>();
  for (const c of batch.columns) {
    if (c.dense || c.offsets !== null) continue;
    const validityWords = new Int32Array(c.validity.buffer, c.validity.byteOffset, c.validity.byteLength >> 2);
    maps.set(c.validity.buffer, { validityWords, rowsPerByte: 8 });
    maps.set(c.values.buffer, { validityWords, rowsPerByte: c.def.type === "bool" ? 8 : 1 / valueBytes(c) });
  }
  return maps;
}

function valueBytes(c: ColumnBuffer): number {
  return c.def.type === "i64" ? 8 : c.values.BYTES_PER_ELEMENT;
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
  private readonly fsync: boolean;
  private zeroMapsFor: EventBatch | null = null;
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
    const rows = batch.rows;
    const children = batch.columns.map((c, i) => columnData(c, rows, i));
    const data = makeData({ type: new Struct(EVENTS_SCHEMA.fields), length: rows, nullCount: 0, children });
    if (this.zeroMapsFor !== batch) {
      this.sink.zeroMaps = zeroMapsOf(batch);
      this.zeroMapsFor = batch;
    }
    this.writer.write(new RecordBatch(EVENTS_SCHEMA, data));
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
    this.sink.finish();
    if (this.fsync) fsyncSync(this.fd);
    closeSync(this.fd);
    if (rename) renameSync(this.tmpPath, this.path);
    return this.sink.bytes;
  }

  /** Bytes of the file so far (whole batches: a batch is written when it is full; skipped zeros count). */
  get bytesWritten(): number {
    return this.sink.bytes;
  }

  /** Of bytesWritten, those never written because they are zero (the file reads zeros there). */
  get bytesSkipped(): number {
    return this.sink.skipped;
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
