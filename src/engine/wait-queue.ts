import type { Process } from "./process.ts";

/**
 * A FIFO of parked processes (the kernel's wait_queue_head / a lock's wait_list), as a ring
 * buffer so that parking and waking allocate nothing in the steady state.
 *
 * Each entry carries a small integer tag, so one queue can hold waiters of different kinds
 * (an rwsem's readers and writers) in arrival order.
 */
export class WaitQueue {
  private procs: (Process | undefined)[] = new Array(8);
  private tags = new Int32Array(8);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(proc: Process, tag = 0): void {
    if (this.count === this.procs.length) this.grow();
    const i = (this.head + this.count) % this.procs.length;
    this.procs[i] = proc;
    this.tags[i] = tag;
    this.count++;
  }

  /** The oldest waiter; the queue must not be empty. */
  peek(): Process {
    return this.procs[this.head]!;
  }

  /** Tag of the oldest waiter; the queue must not be empty. */
  peekTag(): number {
    return this.tags[this.head]!;
  }

  /** Tag of the waiter at position `i` from the head. */
  tagAt(i: number): number {
    return this.tags[(this.head + i) % this.procs.length]!;
  }

  shift(): Process {
    const proc = this.procs[this.head]!;
    this.procs[this.head] = undefined;
    this.head = (this.head + 1) % this.procs.length;
    this.count--;
    return proc;
  }

  /** Removes every waiter with `tag`, in order, keeping the others in their order. */
  removeTagged(tag: number): Process[] {
    const taken: Process[] = [];
    const keptProcs: Process[] = [];
    const keptTags: number[] = [];
    while (this.count > 0) {
      const t = this.peekTag();
      const p = this.shift();
      if (t === tag) taken.push(p);
      else {
        keptProcs.push(p);
        keptTags.push(t);
      }
    }
    for (let i = 0; i < keptProcs.length; i++) this.push(keptProcs[i]!, keptTags[i]!);
    return taken;
  }

  private grow(): void {
    const capacity = this.procs.length * 2;
    const procs: (Process | undefined)[] = new Array(capacity);
    const tags = new Int32Array(capacity);
    for (let i = 0; i < this.count; i++) {
      const j = (this.head + i) % this.procs.length;
      procs[i] = this.procs[j];
      tags[i] = this.tags[j]!;
    }
    this.procs = procs;
    this.tags = tags;
    this.head = 0;
  }
}
