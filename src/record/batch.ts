import { COLUMNS, FIELDS_MEMBERS, type ColumnDef, type FieldsMember } from "./schema.ts";

type Values = Int32Array | Uint32Array | Int8Array | Int16Array | Uint8Array;

/** A typed array of `slots` for one column type: i64 takes two Int32 words a row, bool one bit. */
function valuesFor(def: ColumnDef, rows: number): Values {
  switch (def.type) {
    case "i32":
      return new Int32Array(rows);
    case "u32":
      return new Uint32Array(rows);
    case "i64":
      return new Int32Array(rows * 2);
    case "bool":
      return new Uint8Array(Math.ceil(rows / 8));
    case "enum":
      return dictionarySize(def) <= 127 ? new Int8Array(rows) : new Int16Array(rows);
    case "text":
    case "i64list":
      return new Uint8Array(0); // their values live in the heap
  }
}

const textEncoder = new TextEncoder();

/**
 * One column of one union member: typed-array buffers laid out as Arrow lays them out, so a
 * batch becomes an Arrow record batch without copying. Every row of the member writes it (a
 * nullable column writes a zero and a clear validity bit), so nothing is ever zero-filled.
 */
export class FieldBuffer {
  values: Values;
  /** Arrow validity bitmap (nullable columns only): bit j set when row j has a value. */
  validity: Uint8Array | null;
  /** Rows of this batch with no value (nullable columns only). */
  nulls = 0;
  /** text and i64list: Arrow offsets (row j spans offsets[j] .. offsets[j + 1]). */
  offsets: Int32Array | null;
  /** text: UTF-8 bytes; i64list: Int32 word pairs. Grown as needed. */
  heap: Uint8Array | Int32Array | null;
  heapUsed = 0;

  constructor(readonly def: ColumnDef, readonly col: number, nullable: boolean, capacity: number) {
    this.values = valuesFor(def, capacity);
    this.validity = nullable ? new Uint8Array(Math.ceil(capacity / 8)) : null;
    const varying = def.type === "text" || def.type === "i64list";
    this.offsets = varying ? new Int32Array(capacity + 1) : null;
    this.heap = def.type === "text" ? new Uint8Array(1024) : def.type === "i64list" ? new Int32Array(1024) : null;
  }

  /** Room for `capacity` rows, keeping the first `rows`. */
  grow(capacity: number, rows: number): void {
    const values = valuesFor(this.def, capacity);
    values.set(this.values as never);
    this.values = values;
    if (this.validity !== null) {
      const validity = new Uint8Array(Math.ceil(capacity / 8));
      validity.set(this.validity);
      this.validity = validity;
    }
    if (this.offsets !== null) {
      const offsets = new Int32Array(capacity + 1);
      offsets.set(this.offsets.subarray(0, rows + 1));
      this.offsets = offsets;
    }
  }

  /** Grows the heap to hold `more` further units. */
  reserve(more: number): void {
    const heap = this.heap!;
    if (this.heapUsed + more <= heap.length) return;
    let size = heap.length * 2;
    while (size < this.heapUsed + more) size *= 2;
    const grown = heap instanceof Uint8Array ? new Uint8Array(size) : new Int32Array(size);
    grown.set(heap.subarray(0, this.heapUsed));
    this.heap = grown;
  }

  /** Clears what the rows so far left in bit-packed buffers (their last byte's spare bits are written too). */
  reset(rows: number): void {
    const bytes = Math.ceil(rows / 8);
    if (this.def.type === "bool") this.values.fill(0, 0, bytes);
    this.validity?.fill(0, 0, bytes);
    this.nulls = 0;
    this.heapUsed = 0;
  }
}

/**
 * The rows one union member (one kind, or all engine kinds) has in the current batch. The
 * recorder's compiled writers store into `values[k][row]`; `validity` runs beside it.
 */
export class MemberBuffer {
  rows = 0;
  capacity: number;
  /** Each row's seq (two Int32 words a row): a member read alone is a table of its kind, joinable to the header by seq. */
  seq: Int32Array;
  readonly fields: FieldBuffer[];
  /** fields[k].values and fields[k].validity, refreshed on growth: what the writers index. */
  values: Values[];
  validity: (Uint8Array | null)[];

  constructor(readonly member: FieldsMember, capacity: number) {
    this.capacity = capacity;
    this.seq = new Int32Array(capacity * 2);
    this.fields = member.columns.map((col) => new FieldBuffer(COLUMNS[col]!, col, member.nullable.has(col), capacity));
    this.values = this.fields.map((f) => f.values);
    this.validity = this.fields.map((f) => f.validity);
  }

