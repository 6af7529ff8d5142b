/**
 * The engine's future-event list: a ladder queue (Tang, Goh & Thng, 2005) over typed arrays.
 *
 * Order is (timeNs, push order): entries at equal times pop first-in first-out. That total order
 * is the engine's determinism contract. No sequence numbers are kept: every container below is an
 * append-only list, every move between containers walks its source in order, and the only sort
 * (into the bottom) is a stable insertion sort, so equal times keep their push order for free.
 *
 * Where an entry with time t lives:
 *  - lane:   t === ref, the time of the last pop. Waking someone "now" is the engine's commonest
 *            push; it costs one append and one pop, however full the queue is.
 *  - bottom: a short sorted run holding everything before the end of the last bucket taken from
 *            the rungs. Pops come from here (or the lane).
 *  - rungs:  rung r cuts a time range into buckets of width 2^k. Rung 0 spans what the top held
 *            when it was last emptied; a bucket found holding more than THRES entries is cut again
 *            by a finer rung below it, so a crowded stretch never means one big sort.
 *  - top:    an unsorted list of everything at or after topStart (the far future).
 * Why it is fast: a push finds its bucket with a subtract and a multiply, never comparing against
 * other entries, and an entry is moved O(1) times on average (top, bucket, bottom). A binary heap
 * instead pays ~log2(n) data-dependent branches per pop, half of them mispredicted, and at large n
 * a cache miss per level. The cost is more code, which the JIT takes longer to optimise.
 *
 * Lists are chains of 4-slot chunks in one slot pool (times, pids) with a free list, so operations
 * allocate nothing; the pool, the list tables and the bottom only ever double.
 * Relies on the engine's monotone use: every pushed time is >= the time of the last pop.
 */
const SH = 2; // a chunk holds 2^SH slots
const M = (1 << SH) - 1;
const TOP = 0; // list 0 is the top, list 1 the lane, lists 2.. are rung buckets (a stack)
const LANE = 1;
const THRES = 16; // a bucket holding more entries than this gets a finer rung
const BMAX = 128; // a bottom run longer than this is spread over a new rung
const SMALL = 32; // a queue of at most this many entries may live in the bottom alone

export class EventQueue {
  private times = new Float64Array(0); // slot pool
  private pids = new Int32Array(0);
  private next = new Int32Array(1); // per chunk: the next chunk of its list, or of the free list
  private free = 0; // chunk 0 is never used, so 0 means none
  private head = new Int32Array(256); // per list: first slot
  private tail = new Int32Array(256); // per list: slot after the last entry; 0 if empty
  private cnt = new Int32Array(256); // per list: entries
  private listTop = 2;
  private nRungs = 0; // coarsest first; the deepest one is being consumed
  private rStart = new Float64Array(4);
  private rInv = new Float64Array(4); // 1 / bucket width; widths are powers of two, so exact
  private rBase = new Int32Array(4); // list of bucket 0
  private rNb = new Int32Array(4); // bucket count
  private rCur = new Int32Array(4); // buckets before this one are consumed
  private bt = new Float64Array(256); // bottom run: times ascending in [bh, be)
  private bp = new Int32Array(256);
  private bh = 0;
  private be = 0;
  private count = 0;
  // ref: time of the last pop. These two start as non-integers so that V8 lays them out as
  // doubles at once; times outgrowing small integers would otherwise deoptimise every method.
  private ref = 0.5;
  private topStart = 0.5;

  constructor(initialCapacity = 1024) {
    this.ref = this.topStart = 0;
    while (this.next.length < Math.max(64, (initialCapacity >> SH) + 2)) this.growPool();
  }

  get size(): number {
    return this.count;
  }

  /** Time of the earliest entry; only meaningful when size > 0. */
  peekTimeNs(): number {
    if (this.tail[LANE] !== 0) return this.ref;
    if (this.bh === this.be) this.refill();
    return this.bt[this.bh]!;
  }

