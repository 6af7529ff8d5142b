import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { EventQueue } from "../src/engine/event-queue.ts";

/**
 * Reference future-event list: entries kept sorted by (time, push order). A new entry goes after
 * every entry with time <= its own, which is exactly FIFO among equal times.
 */
class Reference {
  private times: number[] = [];
  private pids: number[] = [];

  get size(): number {
    return this.times.length;
  }

  push(t: number, pid: number): void {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    this.times.splice(lo, 0, t);
    this.pids.splice(lo, 0, pid);
  }

  peekTimeNs(): number {
    return this.times[0]!;
  }

  pop(): number {
    this.times.shift();
    return this.pids.shift()!;
  }
}

type Op = { kind: "push"; delta: number; pid: number } | { kind: "pop" } | { kind: "peek" };

/**
 * Runs ops on the queue and the reference, checking every answer, then drains both. Pushes are
 * at (time of the last pop) + delta, the engine's monotone use; a "peek" followed by pushes
 * instead of a pop is what run(untilNs) does when it stops early. Pops on an empty queue are
 * skipped.
 */
function check(ops: Op[], initialCapacity?: number, base = 0): void {
  const q = initialCapacity === undefined ? new EventQueue() : new EventQueue(initialCapacity);
  const ref = new Reference();
  let now = base;
  for (const op of ops) {
    if (op.kind === "push") {
      q.push(now + op.delta, op.pid);
      ref.push(now + op.delta, op.pid);
    } else if (ref.size > 0) {
      expect(q.peekTimeNs()).toBe(ref.peekTimeNs());
      if (op.kind === "pop") {
        now = ref.peekTimeNs();
        expect(q.pop()).toBe(ref.pop());
      }
    }
    expect(q.size).toBe(ref.size);
  }
  while (ref.size > 0) {
    expect(q.peekTimeNs()).toBe(ref.peekTimeNs());
    expect(q.pop()).toBe(ref.pop());
  }
  expect(q.size).toBe(0);
}

/** Small deterministic PRNG (mulberry32), so that a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Delta = (u: () => number) => number;

/** n ops: pushes with probability pPush (deltas drawn by `delta`), otherwise pops or peeks. */
function randomOps(seed: number, n: number, pPush: number, delta: Delta): Op[] {
  const u = rng(seed);
  const ops: Op[] = [];
  for (let i = 0; i < n; i++) {
    const x = u();
    if (x < pPush) ops.push({ kind: "push", delta: delta(u), pid: Math.floor(u() * 2 ** 31) });
    else ops.push({ kind: x < pPush + (1 - pPush) * 0.1 ? "peek" : "pop" });
  }
  return ops;
}

const push = (delta: number, pid: number): Op => ({ kind: "push", delta, pid });
const pushes = (deltas: number[]): Op[] => deltas.map(push);
const POP: Op = { kind: "pop" };
const PEEK: Op = { kind: "peek" };

