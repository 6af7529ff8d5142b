import { COLUMNS, type ColumnDef } from "./schema.ts";

/**
 * One column of a batch: typed-array buffers laid out as Arrow lays them out, so a batch becomes
 * an Arrow record batch without copying. Null slots hold zeros (bytes must not depend on what a
 * buffer held before: same seed, same bytes).
 */
export class ColumnBuffer {
  /**
   * Arrow validity bitmap: bit r set when row r has a value. Allocated to a whole number of
   * 32-bit words so arrow-file.ts can look at it word by word (only ceil(rows / 8) bytes are written).
   */
  readonly validity: Uint8Array;
  /** Rows of this batch with a value; the recorder fills it in at flush (see EventBatch.seal). */
  setCount = 0;
  /** i32, u32, enum: one value per row. i64: two Int32 words per row (little-endian lo, hi). bool: bits. */
  readonly values: Int32Array | Uint32Array | Int8Array | Int16Array | Uint8Array;
  /** text and i64list: Arrow offsets (row r spans offsets[r] .. offsets[r + 1]). */
  readonly offsets: Int32Array | null;
  /** text: UTF-8 bytes; i64list: Int32 word pairs. Grown as needed. */
  heap: Uint8Array | Int32Array | null;
  heapUsed = 0;
  /** text and i64list: offsets[0 .. offsetsFilled] are written; rows after it have added nothing yet. */
  offsetsFilled = 0;
  /** Every row writes this column (the header and `check`): no validity bits, no zero-filling. */
  readonly dense: boolean;

  constructor(readonly def: ColumnDef, readonly index: number, capacity: number, dense = false) {
    this.dense = dense;
    this.validity = new Uint8Array(Math.ceil(capacity / 32) * 4);
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
        this.values = new Uint8Array(Math.ceil(capacity / 32) * 4);
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

  /** The end offset of the heap so far, in Arrow's units (bytes for text, items for a list). */
  get heapEnd(): number {
    return this.def.type === "i64list" ? this.heapUsed / 2 : this.heapUsed;
  }

  /** Sets offsets[offsetsFilled + 1 .. row] to the heap's end: rows since the last value added nothing. */
  fillOffsets(row: number): void {
    if (row <= this.offsetsFilled) return;
    this.offsets!.fill(this.heapEnd, this.offsetsFilled + 1, row + 1);
    this.offsetsFilled = row;
  }

  /**
   * Clears the first `rows` rows for the next batch. A column no row of the batch wrote is
   * still all zeros, and a dense column is overwritten row by row: neither is touched.
   */
  reset(rows: number): void {
    const touched = this.setCount > 0 && !this.dense;
    this.setCount = 0;
    this.offsetsFilled = 0;
    if (!touched) return;
    const t = this.def.type;
    if (t === "text" || t === "i64list") {
      this.offsets!.fill(0, 0, rows + 1);
      this.heap!.fill(0, 0, this.heapUsed);
      this.heapUsed = 0;
    } else if (t === "bool") this.values.fill(0, 0, Math.ceil(rows / 8));
    else this.zeroValuesWhereSet(rows, t === "i64" ? 2 : 1);
    this.validity.fill(0, 0, Math.ceil(rows / 8));
  }

  /**
   * Zeroes the values of the 32-row groups that hold a value, a run of groups at a time: a
   * column most rows leave null is cleared in a few small fills instead of a whole one.
   */
  private zeroValuesWhereSet(rows: number, slotsPerRow: number): void {
    const words = new Int32Array(this.validity.buffer, this.validity.byteOffset, Math.ceil(rows / 32));
    let runStart = -1;
    for (let w = 0; w <= words.length; w++) {
      const set = w < words.length && words[w] !== 0;
      if (set && runStart < 0) runStart = w;
      else if (!set && runStart >= 0) {
        this.values.fill(0, runStart * 32 * slotsPerRow, Math.min(w * 32, rows) * slotsPerRow);
        runStart = -1;
      }
    }
  }
}

export function dictionarySize(def: ColumnDef): number {
  return def.values?.length ?? 0;
}

/** Columns every row has a value in: the header and the checksum. */
const DENSE_COLUMNS = new Set(["seq", "t_ns", "kind", "thread", "ctx", "check"]);

const textEncoder = new TextEncoder();

/**
 * A batch of event rows being filled. The recorder's per-kind writers (recorder.ts) store
 * values straight into the columns' typed arrays and fold each into the row's checksum (the
 * `check` column); the helpers here take the rare variable-length values. Per row they count
 * only the row's kind; seal() turns those counts into each column's number of values.
 */
export class EventBatch {
  readonly columns: ColumnBuffer[];
  rows = 0;
  /** Rows of each kind in this batch (by kind index). */
  readonly kindRows: Int32Array;
  /** Values written outside a kind's fixed fields (the refcount, an engine event's object), by column. */
  readonly extraSets: Int32Array;
  /** Each column's values and validity bitmap, by column: what the compiled row writers store into. */
  readonly valueArrays: ColumnBuffer["values"][];
  readonly validityArrays: Uint8Array[];

