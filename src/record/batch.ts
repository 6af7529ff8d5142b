import { COLUMNS, type ColumnDef } from "./schema.ts";

/**
 * One column of a batch: typed-array buffers laid out as Arrow lays them out, so a batch becomes
 * an Arrow record batch without copying. Null slots hold zeros (bytes must not depend on what a
 * buffer held before: same seed, same bytes).
 */
export class ColumnBuffer {
  /** Arrow validity bitmap: bit r set when row r has a value. */
  readonly validity: Uint8Array;
  setCount = 0;
  /** i32, u32, enum: one value per row. i64: two Int32 words per row (little-endian lo, hi). bool: bits. */
  readonly values: Int32Array | Uint32Array | Int8Array | Int16Array | Uint8Array;
  /** text and i64list: Arrow offsets (row r spans offsets[r] .. offsets[r + 1]). */
  readonly offsets: Int32Array | null;
  /** text: UTF-8 bytes; i64list: Int32 word pairs. Grown as needed. */
  heap: Uint8Array | Int32Array | null;
  heapUsed = 0;

  constructor(readonly def: ColumnDef, readonly index: number, capacity: number) {
    this.validity = new Uint8Array(Math.ceil(capacity / 8));
    this.offsets = def.type === "text" || def.type === "i64list" ? new Int32Array(capacity + 1) : null;
    this.heap = def.type === "text" ? new Uint8Array(4096) : def.type === "i64list" ? new Int32Array(4096) : null;
    switch (def.type) {
      case "i32":
        this.values = new Int32Array(capacity);
        break;
      case "u32":
        this.values = new Uint32Array(capacity);
        break;
      case "i64":
        this.values = new Int32Array(capacity * 2);
        break;
      case "bool":
        this.values = new Uint8Array(Math.ceil(capacity / 8));
        break;
      case "enum":
        this.values = dictionarySize(def) <= 127 ? new Int8Array(capacity) : new Int16Array(capacity);
        break;
      default:
        this.values = new Uint8Array(0);
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

  /** Clears the first `rows` rows for the next batch. */
  reset(rows: number): void {
    this.validity.fill(0, 0, Math.ceil(rows / 8));
    this.setCount = 0;
    const t = this.def.type;
    if (t === "i64") this.values.fill(0, 0, rows * 2);
    else if (t === "bool") this.values.fill(0, 0, Math.ceil(rows / 8));
    else if (t !== "text" && t !== "i64list") this.values.fill(0, 0, rows);
    if (this.offsets !== null) {
      this.offsets.fill(0, 0, rows + 1);
      this.heap!.fill(0, 0, this.heapUsed);
      this.heapUsed = 0;
    }
  }
}

export function dictionarySize(def: ColumnDef): number {
  return def.values?.length ?? 0;
}

const textEncoder = new TextEncoder();

/**
 * A batch of event rows being filled. Writers set the fields of the current row, then endRow();
 * every set value is also folded into the row's checksum (the `check` column).
 */
export class EventBatch {
  readonly columns: ColumnBuffer[];
  rows = 0;
  private hash = 0;
  private readonly checkColumn: ColumnBuffer;
  private readonly varColumns: ColumnBuffer[];

  constructor(readonly capacity: number, kindDictionary: readonly string[]) {
    this.columns = COLUMNS.map((def, i) => new ColumnBuffer(def.name === "kind" ? { ...def, values: kindDictionary } : def, i, capacity));
    this.checkColumn = this.columns.find((c) => c.def.name === "check")!;
    this.varColumns = this.columns.filter((c) => c.offsets !== null);
  }

  get full(): boolean {
    return this.rows === this.capacity;
  }

  setI32(col: number, value: number): void {
    const c = this.columns[col]!;
    const r = this.rows;
    (c.values as Int32Array)[r] = value;
    c.validity[r >> 3]! |= 1 << (r & 7);
    c.setCount++;
    this.mix(col, value | 0);
  }

  setI64(col: number, value: number): void {
    const c = this.columns[col]!;
    const r = this.rows;
    const lo = value >>> 0;
    const hi = Math.floor(value / 4294967296) | 0;
    const words = c.values as Int32Array;
    words[2 * r] = lo;
    words[2 * r + 1] = hi;
    c.validity[r >> 3]! |= 1 << (r & 7);
    c.setCount++;
    this.mix(col, lo | 0);
    this.mix(col, hi);
  }

  setBool(col: number, value: boolean): void {
    const c = this.columns[col]!;
    const r = this.rows;
    if (value) c.values[r >> 3]! |= 1 << (r & 7);
    c.validity[r >> 3]! |= 1 << (r & 7);
    c.setCount++;
    this.mix(col, value ? 1 : 0);
  }

  /** An enum column's dictionary index. */
  setEnum(col: number, index: number): void {
    const c = this.columns[col]!;
    const r = this.rows;
    c.values[r] = index;
    c.validity[r >> 3]! |= 1 << (r & 7);
    c.setCount++;
    this.mix(col, index);
  }

  setText(col: number, value: string): void {
    const c = this.columns[col]!;
    const bytes = textEncoder.encode(value);
    c.reserve(bytes.length);
    (c.heap as Uint8Array).set(bytes, c.heapUsed);
    c.heapUsed += bytes.length;
    this.markVariable(c, col);
    for (const b of bytes) this.mix(col, b);
  }

  setI64List(col: number, values: readonly number[]): void {
    const c = this.columns[col]!;
    c.reserve(values.length * 2);
    this.markVariable(c, col);
    const heap = c.heap as Int32Array;
    for (const v of values) {
      const lo = v >>> 0;
      const hi = Math.floor(v / 4294967296) | 0;
      heap[c.heapUsed++] = lo;
      heap[c.heapUsed++] = hi;
      this.mix(col, lo | 0);
      this.mix(col, hi);
    }
  }

  private markVariable(c: ColumnBuffer, col: number): void {
    const r = this.rows;
    c.validity[r >> 3]! |= 1 << (r & 7);
    c.setCount++;
    this.mix(col, -1);
  }

  /** Finishes the row: its checksum, and the end offsets of variable-length columns. */
  endRow(): void {
    const r = this.rows;
    for (const c of this.varColumns) {
      const offsets = c.offsets!;
      offsets[r + 1] = c.def.type === "i64list" ? c.heapUsed / 2 : c.heapUsed;
    }
    const check = this.checkColumn;
    (check.values as Uint32Array)[r] = this.hash >>> 0;
    check.validity[r >> 3]! |= 1 << (r & 7);
    check.setCount++;
    this.hash = 0;
    this.rows = r + 1;
  }

  /** Empties the batch for reuse. */
  reset(): void {
    for (const c of this.columns) c.reset(this.rows);
    this.rows = 0;
    this.hash = 0;
  }

  private mix(col: number, value: number): void {
    this.hash = rowHashStep(this.hash, col, value);
  }
}

/**
 * One step of the row checksum: folds a column index and a 32-bit value into the hash
 * (a murmur-style multiply and shift; it detects changed rows, it is not cryptographic).
 */
export function rowHashStep(hash: number, col: number, value: number): number {
  let h = Math.imul(hash ^ (col + 0x9e3779b9), 0x5bd1e995);
  h ^= h >>> 13;
  h = Math.imul(h ^ value, 0x5bd1e995);
  return h ^ (h >>> 15);
}