describe("EventQueue", () => {
  it("pops in time order, FIFO among equal times", () => {
    const q = new EventQueue();
    const entries = [[5, 1], [3, 2], [5, 3], [3, 4], [0, 5], [5, 6]] as const;
    for (const [t, pid] of entries) q.push(t, pid);
    const out: number[] = [];
    while (q.size > 0) out.push(q.pop());
    expect(out).toEqual([5, 2, 4, 1, 3, 6]);
  });

  it("puts pushes at the current time after older entries at that time", () => {
    check([...pushes([10, 10, 20]), POP, ...pushes([0, 0, 10, 0]), POP]);
    check([...pushes([0, 5, 0]), PEEK, POP, push(0, 7), POP, push(0, 8), push(1, 9)]);
  });

  it("grows far beyond a tiny initial capacity", () => {
    check(randomOps(1, 20_000, 0.8, (u) => Math.floor(u() * 1e6)), 1);
    check(pushes(Array.from({ length: 5000 }, (_, i) => i % 7)), 2);
  });

  it("handles the hold pattern at several sizes", () => {
    for (const P of [1, 10, 17, 100, 3000]) {
      const u = rng(P);
      const ops: Op[] = pushes(Array.from({ length: P }, () => Math.floor(u() * 1e9)));
      for (let i = 0; i < 20_000; i++) ops.push(POP, push(Math.floor(u() * 1e9), i));
      check(ops);
    }
  });

  it("handles many ties", () => {
    const d = [0, 0, 0, 1, 1000];
    for (let seed = 0; seed < 20; seed++) {
      check(randomOps(seed, 5000, 0.55, (u) => d[Math.floor(u() * d.length)]!));
    }
    // A crowd at one future instant, then more pushes at that instant once it is reached.
    const ops = pushes([...Array<number>(3000).fill(7), ...Array<number>(100).fill(3)]);
    for (let i = 0; i < 200; i++) ops.push(POP, push(i % 2 ? 0 : 4, 9000 + i));
    check(ops);
  });

  it("drains to empty and refills, repeatedly", () => {
    const u = rng(7);
    const ops: Op[] = [];
    for (let round = 0; round < 50; round++) {
      const n = 1 + Math.floor(u() * 300);
      const span = round % 3 ? 1e3 : 1e9;
      for (let i = 0; i < n; i++) ops.push(push(Math.floor(u() * span), i));
      for (let i = 0; i < n; i++) ops.push(u() < 0.2 ? PEEK : POP);
      for (let i = 0; i < n; i++) ops.push(POP);
    }
    check(ops, 4);
  });

  it("handles times near 2^50 and 2^53", () => {
    for (const base of [2 ** 50, 2 ** 53 - 2 ** 40]) {
      for (let seed = 0; seed < 5; seed++) {
        const span = seed % 2 ? 1e3 : 2 ** 38;
        check(randomOps(seed, 5000, 0.6, (u) => (u() < 0.3 ? 0 : Math.floor(u() * span))), 8, base);
      }
    }
    check(pushes([2 ** 50, 0, 2 ** 50, 1, 2 ** 50 - 1, 2 ** 52, 2 ** 53 - 1, 2 ** 53 - 1]));
  });

  it("stays ordered when many pushes land, in decreasing order, inside the current bucket", () => {
    // A far entry makes the bottom run span a wide range; decreasing pushes then land inside it.
    const ops: Op[] = [...pushes([1e12, 5, 5]), POP];
    for (let i = 0; i < 20_000; i++) ops.push(push(1e9 - i * 1000 + (i % 3), i));
    for (let i = 0; i < 500; i++) ops.push(POP, push(i * 7, i));
    check(ops);
    // Entries at the current time pushed before it was reached must still precede later pushes
    // at that time, even when a flood of pushes makes the queue reorganise the entries around them.
    const flood: Op[] = [...pushes([1e12, 100, 100, 100, 100, 100, 300]), POP, push(0, 50)];
    for (let i = 0; i < 400; i++) flood.push(push(1 + ((i * 7919) % 100_000), 100 + i));
    check(flood);
  });

  it("handles clustered times with far outliers (nested rungs)", () => {
    const u = rng(11);
    const ops: Op[] = [];
    for (let i = 0; i < 30_000; i++) {
      const x = u();
      if (x < 0.45) ops.push(push(Math.floor(u() * 64), i));
      else if (x < 0.9) ops.push(push(2 ** 40 + Math.floor(u() * 16), i));
      else ops.push(push(Math.floor(u() * 2 ** 45), i));
      if (u() < 0.4) ops.push(POP);
    }
    check(ops);
  });

  it("matches the reference on arbitrary monotone operation sequences", () => {
    const delta = fc.oneof(
      fc.constant(0),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 2000 }),
      fc.integer({ min: 0, max: 1e9 }),
      fc.integer({ min: 0, max: 2 ** 48 }),
    );
    const pushOp = fc.record({
      kind: fc.constant("push" as const),
      delta,
      pid: fc.nat({ max: 2 ** 31 - 1 }),
    });
    const op: fc.Arbitrary<Op> = fc.oneof(
      { arbitrary: pushOp, weight: 5 },
      { arbitrary: fc.constant(POP), weight: 3 },
      { arbitrary: fc.constant(PEEK), weight: 1 },
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 600 }),
        fc.integer({ min: 1, max: 64 }),
        fc.constantFrom(0, 2 ** 50),
        (ops, initialCapacity, base) => check(ops, initialCapacity, base),
      ),
      { numRuns: 300 },
    );
  });
});

/**
 * A second, plainer reference: every entry carries its push number and the list is kept sorted by
 * the key (time, push number), latest first, so a pop is Array.pop. Pushes since the last pop are
 * held back; a few are placed by binary search on the key, many by sorting the whole list.
 */
type Keyed = { t: number; seq: number; pid: number };
const byKeyDescending = (a: Keyed, b: Keyed): number => b.t - a.t || b.seq - a.seq;

class SortReference {
  private entries: Keyed[] = [];
  private pending: Keyed[] = [];
  private seq = 0;

  get size(): number {
    return this.entries.length + this.pending.length;
  }

  push(t: number, pid: number): void {
    this.pending.push({ t, seq: this.seq++, pid });
  }

