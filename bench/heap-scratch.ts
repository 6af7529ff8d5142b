// Scratch benchmark for src/engine/event-queue.ts.
// Usage: npx tsx bench/heap-scratch.ts [pattern] [P] [modulePath]
//   pattern: hold | ties | mm1   (default: run every pattern/P combination in this process)
// Run one (pattern, P) per fresh process when comparing variants: JIT warm-up matters.
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

interface Queue {
  push(timeNs: number, pid: number): void;
  pop(): number;
  peekTimeNs(): number;
  readonly size: number;
}
type QueueCtor = new (initialCapacity?: number) => Queue;

const N = 2_000_000;

function run(Q: QueueCtor, pattern: string, P: number): { mops: number; check: number } {
  const q = new Q();
  let x = 12345;
  const rnd = (): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 4294967296;
  };
  let check = 0;
  let t0 = 0;
  if (pattern === "hold") {
    for (let i = 0; i < P; i++) q.push(Math.floor(rnd() * 1e9), i);
    t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const now = q.peekTimeNs();
      const p = q.pop();
      check = (Math.imul(check, 31) + p) | 0;
      q.push(now + Math.floor(rnd() * 1e9), p);
    }
  } else if (pattern === "ties") {
    // Increments drawn from {0, 0, 1000}: long runs of equal times, FIFO order matters.
    for (let i = 0; i < P; i++) q.push(Math.floor(rnd() * 10) * 1000, i);
    t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const now = q.peekTimeNs();
      const p = q.pop();
      check = (Math.imul(check, 31) + p) | 0;
      q.push(now + (rnd() < 2 / 3 ? 0 : 1000), p);
    }
  } else if (pattern === "mm1") {
    // Each step pops one event and schedules 0, 1 or 2 follow-ups (exponential, mean 1e6 ns),
    // keeping the queue between 1 and 50 entries.
    q.push(0, 0);
    let nextPid = 1;
    t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const now = q.peekTimeNs();
      const p = q.pop();
      check = (Math.imul(check, 31) + p) | 0;
      const u = rnd();
      const k = q.size === 0 ? 1 + (u < 0.5 ? 1 : 0) : q.size >= 49 ? (u < 0.5 ? 0 : 1) : u < 1 / 3 ? 0 : u < 2 / 3 ? 1 : 2;
      for (let j = 0; j < k; j++) q.push(now + Math.floor(-Math.log(1 - rnd()) * 1e6), nextPid++ & 0xffff);
    }
  } else throw new Error(`unknown pattern ${pattern}`);
  const d = performance.now() - t0;
  return { mops: N / d / 1000, check };
}

const [pattern, pArg, modArg] = process.argv.slice(2);
const modPath = modArg ?? "../src/engine/event-queue.ts";
const mod = (await import(modArg ? pathToFileURL(resolve(modPath)).href : modPath)) as { EventQueue: QueueCtor };
const combos: [string, number][] = pattern
  ? [[pattern, Number(pArg ?? 1000)]]
  : [["hold", 10], ["hold", 1000], ["hold", 100000], ["ties", 1000], ["ties", 100000], ["mm1", 0]];
for (const [pat, P] of combos) {
  const r = run(mod.EventQueue, pat, P);
  console.log(`${pat} P=${P} ${r.mops.toFixed(2)} Mops/s check=${r.check}`);
}
