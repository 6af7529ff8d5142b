import { EXEC_CONTEXTS, type ExecContext } from "../engine/index.ts";
import type { ModelState } from "../pagemap/state.ts";
import type { RunEvent } from "../machine/run-events.ts";
import { hashKey, rowHashKeyed, type EventBatch } from "./batch.ts";
import { COLUMN_INDEX, COLUMNS, EVENT_KINDS, RUN_EVENT_SPECS, refcountAfter, type ColumnDef } from "./schema.ts";

/**
 * Per-kind row writers, compiled once from the schema. Each run event kind gets its own small
 * function that stores the header and the kind's fields straight into the batch's typed-array
 * columns and folds them into the row checksum, in column order (the order `check` has always
 * folded them in, so the bytes are those of the generic writer it replaces). One function per
 * kind keeps every property read monomorphic and leaves no Map lookup or per-field switch on the
 * path of an event. The code is generated from the schema's own names only.
 */
export type ModelRowWriter = (b: EventBatch, state: ModelState, ev: RunEvent, seq: number, tNs: number, thread: number, ctxIndex: number) => void;
export type EngineRowWriter = (b: EventBatch, kindIndex: number, seq: number, tNs: number, thread: number, ctxIndex: number, objectId: number, arg: number) => void;

const C = COLUMN_INDEX;

/** Index of an execution context in the ctx column's dictionary. */
export function ctxIndex(ctx: ExecContext): number {
  const i = EXEC_CONTEXTS.indexOf(ctx);
  if (i < 0) throw new Error(`recorder: unknown execution context "${String(ctx)}"`);
  return i;
}

/** Per kind index, the columns its rows always write besides the header (for EventBatch.seal). */
export function kindColumns(): number[][] {
  return EVENT_KINDS.map((kind) => (kind in RUN_EVENT_SPECS ? specColumns(kind) : [C.arg]));
}

function specColumns(kind: string): number[] {
  const fields = (RUN_EVENT_SPECS as Record<string, { fields: Record<string, keyof typeof C> }>)[kind]!.fields;
  return Object.values(fields).map((column) => C[column]);
}

/** Generated source: what stores a value of column `col` (read as `v`), and folds it into `h`. */
function storeSource(def: ColumnDef, col: number): string {
  const V = `V[${col}]`;
  const U = `U[${col}][byte] |= bit;`;
  const K = hashKey(col);
  switch (def.type) {
    case "i32":
      return `${V}[r] = v; ${U} h = H(h, ${K}, v | 0);`;
    case "i64":
      return `lo = v >>> 0; hi = Math.floor(v / 4294967296) | 0; ${V}[2 * r] = lo; ${V}[2 * r + 1] = hi; ${U} h = H(H(h, ${K}, lo | 0), ${K}, hi);`;
    case "bool":
      return `if (v) ${V}[byte] |= bit; ${U} h = H(h, ${K}, v ? 1 : 0);`;
    case "enum":
      return `v = E[${col}](v); ${V}[r] = v; ${U} h = H(h, ${K}, v);`;
    case "text":
      return `h = b.setText(${col}, ${K}, r, v, h);`;
    case "i64list":
      return `h = b.setI64List(${col}, ${K}, r, v, h);`;
    case "u32":
      throw new Error(`recorder: column ${def.name} is written by the recorder only`);
  }
}

/** The header's five columns: seq, t_ns, kind (a constant or a variable), thread, ctx. Never null. */
function headerSource(kindExpr: string): string {
  const k = (name: keyof typeof C): number => hashKey(C[name]);
  return [
    `lo = seq >>> 0; hi = Math.floor(seq / 4294967296) | 0; V[${C.seq}][2 * r] = lo; V[${C.seq}][2 * r + 1] = hi; h = H(H(h, ${k("seq")}, lo | 0), ${k("seq")}, hi);`,
    `lo = tNs >>> 0; hi = Math.floor(tNs / 4294967296) | 0; V[${C.t_ns}][2 * r] = lo; V[${C.t_ns}][2 * r + 1] = hi; h = H(H(h, ${k("t_ns")}, lo | 0), ${k("t_ns")}, hi);`,
    `V[${C.kind}][r] = ${kindExpr}; h = H(h, ${k("kind")}, ${kindExpr});`,
    `V[${C.thread}][r] = thread; h = H(h, ${k("thread")}, thread | 0);`,
    `V[${C.ctx}][r] = ctxIndex; h = H(h, ${k("ctx")}, ctxIndex);`,
  ].join("\n");
}

