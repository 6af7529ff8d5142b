/**
 * The baseline the engine is measured against: SimPy's design carried straight into JavaScript.
 * An object per event with a callback list, a binary heap of [time, id, event] tuples, processes
 * as generators that yield event objects, and a resource whose requests are events. This is
 * what "port SimPy" gives; the gap to our engine is the cost of garbage and scattered objects.
 * Written for this benchmark from SimPy's documented semantics; not SimPy's code.
 */
type Callback = (event: SEvent) => void;

class SEvent {
  callbacks: Callback[] | null = [];
  value: unknown = undefined;
  triggered = false;
  constructor(readonly env: SEnvironment) {}
  succeed(value?: unknown): this {
    this.triggered = true;
    this.value = value;
    this.env.schedule(this, 0);
    return this;
  }
}

class Timeout extends SEvent {
  constructor(env: SEnvironment, delay: number) {
    super(env);
    this.triggered = true;
    env.schedule(this, delay);
  }
}

type Entry = [number, number, SEvent];

export class SEnvironment {
  now = 0;
  private heap: Entry[] = [];
  private eid = 0;

  schedule(event: SEvent, delay: number): void {
    const heap = this.heap;
    const entry: Entry = [this.now + delay, this.eid++, event];
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(heap[p]!, entry)) break;
      heap[i] = heap[p]!;
      i = p;
    }
    heap[i] = entry;
  }

  timeout(delay: number): SEvent {
    return new Timeout(this, delay);
  }

  process(gen: Generator<SEvent, void, unknown>): void {
    const init = new SEvent(this);
    init.callbacks!.push(() => resume(gen, undefined));
    init.succeed();
    const resume = (g: Generator<SEvent, void, unknown>, value: unknown): void => {
      for (;;) {
        const step = g.next(value);
        if (step.done === true) return;
        const ev = step.value;
        if (ev.callbacks === null) {
          value = ev.value; // already processed: continue at once
          continue;
        }
        ev.callbacks.push((e) => resume(g, e.value));
        return;
      }
    };
  }

  run(): void {
    const heap = this.heap;
    while (heap.length > 0) {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) {
        let i = 0;
        const n = heap.length;
        for (;;) {
          let c = 2 * i + 1;
          if (c >= n) break;
          if (c + 1 < n && less(heap[c + 1]!, heap[c]!)) c++;
          if (less(last, heap[c]!)) break;
          heap[i] = heap[c]!;
          i = c;
        }
        heap[i] = last;
      }
      this.now = top[0];
      const event = top[2];
      const callbacks = event.callbacks!;
      event.callbacks = null;
      for (const cb of callbacks) cb(event);
    }
  }
}

function less(a: Entry, b: Entry): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

/** SimPy's Resource: requests are events granted in FIFO order. */
export class SResource {
  private users = 0;
  private readonly queue: SEvent[] = [];
  constructor(
    private readonly env: SEnvironment,
    private readonly capacity: number,
  ) {}
  request(): SEvent {
    const req = new SEvent(this.env);
    if (this.users < this.capacity) {
      this.users++;
      req.succeed();
    } else this.queue.push(req);
    return req;
  }
  release(): void {
    const next = this.queue.shift();
    if (next !== undefined) next.succeed();
    else this.users--;
  }
}
