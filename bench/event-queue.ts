// Scratch benchmark for src/engine/event-queue.ts (not part of the suite).
// Usage: npx tsx bench/event-queue.ts [pattern P [modulePath [ops]]]
//   pattern: hold | ties | mm1; with no arguments every pattern runs in this one process.
//   ops: timed operations, default 2e6; 2e7 shows the steady state once the JIT has settled.
// Compare variants one (pattern, P) per fresh process: a run is ~100 ms, so JIT warm-up matters.
// The random source is an inline LCG in a local int32. The earlier closure-based LCG cost about
// 45 ns per draw (a do-nothing FIFO in its place ran at only 18 M ops/s), more than a 10-entry
// heap, which hid the queue's own cost.
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

interface Queue {
  push(timeNs: number, pid: number): void;
  pop(): number;
  peekTimeNs(): number;
  readonly size: number;
}
type QueueCtor = new (initialCapacity?: number) => Queue;

const U32 = 1 / 4294967296;
interface Result {
  mops: number;
  /** The same, per CPU ms rather than wall ms. */
  cpuMops: number;
  check: number;
}

/** CPU time of this process in ms: on a loaded 2-core machine wall time also counts preemption. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Classic hold model: pop the earliest, push it back at now + uniform[0, 1e9). */
function hold(Q: QueueCtor, P: number): Result {
  const q = new Q();
  let x = 12345;
  for (let i = 0; i < P; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    q.push(Math.floor((x >>> 0) * U32 * 1e9), i);
  }
  let check = 0;
  const t0 = performance.now();
  const c0 = cpuMs();
  for (let i = 0; i < N; i++) {
    const now = q.peekTimeNs();
    const p = q.pop();
    check = (Math.imul(check, 31) + p) | 0;
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    q.push(now + Math.floor((x >>> 0) * U32 * 1e9), p);
  }
  return { mops: N / (performance.now() - t0) / 1000, cpuMops: N / (cpuMs() - c0) / 1000, check };
}

/** Hold with increments drawn from {0, 0, 1000}: long runs of equal times, so FIFO ties matter. */
function ties(Q: QueueCtor, P: number): Result {
  const q = new Q();
  let x = 12345;
  for (let i = 0; i < P; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    q.push(Math.floor((x >>> 0) * U32 * 10) * 1000, i);
  }
  let check = 0;
  const t0 = performance.now();
  const c0 = cpuMs();
  for (let i = 0; i < N; i++) {
    const now = q.peekTimeNs();
    const p = q.pop();
    check = (Math.imul(check, 31) + p) | 0;
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    q.push(now + ((x >>> 0) < 2863311531 ? 0 : 1000), p);
  }
  return { mops: N / (performance.now() - t0) / 1000, cpuMops: N / (cpuMs() - c0) / 1000, check };
}

/**
 * M/M/1-like: each step pops one event and schedules 0, 1 or 2 follow-ups (exponential, mean
 * 1e6 ns), the queue wandering between 1 and 50 entries. The exponential draws come from a
 * precomputed table so Math.log stays out of the timed loop.
 */
function mm1(Q: QueueCtor): Result {
  const EXP = new Float64Array(1 << 16);
  let x = 12345;
  for (let i = 0; i < EXP.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    EXP[i] = Math.floor(-Math.log(1 - (x >>> 0) * U32) * 1e6);
  }
  const q = new Q();
  q.push(0, 0);
  let nextPid = 1;
  let check = 0;
  let e = 0;
  const t0 = performance.now();
  const c0 = cpuMs();
  for (let i = 0; i < N; i++) {
    const now = q.peekTimeNs();
    const p = q.pop();
    check = (Math.imul(check, 31) + p) | 0;
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    const u = (x >>> 0) % 3;
    const n = q.size;
    const k = n === 0 ? 1 + (u & 1) : n >= 49 ? u & 1 : u;
    for (let j = 0; j < k; j++) {
      q.push(now + EXP[e]!, nextPid++ & 0xffff);
      e = (e + 1) & 0xffff;
    }
  }
  return { mops: N / (performance.now() - t0) / 1000, cpuMops: N / (cpuMs() - c0) / 1000, check };
}

const [pattern, pArg, modArg, nArg] = process.argv.slice(2);
const N = Number(nArg ?? 2e6);
const mod = (await import(
  modArg ? pathToFileURL(resolve(modArg)).href : "../src/engine/event-queue.ts"
)) as { EventQueue: QueueCtor };
const combos: [string, number][] = pattern
  ? [[pattern, Number(pArg ?? 1000)]]
  : [["hold", 10], ["hold", 1000], ["hold", 100000], ["ties", 10], ["ties", 1000], ["ties", 100000], ["mm1", 0]];
for (const [pat, P] of combos) {
  const r = pat === "hold" ? hold(mod.EventQueue, P) : pat === "ties" ? ties(mod.EventQueue, P) : mm1(mod.EventQueue);
  console.log(`${pat} P=${P} ${r.mops.toFixed(2)} Mops/s (cpu ${r.cpuMops.toFixed(2)}) check=${r.check}`);
}
