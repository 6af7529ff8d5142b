import type { Engine, EngineEventKind, EngineSink, ExecContext } from "../engine/index.ts";

/** Who receives each event: the recorder (Arrow, SQLite), checkers, tests. */
export interface ModelEventListener<E> {
  /**
   * A model event, already applied to the state.
   * @param seq 0, 1, 2, ... in the order events happened, shared with engine events
   * @param tNs simulated time
   * @param thread uid of the simulated thread that made the change, or -1 (set-up)
   * @param ctx that thread's execution context
   */
  onModelEvent(seq: number, tNs: number, thread: number, ctx: ExecContext, ev: E): void;
  /** An engine event (a lock, a sleep, a wake-up), numbered in the same sequence. */
  onEngineEvent?(seq: number, kind: EngineEventKind, tNs: number, procUid: number, objectId: number, arg: number): void;
  /** A simulated thread was created: its name and context, before its first event. */
  onSpawn?(procUid: number, name: string, ctx: ExecContext): void;
}

/**
 * Event sourcing's single door: model code changes state only by committing an event here,
 * which applies it with the one `apply` function (the same one replay uses) and hands it to the
 * listeners. Nothing else writes the state. It is also the engine's sink, so engine and model
 * events share one sequence number.
 */
export class EventLog<S, E> implements EngineSink {
  private seq = 0;
  private readonly listeners: ModelEventListener<E>[] = [];

  constructor(
    private readonly engine: Engine,
    readonly state: S,
    private readonly apply: (state: S, ev: E) => void,
  ) {}

  /** Applies `ev` to the state, then reports it, stamped with time and thread. */
  commit(ev: E): void {
    this.apply(this.state, ev);
    const proc = this.engine.current;
    const seq = this.seq++;
    const thread = proc === null ? -1 : proc.uid;
    const ctx: ExecContext = proc === null ? "process" : proc.ctx;
    for (const listener of this.listeners) listener.onModelEvent(seq, this.engine.nowNs, thread, ctx, ev);
  }

  /** Receives the engine's events once a listener wants them (see subscribe). */
  onEngineEvent(kind: EngineEventKind, tNs: number, procUid: number, objectId: number, arg: number): void {
    const seq = this.seq++;
    for (const listener of this.listeners) listener.onEngineEvent?.(seq, kind, tNs, procUid, objectId, arg);
  }

  onSpawn(procUid: number, name: string, ctx: ExecContext): void {
    for (const listener of this.listeners) listener.onSpawn?.(procUid, name, ctx);
  }

  /** Adds a listener; one that takes engine events or spawns makes the log the engine's sink. */
  subscribe(listener: ModelEventListener<E>): void {
    this.listeners.push(listener);
    if (listener.onEngineEvent !== undefined || listener.onSpawn !== undefined) this.engine.sink = this;
  }

  /** Events numbered so far (model and engine). */
  get length(): number {
    return this.seq;
  }
}
