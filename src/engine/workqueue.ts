import type { Engine } from "./engine.ts";
import { sleep, type Op, type ProcessBody } from "./process.ts";
import { WaitQueue } from "./wait-queue.ts";
import type { Process, Scheduler } from "./process.ts";

/** struct work_struct: a function to run later in a worker, queued at most once at a time. */
export class Work {
  /** Queued and not yet started (WORK_STRUCT_PENDING). */
  pending = false;
  /** A worker is executing it now. */
  running = false;
  queuedAtNs = 0;

  constructor(
    readonly name: string,
    /** The work function (INIT_WORK's func); runs in workqueue context and may sleep. */
    readonly fn: () => ProcessBody,
  ) {}
}

export interface WorkqueueOptions {
  /** max_active: how many work items may execute at once. Default 1 (ordered). */
  maxActive?: number;
  /** Time from queue_work until a worker can start the item (scheduling a kworker). Default 0. */
  queueLatencyNs?: number;
}

/**
 * A workqueue with bounded concurrency: at most `maxActive` items run at once, in queueing order.
 *
 * Like the kernel: queue_work returns false when the item is already pending; pending clears as
 * the item starts, so it may be queued again while it runs; and one item never runs on two
 * workers at once (the kernel's non-reentrancy guarantee).
 */
export class Workqueue {
  readonly id: number;
  readonly maxActive: number;
  readonly queueLatencyNs: number;
  private readonly queue: Work[] = [];
  private active = 0;
  private readonly flushers = new WaitQueue();
  private readonly flushOp: Op;
  /** Work items completed so far. */
  completed = 0;

  constructor(
    private readonly engine: Engine,
    readonly name: string,
    options: WorkqueueOptions = {},
  ) {
    this.id = engine.registerObject(`workqueue:${name}`);
    this.maxActive = options.maxActive ?? 1;
    this.queueLatencyNs = options.queueLatencyNs ?? 0;
    if (!(Number.isInteger(this.maxActive) && this.maxActive >= 1)) {
      throw new RangeError(`workqueue ${name}: maxActive must be an integer >= 1, got ${this.maxActive}`);
    }
    if (!(Number.isInteger(this.queueLatencyNs) && this.queueLatencyNs >= 0)) {
      throw new RangeError(`workqueue ${name}: queueLatencyNs must be an integer >= 0, got ${this.queueLatencyNs}`);
    }
    this.flushOp = {
      mightSleep: true,
      opName: "flush_workqueue",
      begin: (e: Scheduler, proc: Process): boolean => {
        if (this.idle) return true;
        this.flushers.push(proc);
        e.emit("proc.block", proc.uid, this.id, 0);
        return false;
      },
    };
  }

  /** queue_work: false if the item was already pending. Callable from any context, IRQ too. */
  queueWork(work: Work): boolean {
    const callerUid = this.engine.current?.uid ?? -1;
    if (work.pending) {
      this.engine.emit("work.queue", callerUid, this.id, 0);
      return false;
    }
    work.pending = true;
    work.queuedAtNs = this.engine.nowNs;
    this.queue.push(work);
    this.engine.emit("work.queue", callerUid, this.id, 1);
    if (this.active < this.maxActive) {
      this.active++;
      this.engine.spawn(`kworker/${this.name}`, this.worker(), "workqueue");
    }
    return true;
  }

  /** `yield wq.flush()`: waits until nothing is queued or running (flush_workqueue). */
  flush(): Op {
    return this.flushOp;
  }

  get idle(): boolean {
    return this.active === 0 && this.queue.length === 0;
  }

  get queued(): number {
    return this.queue.length;
  }

  get running(): number {
    return this.active;
  }

  /** One kworker: runs queued items until none is runnable, then retires. */
  private *worker(): ProcessBody<void> {
    for (;;) {
      const index = this.queue.findIndex((w) => !w.running);
      if (index < 0) break;
      const work = this.queue.splice(index, 1)[0]!;
      work.running = true;
      const startNs = work.queuedAtNs + this.queueLatencyNs;
      if (startNs > this.engine.nowNs) yield sleep(startNs - this.engine.nowNs);
      work.pending = false;
      this.engine.emit("work.start", this.engine.current!.uid, this.id, this.engine.nowNs - work.queuedAtNs);
      yield* work.fn();
      work.running = false;
      this.completed++;
      this.engine.emit("work.end", this.engine.current!.uid, this.id, 0);
    }
    this.active--;
    if (this.idle) while (this.flushers.length > 0) this.engine.wake(this.flushers.shift());
  }
}
