import { ENGINE_EVENT_KINDS, type EngineEventKind, type ExecContext } from "../engine/index.ts";
import type { ModelEventListener } from "../kernel/event-log.ts";
import type { ModelState } from "../pagemap/state.ts";
import type { RunEvent } from "../machine/run-events.ts";
import { EventBatch } from "./batch.ts";
import { ctxIndex, ENGINE_ROW_WRITER, MODEL_ROW_WRITERS } from "./row-writers.ts";
import { EVENT_KINDS } from "./schema.ts";

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

/** Engine event kind → its index in the kind dictionary. */
const ENGINE_KIND_INDEX: Record<string, number> = Object.fromEntries(Object.keys(ENGINE_EVENT_KINDS).map((k) => [k, EVENT_KINDS.indexOf(k)]));
/** Execution context → its index in the ctx dictionary (a plain object: read once per event). */
const CTX_INDEX: Record<string, number> = { process: ctxIndex("process"), irq: ctxIndex("irq"), workqueue: ctxIndex("workqueue"), gpu: ctxIndex("gpu") };

/**
 * Turns the run's events into rows of column buffers, batch by batch, and hands each full batch
 * to the sinks. Each event is one call of its kind's compiled writer (row-writers.ts). Nothing
 * per event is kept beyond the current batch, so memory stays flat however long the run.
 * Listens to the run's EventLog (model and engine events alike).
 */
export class EventRecorder implements ModelEventListener<RunEvent> {
  readonly threads: ThreadInfo[] = [];
  private readonly ctxIndexByUid: number[] = [];
  private readonly batch: EventBatch;
  rowsWritten = 0;

  constructor(
    private readonly state: ModelState,
    private readonly sinks: BatchSink[],
    batchRows = 65536,
  ) {
    this.batch = new EventBatch(batchRows);
  }

  onSpawn(uid: number, name: string, ctx: ExecContext): void {
    this.threads.push({ uid, name, ctx });
    this.ctxIndexByUid[uid] = ctxIndex(ctx);
  }

  onModelEvent(seq: number, tNs: number, thread: number, ctx: ExecContext, ev: RunEvent): void {
    const write = MODEL_ROW_WRITERS[ev.kind];
    if (write === undefined) throw new Error(`recorder: no column writer for event kind "${ev.kind}"`);
    write(this.batch, this.state, ev, seq, tNs, thread, CTX_INDEX[ctx]!);
    this.endRow();
  }

  onEngineEvent(seq: number, kind: EngineEventKind, tNs: number, procUid: number, objectId: number, arg: number): void {
    ENGINE_ROW_WRITER(this.batch, ENGINE_KIND_INDEX[kind]!, seq, tNs, procUid, this.ctxIndexByUid[procUid] ?? CTX_INDEX.process!, objectId, arg);
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

  private endRow(): void {
    if (this.batch.full || this.rowsWritten + this.batch.rows > this.rowLimit) this.flush();
  }
}
