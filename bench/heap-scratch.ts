import { EventQueue } from "../src/engine/event-queue.ts";
for (const P of [10, 1000, 100000]) {
  const q = new EventQueue();
  let x = 12345;
  const rnd = () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x / 4294967296; };
  for (let i = 0; i < P; i++) q.push(Math.floor(rnd() * 1e9), i);
  const N = 2_000_000;
  const t = performance.now();
  for (let i = 0; i < N; i++) { const now = q.peekTimeNs(); const p = q.pop(); q.push(now + Math.floor(rnd() * 1e9), p); }
  const d = performance.now() - t;
  console.log("heap P=", P, (N / d / 1000).toFixed(2), "M ops/s");
}
