import type { Engine } from "./engine.ts";
import type { Op, Process, Scheduler } from "./process.ts";
import { WaitQueue } from "./wait-queue.ts";
import { runningProcess } from "./running.ts";

/**
 * spinlock_t: legal in every context, IRQ included. Holding one makes the holder atomic, so an
 * operation that may sleep inside it is a context violation. Waiters busy-wait in arrival order
 * (the kernel's queued spinlock is fair); they are parked in the engine, but that wait is spinning,
 * not sleeping, so it never counts as a violation.
 */
export class SpinLock {
  readonly id: number;
  private owner: Process | null = null;
  private readonly waiters = new WaitQueue();
  private readonly lockOp: Op;

  constructor(
    private readonly engine: Engine,
    readonly name: string,
  ) {
    this.id = engine.registerObject(`spinlock:${name}`);
    this.lockOp = {
      mightSleep: false,
      opName: "spin_lock",
      begin: (e: Scheduler, proc: Process): boolean => {
        if (this.owner === proc) throw new Error(`spin_lock(${this.name}): recursive lock deadlocks`);
        this.engine.enterAtomic(proc); // preempt_disable() happens before the spin
        if (this.owner === null) {
          this.owner = proc;
          e.emit("spinlock.acquire", proc.uid, this.id, 0);
          return true;
        }
        this.waiters.push(proc);
        e.emit("proc.block", proc.uid, this.id, 0);
        return false;
      },
    };
  }

  /** `yield s.lock()`: spin_lock. */
  lock(): Op {
    return this.lockOp;
  }

  /** spin_unlock: the oldest spinner gets the lock next. */
  unlock(): void {
    const proc = runningProcess(this.engine, "spin_unlock");
    if (this.owner !== proc) {
      throw new Error(`spin_unlock(${this.name}) by ${proc.name}, owner is ${this.owner?.name ?? "nobody"}`);
    }
    this.engine.exitAtomic(proc);
    this.engine.emit("spinlock.release", proc.uid, this.id, this.waiters.length);
    if (this.waiters.length === 0) {
      this.owner = null;
      return;
    }
    const next = this.waiters.shift();
    this.owner = next;
    this.engine.emit("spinlock.acquire", next.uid, this.id, 1);
    this.engine.wake(next);
  }

  get isLocked(): boolean {
    return this.owner !== null;
  }
}