  constructor(readonly capacity: number, readonly kindDictionary: readonly string[], private readonly kindColumns: readonly (readonly number[])[]) {
    this.columns = COLUMNS.map((def, i) => new ColumnBuffer(def.name === "kind" ? { ...def, values: kindDictionary } : def, i, capacity, DENSE_COLUMNS.has(def.name)));
    this.kindRows = new Int32Array(kindDictionary.length);
    this.extraSets = new Int32Array(COLUMNS.length);
    this.valueArrays = this.columns.map((c) => c.values);
    this.validityArrays = this.columns.map((c) => c.validity);
  }

  get full(): boolean {
    return this.rows === this.capacity;
  }

  /** A text value of row `row`: returns the checksum with it folded in (-1, then each UTF-8 byte). */
  setText(col: number, hashKey: number, row: number, value: string, hash: number): number {
    const c = this.columns[col]!;
    c.fillOffsets(row);
    const bytes = textEncoder.encode(value);
    c.reserve(bytes.length);
    (c.heap as Uint8Array).set(bytes, c.heapUsed);
    c.heapUsed += bytes.length;
    c.offsets![row + 1] = c.heapUsed;
    c.offsetsFilled = row + 1;
    c.validity[row >> 3]! |= 1 << (row & 7);
    let h = rowHashKeyed(hash, hashKey, -1);
    for (const b of bytes) h = rowHashKeyed(h, hashKey, b);
    return h;
  }

  /** An i64 list value of row `row`: returns the checksum with it folded in (-1, then each value's lo and hi words). */
  setI64List(col: number, hashKey: number, row: number, values: readonly number[], hash: number): number {
    const c = this.columns[col]!;
    c.fillOffsets(row);
    c.reserve(values.length * 2);
    const heap = c.heap as Int32Array;
    let h = rowHashKeyed(hash, hashKey, -1);
    for (const v of values) {
      const lo = v >>> 0;
      const hi = Math.floor(v / 4294967296) | 0;
      heap[c.heapUsed++] = lo;
      heap[c.heapUsed++] = hi;
      h = rowHashKeyed(rowHashKeyed(h, hashKey, lo | 0), hashKey, hi);
    }
    c.offsets![row + 1] = c.heapUsed / 2;
    c.offsetsFilled = row + 1;
    c.validity[row >> 3]! |= 1 << (row & 7);
    return h;
  }

  /** Before the batch is written: each column's count of values, and the offsets of the last rows. */
  seal(): void {
    const rows = this.rows;
    for (const c of this.columns) c.setCount = c.dense ? rows : this.extraSets[c.index]!;
    this.kindRows.forEach((n, kind) => {
      if (n > 0) for (const col of this.kindColumns[kind]!) this.columns[col]!.setCount += n;
    });
    for (const c of this.columns) if (c.offsets !== null) c.fillOffsets(rows);
  }

  /** Empties the batch for reuse. */
  reset(): void {
    for (const c of this.columns) c.reset(this.rows);
    this.rows = 0;
    this.kindRows.fill(0);
    this.extraSets.fill(0);
  }
}

/** The constant a column folds into the checksum before each value (see rowHashStep). */
export function hashKey(col: number): number {
  return (col + 0x9e3779b9) | 0;
}

/**
 * One step of the row checksum: folds a column index and a 32-bit value into the hash
 * (a murmur-style multiply and shift; it detects changed rows, it is not cryptographic).
 */
export function rowHashStep(hash: number, col: number, value: number): number {
  return rowHashKeyed(hash, hashKey(col), value);
}

/** rowHashStep with the column's key already computed (the recorder's writers inline this). */
export function rowHashKeyed(hash: number, key: number, value: number): number {
  let h = Math.imul(hash ^ key, 0x5bd1e995);
  h ^= h >>> 13;
  h = Math.imul(h ^ value, 0x5bd1e995);
  return h ^ (h >>> 15);
}
