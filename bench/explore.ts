/**
 * Exploration throughput (issue #18): `pagesim explore` as whole processes, --jobs 1 and 2,
 * interleaved run by run, median of --runs (default 5). Each exploration draws the same runs
 * (--seed 1) and skips shrinking (--shrink-runs 0: its findings are only explained), so the
 * figures are the runs'. Runs/s, engine steps/s and events/s divide by the time spent running
 * (explore.json's runMs); the whole process (start-up, workers, writing) is beside it, and the
 * warm marginal cost of a run is (long − short) ÷ (its extra runs) on one job. The two-core
 * ceiling (bench/cores.ts) bounds what --jobs 2 can reach on this machine now.
 *
 *   node dist/bench/explore.js [--runs 5] [--short 128] [--long 384] [--variant newest|seed]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, option } from "./args.ts";
import { parallelCeiling } from "./cores.ts";

const cli = fileURLToPath(new URL("../src/cli.js", import.meta.url));
const variant = process.argv.includes("--variant") ? process.argv[process.argv.indexOf("--variant") + 1]! : "newest";
const reps = option("runs", 5);
const short = option("short", 128);
const long = option("long", 384);

interface One { wallMs: number; runMs: number; runs: number; engineSteps: number; events: number }

function explore(runs: number, jobs: number): One {
  const out = mkdtempSync(join(tmpdir(), "bench-explore-"));
  const start = performance.now();
  const r = spawnSync(process.execPath, [cli, "explore", "--variant", variant, "--seed", "1", "--runs", String(runs), "--jobs", String(jobs), "--shrink-runs", "0", "--out", join(out, "x")], { encoding: "utf8" });
  const wallMs = performance.now() - start;
  if (r.status !== 0 && r.status !== 1) throw new Error(`explore exited ${r.status}: ${r.stderr}`);
  const j = JSON.parse(readFileSync(join(out, "x", "explore.json"), "utf8")) as One;
  rmSync(out, { recursive: true, force: true });
  return { wallMs, runMs: j.runMs, runs: j.runs, engineSteps: j.engineSteps, events: j.events };
}

const sets: Record<string, One[]> = { "1 job, short": [], "1 job, long": [], "2 jobs, long": [] };
for (let i = 0; i < reps; i++) {
  sets["1 job, short"]!.push(explore(short, 1));
  sets["1 job, long"]!.push(explore(long, 1));
  sets["2 jobs, long"]!.push(explore(long, 2));
}
const ceiling = await parallelCeiling(3);
const m = (xs: One[], f: (o: One) => number): number => median(xs.map(f));
console.log(`pagesim explore --variant ${variant} --seed 1 --shrink-runs 0, median of ${reps} (interleaved); two-core ceiling now ${ceiling.toFixed(2)}×`);
console.log("| set | runs | whole process | running | runs/s | engine steps/s | events/s |");
console.log("|---|---|---|---|---|---|---|");
for (const [name, xs] of Object.entries(sets)) {
  const runs = xs[0]!.runs;
  console.log(`| ${name} | ${runs} | ${(m(xs, (o) => o.wallMs) / 1000).toFixed(1)} s | ${(m(xs, (o) => o.runMs) / 1000).toFixed(1)} s | ${m(xs, (o) => o.runs / (o.runMs / 1000)).toFixed(1)} | ${(m(xs, (o) => o.engineSteps / (o.runMs / 1000)) / 1e3).toFixed(1)} k | ${(m(xs, (o) => o.events / (o.runMs / 1000)) / 1e6).toFixed(2)} M |`);
}
const marginalMs = (m(sets["1 job, long"]!, (o) => o.wallMs) - m(sets["1 job, short"]!, (o) => o.wallMs)) / (long - short);
const speedup = m(sets["1 job, long"]!, (o) => o.runMs) / m(sets["2 jobs, long"]!, (o) => o.runMs);
console.log(`warm marginal cost of a run, 1 job: ${marginalMs.toFixed(1)} ms (${(1000 / marginalMs).toFixed(1)} runs/s); --jobs 2 against 1 on the running time: ${speedup.toFixed(2)}× (ceiling ${ceiling.toFixed(2)}×)`);
