import type { Engine, ExecContext } from "../engine/index.ts";

/** Who receives each applied event: the recorder (Arrow, SQLite), checkers, tests. */
export interface ModelEventListener<E> {
  /**
   * @param seq 0, 1, 2, ... in the order the events were applied
   * @param tNs simulated time
   * @param thread uid of the simulated thread that made the change, or -1 (set-up)
   * @param ctx that thread's execution context
   */
  onModelEvent(seq: number, tNs: number, thread: number, ctx: ExecContext, ev: E): void;
}

/**
 * Event sourcing's single door: model code changes state only by committing an event here,
 * which applies it with the one `apply` function (the same one replay uses) and hands it to the
 * listeners. Nothing else writes the state.
 */
export class EventLog<S, E> {
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

  subscribe(listener: ModelEventListener<E>): void {
    this.listeners.push(listener);
  }

  /** Events committed so far. */
  get length(): number {
    return this.seq;
  }
}
