import type { Engine } from "./engine.ts";
import type { Op, Process, Scheduler } from "./process.ts";
import { WaitQueue } from "./wait-queue.ts";

/** complete_all() sets `done` to UINT_MAX: every present and future wait passes. */
const DONE_ALL = Infinity;

/**
 * struct completion: a count of `complete()` calls not yet consumed by a waiter.
 *
 * - `wait()` (wait_for_completion) consumes one, or sleeps until complete() hands one over;
 * - `complete()` wakes the oldest waiter, or banks one for the next wait;
 * - `completeAll()` releases every waiter and every later wait until `reinit()`;
 * - `done` (completion_done) tells whether a wait would pass without sleeping.
 */
export class Completion {
  readonly id: number;
  private doneCount = 0;
  private readonly waiters = new WaitQueue();
  private readonly waitOp: Op;

  constructor(
    private readonly engine: Engine,
    readonly name: string,
  ) {
    this.id = engine.registerObject(`completion:${name}`);
    this.waitOp = {
      mightSleep: true,
      opName: "wait_for_completion",
      begin: (e: Scheduler, proc: Process): boolean => {
        if (this.doneCount > 0) {
          this.consume(proc.uid);
          return true;
        }
        this.waiters.push(proc);
        e.emit("proc.block", proc.uid, this.id, 0);
        return false;
      },
    };
  }

  /** `yield c.wait()`: wait_for_completion. */
  wait(): Op {
    return this.waitOp;
  }

  /** try_wait_for_completion: consumes a completion if one is there; never sleeps. */
  tryWait(): boolean {
    if (this.doneCount === 0) return false;
    this.consume(this.callerUid());
    return true;
  }

  /** A wait passes on a banked complete(): one is used up (none after complete_all). */
  private consume(procUid: number): void {
    if (this.doneCount !== DONE_ALL) this.doneCount--;
    this.engine.emit("completion.consume", procUid, this.id, this.doneCount === DONE_ALL ? -1 : this.doneCount);
  }

  /** complete(). */
  complete(): void {
    if (this.waiters.length > 0) this.engine.wake(this.waiters.shift());
    else if (this.doneCount !== DONE_ALL) this.doneCount++;
    this.engine.emit("completion.complete", this.callerUid(), this.id, this.doneCount === DONE_ALL ? -1 : this.doneCount);
  }

  /** complete_all(). */
  completeAll(): void {
    const released = this.waiters.length;
    this.doneCount = DONE_ALL;
    while (this.waiters.length > 0) this.engine.wake(this.waiters.shift());
    this.engine.emit("completion.complete_all", this.callerUid(), this.id, released);
  }

  private callerUid(): number {
    return this.engine.current?.uid ?? -1;
  }

  /** completion_done(): true if a wait would not sleep. */
  get done(): boolean {
    return this.doneCount > 0;
  }

  /** Processes sleeping in wait(). */
  get waiting(): number {
    return this.waiters.length;
  }

  /** reinit_completion(): back to not done; only valid with no waiters, as in the kernel. */
  reinit(): void {
    if (this.waiters.length > 0) throw new Error(`reinit_completion(${this.name}) with ${this.waiters.length} waiters`);
    this.doneCount = 0;
    this.engine.emit("completion.reinit", this.callerUid(), this.id, 0);
  }
}