  private sorted(): Keyed[] {
    const e = this.entries;
    if (this.pending.length > 16) {
      e.push(...this.pending);
      e.sort(byKeyDescending);
    } else {
      for (const x of this.pending) {
        let lo = 0;
        let hi = e.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (byKeyDescending(e[mid]!, x) < 0) lo = mid + 1;
          else hi = mid;
        }
        e.splice(lo, 0, x);
      }
    }
    this.pending.length = 0;
    return e;
  }

  peekTimeNs(): number {
    return this.sorted().at(-1)!.t;
  }

  pop(): number {
    return this.sorted().pop()!.pid;
  }
}

const MAX_TIME_NS = 2 ** 53 - 1;

/** Like check(), against SortReference; times are clamped below 2^53 so huge bases stay exact. */
function checkSorted(ops: Op[], base: number): void {
  const q = new EventQueue();
  const ref = new SortReference();
  let now = base;
  for (const op of ops) {
    if (op.kind === "push") {
      const t = Math.min(now + op.delta, MAX_TIME_NS);
      q.push(t, op.pid);
      ref.push(t, op.pid);
    } else if (ref.size > 0) {
      const t = ref.peekTimeNs();
      if (q.peekTimeNs() !== t) throw new Error(`peek ${q.peekTimeNs()} !== ${t}`);
      if (op.kind === "pop") {
        now = t;
        const want = ref.pop();
        const got = q.pop();
        if (got !== want) throw new Error(`pop ${got} !== ${want} at ${t}`);
      }
    }
    if (q.size !== ref.size) throw new Error(`size ${q.size} !== ${ref.size}`);
  }
  while (ref.size > 0) {
    const t = ref.peekTimeNs();
    if (q.peekTimeNs() !== t) throw new Error(`drain peek ${q.peekTimeNs()} !== ${t}`);
    const want = ref.pop();
    const got = q.pop();
    if (got !== want) throw new Error(`drain pop ${got} !== ${want} at ${t}`);
  }
  if (q.size !== 0) throw new Error(`size ${q.size} after draining`);
}

/** Deltas mixing many exact ties (0, and a few small repeated values) with spans up to 2^52. */
function mixedDelta(u: () => number, tieShare: number, spanNs: number): number {
  const x = u();
  if (x < tieShare) return 0;
  if (x < tieShare + (1 - tieShare) * 0.3) return [1, 1000, 1000, 2 ** 20][Math.floor(u() * 4)]!;
  if (x < 0.98) return Math.floor(u() * spanNs);
  return Math.floor(u() * 2 ** 52); // a rare far outlier
}

describe("EventQueue against a sort by (time, push order)", () => {
  const base = fc.constantFrom(0, 2 ** 40, 2 ** 53 - 2 ** 45);

  it("agrees on arbitrary small interleavings with many ties and huge ranges", () => {
    const delta = fc.oneof(
      { arbitrary: fc.constant(0), weight: 4 },
      { arbitrary: fc.constantFrom(1, 7, 1000), weight: 3 },
      { arbitrary: fc.integer({ min: 0, max: 1e9 }), weight: 3 },
      { arbitrary: fc.integer({ min: 0, max: 2 ** 52 }), weight: 1 },
    );
    const op: fc.Arbitrary<Op> = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant("push" as const), delta, pid: fc.nat() }), weight: 5 },
      { arbitrary: fc.constant(POP), weight: 4 },
      { arbitrary: fc.constant(PEEK), weight: 1 },
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 400 }), base, (ops, b) => checkSorted(ops, b)), { numRuns: 400 });
  });

  it("agrees at 100,000+ entries, in phases of pushes and pops", () => {
    // fast-check draws the shape (seed, tie share, span, phase lengths); the ops come from the seed.
    const shape = fc.record({
      seed: fc.nat(),
      tieShare: fc.constantFrom(0, 0.3, 0.9),
      spanNs: fc.constantFrom(1e3, 1e9, 2 ** 45),
      b: base,
    });
    fc.assert(
      fc.property(shape, ({ seed, tieShare, spanNs, b }) => {
        const u = rng(seed);
        const ops: Op[] = [];
        let live = 0;
        let pid = 0;
        const pushN = (n: number): void => {
          for (let i = 0; i < n; i++, live++) ops.push(push(mixedDelta(u, tieShare, spanNs), pid++));
        };
        pushN(100_000);
        for (let phase = 0; phase < 20; phase++) {
          // Interleaved pop/push (the hold pattern), then a burst of one kind.
          for (let i = 0; i < 2000; i++) {
            ops.push(u() < 0.1 ? PEEK : POP);
            pushN(1);
          }
          if (u() < 0.5) pushN(Math.floor(u() * 5000));
          else {
            const n = Math.floor(u() * Math.min(live, 20_000));
            for (let i = 0; i < n; i++, live--) ops.push(POP);
          }
        }
        checkSorted(ops, b);
      }),
      { numRuns: 4 },
    );
  }, 300_000);
});