  push(timeNs: number, pid: number): void {
    this.count++;
    if (timeNs === this.ref) return this.append(LANE, timeNs, pid);
    if (timeNs >= this.topStart) {
      // A small queue with no rungs and an empty top is just the bottom: put the entry at its
      // end rather than in the top (which a later refill would copy into the bottom anyway).
      // Hold P = 10, queue alone: 24 -> 29 M ops/s.
      if (this.count > SMALL || this.nRungs !== 0 || this.tail[TOP] !== 0) return this.append(TOP, timeNs, pid);
      this.topStart = timeNs + 1; // still just past the latest entry, as refill leaves it
    }
    for (let r = 0; r < this.nRungs; r++) {
      const k = Math.floor((timeNs - this.rStart[r]!) * this.rInv[r]!);
      if (k >= this.rCur[r]!) return this.toRung(r, k, timeNs, pid);
    }
    this.insertBottom(timeNs, pid);
    if (this.be - this.bh > BMAX) this.spillBottom();
  }

  /** Removes the earliest entry and returns its pid; the caller read its time with peekTimeNs. */
  pop(): number {
    if (this.bh === this.be) {
      if (this.tail[LANE] !== 0) return this.popLane();
      this.refill();
    } else if (this.tail[LANE] !== 0 && this.bt[this.bh] !== this.ref) return this.popLane();
    // A bottom entry equal to ref was pushed before ref was reached: it goes before the lane.
    this.count--;
    const i = this.bh;
    this.ref = this.bt[i]!;
    if (i + 1 === this.be) this.bh = this.be = 0;
    else this.bh = i + 1;
    return this.bp[i]!;
  }

  private popLane(): number {
    this.count--;
    const s = this.head[LANE]!;
    if (s + 1 !== this.tail[LANE]) this.head[LANE] = this.step(s);
    else {
      this.tail[LANE] = this.cnt[LANE] = 0;
      this.freeChunk(s >> SH);
    }
    return this.pids[s]!;
  }

  /** The slot after s in its list; s's chunk is recycled when s was its last slot. */
  private step(s: number): number {
    if (((s + 1) & M) !== 0) return s + 1;
    const next = this.next[s >> SH]! << SH;
    this.freeChunk(s >> SH);
    return next;
  }

  private append(list: number, t: number, pid: number): void {
    let s = this.tail[list]!;
    if ((s & M) === 0) {
      // The list is empty or its last chunk is full: link a fresh chunk.
      if (this.free === 0) this.growPool();
      const c = this.free;
      this.free = this.next[c]!;
      if (s === 0) this.head[list] = c << SH;
      else this.next[(s - 1) >> SH] = c;
      s = c << SH;
    }
    this.times[s] = t;
    this.pids[s] = pid;
    this.tail[list] = s + 1;
    this.cnt[list] = this.cnt[list]! + 1;
  }

  private freeChunk(c: number): void {
    this.next[c] = this.free;
    this.free = c;
  }

  /** k: the bucket computed in rung r; rounding near 2^53 may put it one past the last one. */
  private toRung(r: number, k: number, t: number, pid: number): void {
    this.append(this.rBase[r]! + Math.min(k, this.rNb[r]! - 1), t, pid);
  }

  /** Stable: the entry goes after the entries with an equal time already there. */
  private insertBottom(t: number, pid: number): void {
    if (this.be === this.bt.length) this.makeRoom();
    const bt = this.bt;
    const bp = this.bp;
    let i = this.be++;
    for (; i > this.bh && bt[i - 1]! > t; i--) {
      bt[i] = bt[i - 1]!;
      bp[i] = bp[i - 1]!;
    }
    bt[i] = t;
    bp[i] = pid;
  }

  /** Bottom and lane are empty: bring the next non-empty bucket (or the top) to the bottom. */
  private refill(): void {
    while (this.count > 0) {
      const r = this.nRungs - 1;
      if (r < 0) {
        const n = this.cnt[TOP]!;
        if (n <= THRES) {
          this.moveList(TOP, -1);
          this.topStart = this.bt[this.be - 1]! + 1; // just past the latest entry
          return;
        }
        let lo = Infinity;
        let hi = -Infinity;
        for (let s = this.head[TOP]!, left = n; left > 0; left--) {
          lo = Math.min(lo, this.times[s]!);
          hi = Math.max(hi, this.times[s]!);
          s = ((s + 1) & M) !== 0 ? s + 1 : this.next[s >> SH]! << SH;
        }
        this.topStart = this.spawn(lo, hi + 1, n);
        this.moveList(TOP, 0);
        continue;
      }
      const base = this.rBase[r]!;
      let c = this.rCur[r]!;
      while (c < this.rNb[r]! && this.tail[base + c] === 0) c++;
      if (c === this.rNb[r]) {
        this.nRungs = r; // used up: its bucket lists are all empty, so just drop them
        this.listTop = base;
        continue;
      }
      this.rCur[r] = c + 1;
      const w = 1 / this.rInv[r]!;
      if (this.cnt[base + c]! <= THRES || w === 1) return this.moveList(base + c, -1);
      const start = this.rStart[r]! + c * w;
      this.spawn(start, start + w, this.cnt[base + c]!);
      this.moveList(base + c, r + 1);
    }
  }

