import type { Engine } from "./engine.ts";
import type { Op, Process, Scheduler } from "./process.ts";
import { WaitQueue } from "./wait-queue.ts";
import { runningProcess } from "./running.ts";

/**
 * struct mutex: one owner, sleeping waiters served in arrival order.
 *
 * mutex_lock may sleep, so calling it in IRQ or atomic context is a context violation even
 * when the mutex is free (the kernel's might_sleep() fires before the fast path). The kernel
 * also spins optimistically and hands the lock off to the first waiter; we model the handoff
 * (strict FIFO) and leave spinning time to the caller's cost model.
 */
export class Mutex {
  readonly id: number;
  private owner: Process | null = null;
  private readonly waiters = new WaitQueue();
  private readonly lockOp: Op;

  constructor(
    private readonly engine: Engine,
    readonly name: string,
  ) {
    this.id = engine.registerObject(`mutex:${name}`);
    this.lockOp = {
      mightSleep: true,
      opName: "mutex_lock",
      begin: (e: Scheduler, proc: Process): boolean => {
        if (this.owner === proc) throw new Error(`mutex_lock(${this.name}): recursive lock deadlocks`);
        if (this.owner === null) {
          this.owner = proc;
          e.emit("mutex.acquire", proc.uid, this.id, 0);
          return true;
        }
        this.waiters.push(proc);
        e.emit("proc.block", proc.uid, this.id, 0);
        return false;
      },
    };
  }

  /** `yield m.lock()`: mutex_lock. */
  lock(): Op {
    return this.lockOp;
  }

  /** mutex_trylock: takes the mutex if free; never sleeps. */
  tryLock(): boolean {
    const proc = runningProcess(this.engine, "mutex_trylock");
    if (this.owner !== null) return false;
    this.owner = proc;
    this.engine.emit("mutex.acquire", proc.uid, this.id, 0);
    return true;
  }

  /** mutex_unlock: only the owner may unlock; the lock passes straight to the oldest waiter. */
  unlock(): void {
    const proc = runningProcess(this.engine, "mutex_unlock");
    if (this.owner !== proc) {
      throw new Error(`mutex_unlock(${this.name}) by ${proc.name}, owner is ${this.owner?.name ?? "nobody"}`);
    }
    this.engine.emit("mutex.release", proc.uid, this.id, this.waiters.length);
    if (this.waiters.length === 0) {
      this.owner = null;
      return;
    }
    const next = this.waiters.shift();
    this.owner = next;
    this.engine.emit("mutex.acquire", next.uid, this.id, 1);
    this.engine.wake(next);
  }

  /** mutex_is_locked. */
  get isLocked(): boolean {
    return this.owner !== null;
  }

  get ownerName(): string | null {
    return this.owner?.name ?? null;
  }

  get waiting(): number {
    return this.waiters.length;
  }
}
