/**
 * How much of a second core this machine gives right now: a fixed CPU loop is timed in one
 * process, then in two processes at once, several times interleaved; the ceiling is
 * (2 × one's time) ÷ (two's time), the speed-up any two-worker job could reach at best. 2.0 means
 * two free cores; 1.0 means the second core is taken (by a neighbour on a shared host, or other
 * work). bench/main-job.ts prints it beside the --jobs 2 figure, which cannot beat it.
 *
 *   node dist/bench/cores.js [--runs N]
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { median, option } from "./args.ts";

const LOOP = `let x = 0; for (let i = 0; i < 1e8; i++) x = (x + i * 7) % 1000003; if (x < 0) console.log(x);`;

/** Wall ms for `copies` processes running LOOP at once, until the last exits. */
function loopAtOnce(copies: number): Promise<number> {
  const start = process.hrtime.bigint();
  const children = Array.from({ length: copies }, () => spawn(process.execPath, ["-e", LOOP], { stdio: "ignore" }));
  return Promise.all(children.map((c) => new Promise<void>((resolve, reject) => c.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`cpu loop exited ${code}`))))))).then(
    () => Number(process.hrtime.bigint() - start) / 1e6,
  );
}

/** The median two-core ceiling over `runs` interleaved measurements. */
export async function parallelCeiling(runs = 3): Promise<number> {
  const ratios: number[] = [];
  for (let i = 0; i < runs; i++) {
    const oneMs = await loopAtOnce(1);
    const twoMs = await loopAtOnce(2);
    ratios.push((2 * oneMs) / twoMs);
  }
  return median(ratios);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const ceiling = await parallelCeiling(option("runs", 3));
  console.log(`two-core ceiling: ${ceiling.toFixed(2)}× (two processes of a CPU loop at once against one; 2.00 = two free cores)`);
}
