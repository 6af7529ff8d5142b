import { EXEC_CONTEXTS, type ExecContext } from "../engine/index.ts";
import type { ModelState } from "../pagemap/state.ts";
import type { RunEvent } from "../machine/run-events.ts";
import { hashKey, rowHashKeyed, type EventBatch } from "./batch.ts";
import { COLUMN_INDEX, COLUMNS, EVENT_KINDS, FIELDS_MEMBERS, MEMBER_OF_KIND, RUN_EVENT_SPECS, refcountAfter, type ColumnDef } from "./schema.ts";

/**
 * Per-kind row writers, compiled once from the schema. Each run event kind gets its own small
 * function that stores the header in the batch's header columns and the kind's fields in its own
 * union member's typed arrays, folding each into the row checksum in column order (so `check` is
 * what it was when the log was one wide table). One function per kind keeps every property read
 * monomorphic and leaves no Map lookup or per-field switch on the path of an event. The code is
 * generated from the schema's own names only.
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

/** Generated source: what stores field k's value (read as `v`) in row `j` of member `m` (arrays F, N), and folds it into `h`. */
function storeSource(def: ColumnDef, col: number, k: number, nullable: boolean): string {
  const V = `F[${k}]`;
  const K = hashKey(col);
  const store = (() => {
    switch (def.type) {
      case "i32":
        return `${V}[j] = v; h = H(h, ${K}, v | 0);`;
      case "i64":
        return `lo = v >>> 0; hi = Math.floor(v / 4294967296) | 0; ${V}[2 * j] = lo; ${V}[2 * j + 1] = hi; h = H(H(h, ${K}, lo | 0), ${K}, hi);`;
      case "bool":
        return `if (v) ${V}[byte] |= bit; h = H(h, ${K}, v ? 1 : 0);`;
      case "enum":
        return `v = E[${col}](v); ${V}[j] = v; h = H(h, ${K}, v);`;
      case "text":
        return `h = m.setText(${k}, ${K}, j, v, h);`;
      case "i64list":
        return `h = m.setI64List(${k}, ${K}, j, v, h);`;
      case "u32":
        throw new Error(`recorder: column ${def.name} is written by the recorder only`);
    }
  })();
  if (!nullable) return store;
  // A null leaves the value slot zero (same seed, same bytes) and its validity bit clear.
  const zero = def.type === "i64" ? `${V}[2 * j] = 0; ${V}[2 * j + 1] = 0;` : `${V}[j] = 0;`;
  return `if (v !== null) { ${store} N[${k}][byte] |= bit; } else { ${zero} m.fields[${k}].nulls++; }`;
}

/** The header's five columns: seq, t_ns, kind (a constant or a variable), thread, ctx. Never null. */
function headerSource(kindExpr: string): string {
  const k = (name: keyof typeof C): number => hashKey(C[name]);
  return [
    // seq and t_ns are never negative: the high word is the quotient truncated.
    `const seqLo = seq >>> 0, seqHi = (seq / 4294967296) | 0; b.seq[2 * r] = seqLo; b.seq[2 * r + 1] = seqHi; h = H(H(h, ${k("seq")}, seqLo | 0), ${k("seq")}, seqHi);`,
    `lo = tNs >>> 0; hi = (tNs / 4294967296) | 0; b.tNs[2 * r] = lo; b.tNs[2 * r + 1] = hi; h = H(H(h, ${k("t_ns")}, lo | 0), ${k("t_ns")}, hi);`,
    `b.kind[r] = ${kindExpr}; h = H(h, ${k("kind")}, ${kindExpr});`,
    `b.thread[r] = thread; h = H(h, ${k("thread")}, thread | 0);`,
    `b.ctx[r] = ctxIndex; h = H(h, ${k("ctx")}, ctxIndex);`,
  ].join("\n");
}

/** Finds row j of union member `typeId`, growing the member when it is full. */
function memberSource(typeId: number): string {
  return [
    `const T = ${typeId}; const m = b.members[T]; const j = m.rows; if (j === m.capacity) m.grow();`,
    "m.seq[2 * j] = seqLo; m.seq[2 * j + 1] = seqHi;",
    "const F = m.values; const N = m.validity; const byte = j >> 3; const bit = 1 << (j & 7);",
  ].join("\n");
}

const ROW_START = "const r = b.rows; let h = 0, v, lo, hi;";
const ROW_END = "b.typeIds[r] = T; b.offsets[r] = j; m.rows = j + 1; b.check[r] = h >>> 0; b.rows = r + 1;";

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
  for (const kind of Object.keys(RUN_EVENT_SPECS)) {
    const kindIndex = EVENT_KINDS.indexOf(kind);
    const member = FIELDS_MEMBERS[MEMBER_OF_KIND[kindIndex]!]!;
    const columnField = new Map(Object.entries((RUN_EVENT_SPECS as Record<string, { fields: Record<string, keyof typeof C> }>)[kind]!.fields).map(([field, column]) => [C[column], field]));
    const body = [
      headerSource(String(kindIndex)),
      memberSource(member.typeId),
      // The member's columns in column order; the refcount after the event is read from the state.
      ...member.columns.map((col, k) => {
        const read = col === C.refcount ? "v = refcountAfter(state, ev);" : `v = ev[${JSON.stringify(columnField.get(col))}];`;
        return `${read} ${storeSource(COLUMNS[col]!, col, k, member.nullable.has(col))}`;
      }),
    ].join("\n");
    writers[kind] = compile<ModelRowWriter>("b, state, ev, seq, tNs, thread, ctxIndex", body);
  }
  return writers;
}

function compileEngineWriter(): EngineRowWriter {
  const member = FIELDS_MEMBERS[FIELDS_MEMBERS.length - 1]!;
  const [objectCol, argCol] = member.columns as [number, number];
  const body = [
    headerSource("kindIndex"),
    memberSource(member.typeId),
    `v = objectId >= 0 ? objectId : null; ${storeSource(COLUMNS[objectCol]!, objectCol, 0, true)}`,
    `v = arg; ${storeSource(COLUMNS[argCol]!, argCol, 1, false)}`,
  ].join("\n");
  return compile<EngineRowWriter>("b, kindIndex, seq, tNs, thread, ctxIndex, objectId, arg", body);
}

/** One writer per run event kind, by kind name (compiled once per process). */
export const MODEL_ROW_WRITERS: Readonly<Record<string, ModelRowWriter>> = compileModelWriters();
/** The writer of engine events (all kinds share their two fields: object, when there is one, and arg). */
export const ENGINE_ROW_WRITER: EngineRowWriter = compileEngineWriter();
