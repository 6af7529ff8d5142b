import { EXEC_CONTEXTS, type EngineEventKind, type ExecContext } from "../engine/index.ts";
import type { ModelEventListener } from "../kernel/event-log.ts";
import type { ModelState } from "../pagemap/state.ts";
import type { RunEvent } from "../machine/run-events.ts";
import { EventBatch } from "./batch.ts";
import { COLUMN_INDEX, COLUMNS, ENGINE_KIND_FIELDS, EVENT_KINDS, KIND_INDEX, RUN_EVENT_SPECS, refcountAfter, type ColumnType } from "./schema.ts";

/** Where full batches go: the Arrow file, or a test. A sink must be done with the batch when write returns. */
export interface BatchSink {
  write(batch: EventBatch): void;
}

/** A simulated thread, as the log's `thread` column numbers it. */
export interface ThreadInfo {
  uid: number;
  name: string;
  ctx: ExecContext;
}

interface FieldPlan {
  field: string;
  col: number;
  type: ColumnType;
  /** enum columns: value → dictionary index. */
  enumIndex: Map<string, number> | null;
}

const ENUM_INDEX: (Map<string, number> | null)[] = COLUMNS.map((c) => ("values" in c ? new Map((c.values as readonly string[]).map((v, i) => [v, i])) : null));

/** Per kind, its fields in column order (the order the checksum folds them in). */
const KIND_PLANS: Map<string, FieldPlan[]> = new Map(
  Object.entries(RUN_EVENT_SPECS).map(([kind, spec]) => [
    kind,
    Object.entries(spec.fields as Record<string, keyof typeof COLUMN_INDEX>)
      .map(([field, column]) => {
        const col = COLUMN_INDEX[column];
        return { field, col, type: COLUMNS[col]!.type as ColumnType, enumIndex: ENUM_INDEX[col] ?? null };
      })
      .sort((a, b) => a.col - b.col),
  ]),
);

const C = COLUMN_INDEX;
const CTX_INDEX = new Map(EXEC_CONTEXTS.map((c, i) => [c, i]));

/**
 * Turns the run's events into rows of column buffers, batch by batch, and hands each full batch
 * to the sinks. Nothing per event is kept beyond the current batch, so memory stays flat however
 * long the run. Listens to the run's EventLog (model and engine events alike).
 */
export class EventRecorder implements ModelEventListener<RunEvent> {
  readonly threads: ThreadInfo[] = [];
  private readonly ctxByUid: ExecContext[] = [];
  private readonly batch: EventBatch;
  rowsWritten = 0;

  constructor(
    private readonly state: ModelState,
    private readonly sinks: BatchSink[],
    batchRows = 65536,
  ) {
    this.batch = new EventBatch(batchRows, EVENT_KINDS);
  }

  onSpawn(uid: number, name: string, ctx: ExecContext): void {
    this.threads.push({ uid, name, ctx });
    this.ctxByUid[uid] = ctx;
  }

  onModelEvent(seq: number, tNs: number, thread: number, ctx: ExecContext, ev: RunEvent): void {
    const b = this.batch;
    this.head(seq, tNs, ev.kind, thread, ctx);
    const fields = ev as unknown as Record<string, unknown>;
    for (const p of KIND_PLANS.get(ev.kind)!) {
      const v = fields[p.field];
      switch (p.type) {
        case "i32":
          b.setI32(p.col, v as number);
          break;
        case "i64":
          b.setI64(p.col, v as number);
          break;
        case "bool":
          b.setBool(p.col, v as boolean);
          break;
        case "enum":
          b.setEnum(p.col, p.enumIndex!.get(v as string)!);
          break;
        case "text":
          b.setText(p.col, v as string);
          break;
        case "i64list":
          b.setI64List(p.col, v as number[]);
          break;
        case "u32":
          throw new Error(`column ${COLUMNS[p.col]!.name} is written by the recorder only`);
      }
    }
    const refcount = refcountAfter(this.state, ev);
    if (refcount !== null) b.setI32(C.refcount, refcount);
    this.endRow();
  }

  onEngineEvent(seq: number, kind: EngineEventKind, tNs: number, procUid: number, objectId: number, arg: number): void {
    const b = this.batch;
    this.head(seq, tNs, kind, procUid, this.ctxByUid[procUid] ?? "process");
    if (objectId >= 0) b.setI32(C[ENGINE_KIND_FIELDS.object], objectId);
    b.setI64(C[ENGINE_KIND_FIELDS.arg], arg);
    this.endRow();
  }

  /** Called after each batch reaches the sinks (run-dir's budget check: once per batch costs nothing per event). */
  afterFlush: (() => void) | null = null;
  /** Past this many rows, each row is flushed at once, so afterFlush sees a --max-events budget passed on the event that passes it. */
  rowLimit = Infinity;

  /** Hands the rows so far to the sinks (at the end of a run, or when it is interrupted). */
  flush(): void {
    if (this.batch.rows === 0) return;
    for (const sink of this.sinks) sink.write(this.batch);
    this.rowsWritten += this.batch.rows;
    this.batch.reset();
    this.afterFlush?.();
  }

  private head(seq: number, tNs: number, kind: string, thread: number, ctx: ExecContext): void {
    const b = this.batch;
    b.setI64(C.seq, seq);
    b.setI64(C.t_ns, tNs);
    b.setEnum(C.kind, KIND_INDEX.get(kind)!);
    b.setI32(C.thread, thread);
    b.setEnum(C.ctx, CTX_INDEX.get(ctx)!);
  }

  private endRow(): void {
    this.batch.endRow();
    if (this.batch.full || this.rowsWritten + this.batch.rows > this.rowLimit) this.flush();
  }
}