  /** Doubles the room (called by a writer that finds the member full). */
  grow(): void {
    this.capacity *= 2;
    const seq = new Int32Array(this.capacity * 2);
    seq.set(this.seq);
    this.seq = seq;
    for (const f of this.fields) f.grow(this.capacity, this.rows);
    this.values = this.fields.map((f) => f.values);
    this.validity = this.fields.map((f) => f.validity);
  }

  /** A text value of row `j` in field k: returns the checksum with it folded in (-1, then each UTF-8 byte). */
  setText(k: number, hashKey: number, j: number, value: string, hash: number): number {
    const f = this.fields[k]!;
    const bytes = textEncoder.encode(value);
    f.reserve(bytes.length);
    (f.heap as Uint8Array).set(bytes, f.heapUsed);
    f.heapUsed += bytes.length;
    f.offsets![j + 1] = f.heapUsed;
    let h = rowHashKeyed(hash, hashKey, -1);
    for (const b of bytes) h = rowHashKeyed(h, hashKey, b);
    return h;
  }

  /** An i64 list value of row `j` in field k: returns the checksum with it folded in (-1, then each value's lo and hi words). */
  setI64List(k: number, hashKey: number, j: number, values: readonly number[], hash: number): number {
    const f = this.fields[k]!;
    f.reserve(values.length * 2);
    const heap = f.heap as Int32Array;
    let h = rowHashKeyed(hash, hashKey, -1);
    for (const v of values) {
      const lo = v >>> 0;
      const hi = Math.floor(v / 4294967296) | 0;
      heap[f.heapUsed++] = lo;
      heap[f.heapUsed++] = hi;
      h = rowHashKeyed(rowHashKeyed(h, hashKey, lo | 0), hashKey, hi);
    }
    f.offsets![j + 1] = f.heapUsed / 2;
    return h;
  }

  reset(): void {
    for (const f of this.fields) f.reset(this.rows);
    this.rows = 0;
  }
}

/** A member's buffers start this small and double: most kinds have few rows in a batch. */
const MEMBER_START_ROWS = 256;

/**
 * A batch of event rows being filled: the header columns (seq, t_ns, kind, thread, ctx), the
 * row checksum, and the `fields` union (each row's type id and its row in its member). The
 * recorder's per-kind writers (row-writers.ts) store straight into these typed arrays.
 */
export class EventBatch {
  rows = 0;
  /** seq and t_ns: two Int32 words a row (little-endian lo, hi), as Arrow's int64 lays them out. */
  readonly seq: Int32Array;
  readonly tNs: Int32Array;
  readonly kind: Int8Array;
  readonly thread: Int32Array;
  readonly ctx: Int8Array;
  readonly check: Uint32Array;
  /** The union's type ids and each row's offset in its member. */
  readonly typeIds: Int8Array;
  readonly offsets: Int32Array;
  readonly members: MemberBuffer[];

  constructor(readonly capacity: number) {
    this.seq = new Int32Array(capacity * 2);
    this.tNs = new Int32Array(capacity * 2);
    this.kind = new Int8Array(capacity);
    this.thread = new Int32Array(capacity);
    this.ctx = new Int8Array(capacity);
    this.check = new Uint32Array(capacity);
    this.typeIds = new Int8Array(capacity);
    this.offsets = new Int32Array(capacity);
    this.members = FIELDS_MEMBERS.map((m) => new MemberBuffer(m, Math.min(capacity, MEMBER_START_ROWS)));
  }

  get full(): boolean {
    return this.rows === this.capacity;
  }

  /** Empties the batch for reuse. */
  reset(): void {
    for (const m of this.members) if (m.rows > 0) m.reset();
    this.rows = 0;
  }
}

export function dictionarySize(def: ColumnDef): number {
  return def.values?.length ?? 0;
}

/** The constant a column folds into the checksum before each value (see rowHashStep). */
export function hashKey(col: number): number {
  return (col + 0x9e3779b9) | 0;
}

/**
 * One step of the row checksum: folds a column index and a 32-bit value into the hash. For a
 * fixed hash and key the step is one-to-one in the value, and for a fixed key and value it is
 * one-to-one in the hash (xor and add, then a multiply by an odd constant), so a row with any one
 * value changed always gets another checksum. It detects altered rows; it is not cryptographic.
 */
export function rowHashStep(hash: number, col: number, value: number): number {
  return rowHashKeyed(hash, hashKey(col), value);
}

/** rowHashStep with the column's key already computed (the recorder's writers inline this). */
export function rowHashKeyed(hash: number, key: number, value: number): number {
  return Math.imul(((hash + key) | 0) ^ value, 0x5bd1e995);
}
