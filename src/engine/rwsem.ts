import type { Engine } from "./engine.ts";
import type { Op, Process, Scheduler } from "./process.ts";
import { WaitQueue } from "./wait-queue.ts";
import { runningProcess } from "./running.ts";

const WAIT_READ = 0;
const WAIT_WRITE = 1;

/**
 * struct rw_semaphore, as the mmap lock uses it: many readers or one writer.
 *
 * No writer starvation: once anyone waits, new readers queue too instead of joining the readers
 * inside (the kernel's read fast path fails when the waiters flag is set). Wake-ups follow
 * rwsem_mark_wake's phase-fair rule: when the oldest waiter is a writer it alone gets the lock;
 * when it is a reader, every reader in the queue gets it together, and the writers keep their
 * places.
 */
export class RwSemaphore {
  readonly id: number;
  private readers = 0;
  private writer: Process | null = null;
  private readonly waiters = new WaitQueue();
  private readonly readOp: Op;
  private readonly writeOp: Op;

  constructor(
    private readonly engine: Engine,
    readonly name: string,
  ) {
    this.id = engine.registerObject(`rwsem:${name}`);
    this.readOp = {
      mightSleep: true,
      opName: "down_read",
      begin: (e: Scheduler, proc: Process): boolean => {
        if (this.writer === proc) throw new Error(`down_read(${this.name}) while holding it for write deadlocks`);
        if (this.writer === null && this.waiters.length === 0) {
          this.readers++;
          e.emit("rwsem.acquire_read", proc.uid, this.id, this.readers);
          return true;
        }
        this.waiters.push(proc, WAIT_READ);
        e.emit("proc.block", proc.uid, this.id, 0);
        return false;
      },
    };
    this.writeOp = {
      mightSleep: true,
      opName: "down_write",
      begin: (e: Scheduler, proc: Process): boolean => {
        if (this.writer === proc) throw new Error(`down_write(${this.name}): recursive lock deadlocks`);
        if (this.writer === null && this.readers === 0 && this.waiters.length === 0) {
          this.writer = proc;
          e.emit("rwsem.acquire_write", proc.uid, this.id, 0);
          return true;
        }
        this.waiters.push(proc, WAIT_WRITE);
        e.emit("proc.block", proc.uid, this.id, 0);
        return false;
      },
    };
  }

  /** `yield sem.downRead()`: down_read (mmap_read_lock). */
  downRead(): Op {
    return this.readOp;
  }

  /** `yield sem.downWrite()`: down_write (mmap_write_lock). */
  downWrite(): Op {
    return this.writeOp;
  }

  /** down_read_trylock: fails if a writer holds it or anyone waits. */
  downReadTrylock(): boolean {
    const proc = runningProcess(this.engine, "down_read_trylock");
    if (this.writer !== null || this.waiters.length > 0) return false;
    this.readers++;
    this.engine.emit("rwsem.acquire_read", proc.uid, this.id, this.readers);
    return true;
  }

  /** down_write_trylock: succeeds only on an idle semaphore with no waiters. */
  downWriteTrylock(): boolean {
    const proc = runningProcess(this.engine, "down_write_trylock");
    if (this.writer !== null || this.readers > 0 || this.waiters.length > 0) return false;
    this.writer = proc;
    this.engine.emit("rwsem.acquire_write", proc.uid, this.id, 0);
    return true;
  }

  /** up_read. */
  upRead(): void {
    const proc = runningProcess(this.engine, "up_read");
    if (this.readers === 0) throw new Error(`up_read(${this.name}) by ${proc.name} with no reader inside`);
    this.readers--;
    this.engine.emit("rwsem.release_read", proc.uid, this.id, this.readers);
    if (this.readers === 0) this.wakeWaiters();
  }

  /** up_write. */
  upWrite(): void {
    const proc = runningProcess(this.engine, "up_write");
    if (this.writer !== proc) {
      throw new Error(`up_write(${this.name}) by ${proc.name}, writer is ${this.writer?.name ?? "nobody"}`);
    }
    this.writer = null;
    this.engine.emit("rwsem.release_write", proc.uid, this.id, 0);
    this.wakeWaiters();
  }

  /** downgrade_write: the writer becomes a reader and readers waiting at the head join it. */
  downgradeWrite(): void {
    const proc = runningProcess(this.engine, "downgrade_write");
    if (this.writer !== proc) throw new Error(`downgrade_write(${this.name}) by ${proc.name}, not the writer`);
    this.writer = null;
    this.engine.emit("rwsem.release_write", proc.uid, this.id, 0);
    this.readers++;
    this.engine.emit("rwsem.acquire_read", proc.uid, this.id, this.readers);
    if (this.waiters.length > 0 && this.waiters.peekTag() === WAIT_READ) this.wakeWaiters();
  }

  /** rwsem_mark_wake: a writer alone, or every queued reader at once. */
  private wakeWaiters(): void {
    if (this.waiters.length === 0 || this.writer !== null) return;
    if (this.waiters.peekTag() === WAIT_WRITE) {
      if (this.readers > 0) return;
      const next = this.waiters.shift();
      this.writer = next;
      this.engine.emit("rwsem.acquire_write", next.uid, this.id, 1);
      this.engine.wake(next);
      return;
    }
    for (const reader of this.waiters.removeTagged(WAIT_READ)) {
      this.readers++;
      this.engine.emit("rwsem.acquire_read", reader.uid, this.id, this.readers);
      this.engine.wake(reader);
    }
  }

  get readersInside(): number {
    return this.readers;
  }

  get writerName(): string | null {
    return this.writer?.name ?? null;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** rwsem_is_locked. */
  get isLocked(): boolean {
    return this.readers > 0 || this.writer !== null;
  }
}