  /** Adds a deepest rung over [lo, end) sized for n entries; returns where its buckets end. */
  private spawn(lo: number, end: number, n: number): number {
    let w = 1;
    while (w * n < end - lo) w *= 2;
    const nb = Math.floor((end - lo - 1) / w) + 1;
    const r = this.nRungs++;
    if (r === this.rCur.length) this.growRungs();
    this.rStart[r] = lo;
    this.rInv[r] = 1 / w;
    this.rBase[r] = this.listTop;
    this.rNb[r] = nb;
    this.rCur[r] = 0;
    this.listTop += nb;
    if (this.listTop > this.head.length) this.growLists();
    return lo + nb * w;
  }

  /** Empties list `from`, in order, into rung r's buckets, or into the bottom when r < 0. */
  private moveList(from: number, r: number): void {
    let s = this.head[from]!;
    for (let left = this.cnt[from]!; left > 0; left--) {
      const t = this.times[s]!;
      if (r < 0) this.insertBottom(t, this.pids[s]!);
      else this.toRung(r, Math.floor((t - this.rStart[r]!) * this.rInv[r]!), t, this.pids[s]!);
      if (left > 1) s = this.step(s);
    }
    this.freeChunk(s >> SH);
    this.tail[from] = this.cnt[from] = 0;
  }

  /**
   * Many pushes landed inside the current bucket: spread the bottom above ref over a new deepest
   * rung starting at ref, so that later pushes there are appends again. Entries equal to ref
   * stay, as they precede the lane.
   */
  private spillBottom(): void {
    let i = this.be;
    while (i > this.bh && this.bt[i - 1] !== this.ref) i--;
    if (i === this.be) return;
    const d = this.nRungs - 1;
    const end = d < 0 ? this.topStart : this.rStart[d]! + this.rCur[d]! / this.rInv[d]!;
    const r = this.nRungs;
    this.spawn(this.ref, end, this.be - i);
    for (let j = i; j < this.be; j++) {
      const t = this.bt[j]!;
      this.toRung(r, Math.floor((t - this.ref) * this.rInv[r]!), t, this.bp[j]!);
    }
    this.be = i;
    if (i === this.bh) this.bh = this.be = 0;
  }

  private makeRoom(): void {
    const n = this.be - this.bh;
    if (2 * n <= this.bt.length) {
      this.bt.copyWithin(0, this.bh, this.be);
      this.bp.copyWithin(0, this.bh, this.be);
    } else {
      this.bt = resized(this.bt.subarray(this.bh, this.be), 2 * this.bt.length);
      this.bp = resized(this.bp.subarray(this.bh, this.be), 2 * this.bp.length);
    }
    this.bh = 0;
    this.be = n;
  }

  private growLists(): void {
    const n = Math.max(this.head.length * 2, this.listTop);
    this.head = resized(this.head, n);
    this.tail = resized(this.tail, n);
    this.cnt = resized(this.cnt, n);
  }

  private growRungs(): void {
    const n = this.rCur.length * 2;
    this.rStart = resized(this.rStart, n);
    this.rInv = resized(this.rInv, n);
    this.rBase = resized(this.rBase, n);
    this.rNb = resized(this.rNb, n);
    this.rCur = resized(this.rCur, n);
  }

  private growPool(): void {
    const chunks = this.next.length;
    this.times = resized(this.times, chunks << (SH + 1));
    this.pids = resized(this.pids, chunks << (SH + 1));
    this.next = resized(this.next, chunks * 2);
    for (let c = chunks * 2 - 1; c >= chunks; c--) this.freeChunk(c);
  }
}

/** A zero-padded copy of `a` with length n (everything grows by doubling: amortised O(1)). */
function resized<A extends Float64Array | Int32Array>(a: A, n: number): A {
  const b = (a instanceof Float64Array ? new Float64Array(n) : new Int32Array(n)) as A;
  b.set(a);
  return b;
}