const ROW_START = "const V = b.valueArrays; const U = b.validityArrays; const r = b.rows; const byte = r >> 3; const bit = 1 << (r & 7); let h = 0, v, lo, hi;";
const ROW_END = `V[${C.check}][r] = h >>> 0; b.rows = r + 1;`;

/** An enum column's value → dictionary index, as a switch; a value outside the dictionary is a bug. */
function enumIndexer(def: ColumnDef): (value: string) => number {
  const cases = def.values!.map((v, i) => `case ${JSON.stringify(v)}: return ${i};`).join(" ");
  const fail = `throw new Error("recorder: " + JSON.stringify(value) + " is not a value of column ${def.name}");`;
  return new Function("value", `switch (value) { ${cases} default: ${fail} }`) as (value: string) => number;
}

/** Every enum column's indexer, by column (null for the others and for `kind`, written as a constant). */
const ENUM_INDEXERS = COLUMNS.map((def: ColumnDef) => (def.values === undefined ? null : enumIndexer(def)));

/** Compiles one writer; it closes over only module-level constants, so one set serves every batch and stays warm across runs. */
function compile<W>(params: string, body: string): W {
  const factory = new Function("H", "refcountAfter", "E", `return function (${params}) {\n${ROW_START}\n${body}\n${ROW_END}\n};`) as (...args: unknown[]) => W;
  return factory(rowHashKeyed, refcountAfter, ENUM_INDEXERS);
}

function compileModelWriters(): Record<string, ModelRowWriter> {
  const writers: Record<string, ModelRowWriter> = {};
  for (const [kind, spec] of Object.entries(RUN_EVENT_SPECS)) {
    const fields = Object.entries(spec.fields as Record<string, keyof typeof C>)
      .map(([field, column]) => ({ field, col: C[column] }))
      .sort((a, b) => a.col - b.col);
    const body = [
      headerSource(String(EVENT_KINDS.indexOf(kind))),
      ...fields.map(({ field, col }) => `v = ev[${JSON.stringify(field)}]; ${storeSource(COLUMNS[col]!, col)}`),
      // The refcount after the event, where the kind moves one (it is the last column but `check`).
      `v = refcountAfter(state, ev); if (v !== null) { ${storeSource(COLUMNS[C.refcount]!, C.refcount)} b.extraSets[${C.refcount}]++; }`,
      `b.kindRows[${EVENT_KINDS.indexOf(kind)}]++;`,
    ].join("\n");
    writers[kind] = compile<ModelRowWriter>("b, state, ev, seq, tNs, thread, ctxIndex", body);
  }
  return writers;
}

function compileEngineWriter(): EngineRowWriter {
  const body = [
    headerSource("kindIndex"),
    `if (objectId >= 0) { v = objectId; ${storeSource(COLUMNS[C.object]!, C.object)} b.extraSets[${C.object}]++; }`,
    `v = arg; ${storeSource(COLUMNS[C.arg]!, C.arg)}`,
    "b.kindRows[kindIndex]++;",
  ].join("\n");
  return compile<EngineRowWriter>("b, kindIndex, seq, tNs, thread, ctxIndex, objectId, arg", body);
}

/** One writer per run event kind, by kind name (compiled once per process). */
export const MODEL_ROW_WRITERS: Readonly<Record<string, ModelRowWriter>> = compileModelWriters();
/** The writer of engine events (all kinds share their two fields: object, when there is one, and arg). */
export const ENGINE_ROW_WRITER: EngineRowWriter = compileEngineWriter();
