import type { Engine } from "./engine.ts";
import type { Op, Process, Scheduler } from "./process.ts";
import { WaitQueue } from "./wait-queue.ts";

/**
 * wait_queue_head_t: processes sleep on it until woken, then re-check their condition, as
 * `wait_event(wq, cond)` does:
 *
 *   while (!cond()) yield wq.wait();
 *
 * It keeps no state of its own beyond the sleepers, which suits conditions that live in the
 * event-sourced model (a folio's lock bit, a migration entry) rather than in the engine.
 */
export class WaitQueueHead {
  readonly id: number;
  private readonly sleepers = new WaitQueue();
  private readonly waitOp: Op;

  constructor(
    private readonly engine: Engine,
    readonly name: string,
  ) {
    this.id = engine.registerObject(`waitqueue:${name}`);
    this.waitOp = {
      mightSleep: true,
      opName: "wait_event",
      begin: (e: Scheduler, proc: Process): boolean => {
        this.sleepers.push(proc);
        e.emit("proc.block", proc.uid, this.id, 0);
        return false;
      },
    };
  }

  /** `yield wq.wait()`: sleep until the next wake-up (always sleeps; check the condition first). */
  wait(): Op {
    return this.waitOp;
  }

  /** wake_up_all: every sleeper becomes runnable, in the order they slept. */
  wakeUpAll(): number {
    const n = this.sleepers.length;
    while (this.sleepers.length > 0) this.engine.wake(this.sleepers.shift());
    return n;
  }

  /** wake_up (exclusive waiter semantics): the oldest sleeper only. */
  wakeUpOne(): boolean {
    if (this.sleepers.length === 0) return false;
    this.engine.wake(this.sleepers.shift());
    return true;
  }

  get sleeping(): number {
    return this.sleepers.length;
  }
}
