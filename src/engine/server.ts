import type { Engine } from "./engine.ts";
import { sleep, type Op, type Process, type ProcessBody, type Scheduler } from "./process.ts";
import { WaitQueue } from "./wait-queue.ts";
import { runningProcess } from "./running.ts";

/**
 * A device with a bounded number of channels and a FIFO queue in front of it: a copy engine with
 * N channels, a DMA engine, a GPU fault-handling pipeline. Requests beyond the channel count wait
 * in arrival order. It keeps the figures a queueing model needs: requests served, and the
 * busy-channel time integral from which utilisation follows.
 */
export class Server {
  readonly id: number;
  private busy = 0;
  private readonly waiters = new WaitQueue();
  private readonly acquireOp: Op;
  private busyAreaNs = 0;
  private lastChangeNs = 0;
  /** Requests that got a channel. */
  served = 0;

  constructor(
    private readonly engine: Engine,
    readonly name: string,
    readonly channels: number,
  ) {
    if (!(Number.isInteger(channels) && channels >= 1)) {
      throw new RangeError(`server ${name}: channels must be an integer >= 1, got ${channels}`);
    }
    this.id = engine.registerObject(`server:${name}`);
    this.acquireOp = {
      mightSleep: true,
      opName: "server_acquire",
      begin: (e: Scheduler, proc: Process): boolean => {
        if (this.busy < this.channels && this.waiters.length === 0) {
          this.take(proc);
          return true;
        }
        this.waiters.push(proc);
        e.emit("proc.block", proc.uid, this.id, 0);
        return false;
      },
    };
  }

  /** `yield dev.acquire()`: waits for a free channel. */
  acquire(): Op {
    return this.acquireOp;
  }

  /** Frees the caller's channel; the oldest waiter gets it at once. */
  release(): void {
    const proc = runningProcess(this.engine, `${this.name} release`);
    if (this.busy === 0) throw new Error(`server ${this.name}: release by ${proc.name} with no channel busy`);
    this.account();
    this.busy--;
    this.engine.emit("server.release", proc.uid, this.id, this.busy);
    if (this.waiters.length > 0) {
      const next = this.waiters.shift();
      this.take(next);
      this.engine.wake(next);
    }
  }

  /** `yield* dev.serve(ns)`: one request that holds a channel for `ns`. */
  *serve(ns: number): ProcessBody<void> {
    yield this.acquireOp;
    yield sleep(ns);
    this.release();
  }

  get busyChannels(): number {
    return this.busy;
  }

  get queueLength(): number {
    return this.waiters.length;
  }

  /** Mean busy channels over [0, now], divided by the channel count. */
  utilisation(): number {
    this.account();
    return this.engine.nowNs === 0 ? 0 : this.busyAreaNs / (this.engine.nowNs * this.channels);
  }

  private take(proc: Process): void {
    this.account();
    this.busy++;
    this.served++;
    this.engine.emit("server.acquire", proc.uid, this.id, this.busy);
  }

  private account(): void {
    const now = this.engine.nowNs;
    this.busyAreaNs += this.busy * (now - this.lastChangeNs);
    this.lastChangeNs = now;
  }
}
