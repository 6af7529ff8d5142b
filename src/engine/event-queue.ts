/**
 * The engine's future-event list: a binary min-heap over typed arrays.
 *
 * Each entry is (timeNs, seq, pid). Entries are ordered by time, then by `seq`, a counter that
 * grows with every push, so entries at the same time pop in the order they were pushed (FIFO).
 * That total order is the engine's determinism contract: no object identity, no hashing.
 *
 * Why typed arrays: an object per scheduled event is what makes a JavaScript port of SimPy slow
 * (garbage and pointer chasing, not the heap's O(log n)). Here a push or pop allocates nothing
 * except when the arrays double.
 */
export class EventQueue {
  private timeNs: Float64Array;
  private seq: Float64Array;
  private pid: Int32Array;
  private count = 0;
  private nextSeq = 0;

  constructor(initialCapacity = 1024) {
    this.timeNs = new Float64Array(initialCapacity);
    this.seq = new Float64Array(initialCapacity);
    this.pid = new Int32Array(initialCapacity);
  }

  get size(): number {
    return this.count;
  }

  /** Time of the earliest entry; only meaningful when size > 0. */
  peekTimeNs(): number {
    return this.timeNs[0]!;
  }

  push(timeNs: number, pid: number): void {
    if (this.count === this.timeNs.length) this.grow();
    const times = this.timeNs;
    const seqs = this.seq;
    const pids = this.pid;
    const s = this.nextSeq++;
    // Sift the hole up from the end, moving parents down, then drop the entry in once.
    let i = this.count++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = times[parent]!;
      if (pt < timeNs || (pt === timeNs && seqs[parent]! < s)) break;
      times[i] = pt;
      seqs[i] = seqs[parent]!;
      pids[i] = pids[parent]!;
      i = parent;
    }
    times[i] = timeNs;
    seqs[i] = s;
    pids[i] = pid;
  }

  /** Removes the earliest entry and returns its pid; the caller read its time with peekTimeNs. */
  pop(): number {
    const times = this.timeNs;
    const seqs = this.seq;
    const pids = this.pid;
    const top = pids[0]!;
    const n = --this.count;
    if (n === 0) return top;
    // Move the last entry into the root's hole and sift it down.
    const t = times[n]!;
    const s = seqs[n]!;
    const p = pids[n]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n) {
        const rt = times[right]!;
        const ct = times[child]!;
        if (rt < ct || (rt === ct && seqs[right]! < seqs[child]!)) child = right;
      }
      const ct = times[child]!;
      if (t < ct || (t === ct && s < seqs[child]!)) break;
      times[i] = ct;
      seqs[i] = seqs[child]!;
      pids[i] = pids[child]!;
      i = child;
    }
    times[i] = t;
    seqs[i] = s;
    pids[i] = p;
    return top;
  }

  private grow(): void {
    const capacity = this.timeNs.length * 2;
    const times = new Float64Array(capacity);
    const seqs = new Float64Array(capacity);
    const pids = new Int32Array(capacity);
    times.set(this.timeNs);
    seqs.set(this.seq);
    pids.set(this.pid);
    this.timeNs = times;
    this.seq = seqs;
    this.pid = pids;
  }
}
