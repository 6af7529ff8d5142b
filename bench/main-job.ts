/**
 * `npm run bench`, last part: the main job and how sweeps scale with worker threads.
 *
 * Times `pagesim sweep workloads/sweeps/default.yaml --report` — what `npm start` runs (144
 * runs) — as a whole process into a fresh directory, with --jobs 2 (this machine's cores, the
 * default) and --jobs 1, interleaved run by run; each figure is the median of --runs (default 5).
 * Goals (issue #8): the main job under 2 minutes; --jobs 2 at least 1.8× faster than --jobs 1
 * on a sweep of 64 runs or more. --quick runs one shard (1/24: 6 runs) once, as a smoke test.
 *
 *   node dist/bench/main-job.js [--runs N] [--quick] [--json]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { projectFile } from "./project-file.ts";
import { median, option } from "./args.ts";
import { parallelCeiling } from "./cores.ts";

const CLI = fileURLToPath(new URL("../src/cli.js", import.meta.url));
const SWEEP = projectFile("workloads/sweeps/default.yaml", import.meta.url);

const quick = process.argv.includes("--quick");
const runs = quick ? 1 : option("runs", 5);

interface Sample {
  wallMs: number;
  runs: number;
}

function sweep(jobs: number): Sample {
  const dir = mkdtempSync(join(tmpdir(), "pagesim-bench-main-"));
  try {
    const args = [CLI, "sweep", SWEEP, "--out", join(dir, "out"), "--jobs", String(jobs), "--report", ...(quick ? ["--shard", "1/24"] : [])];
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 16 << 20, env: { ...process.env, CI: "true" } });
    const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0) throw new Error(`bench main job (--jobs ${jobs}): exit ${r.status}\n${r.stderr}`);
    const done = /: (\d+) runs done/.exec(r.stdout);
    return { wallMs, runs: done === null ? 0 : Number(done[1]) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}


const cpu = cpus();
console.log(`machine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores; node ${process.version}; median of ${runs} whole-process runs, --jobs 2 and --jobs 1 interleaved`);
const two: Sample[] = [];
const one: Sample[] = [];
// The machine's two-core ceiling, before and after: --jobs 2 cannot beat it (bench/cores.ts).
const ceilingBefore = quick ? null : await parallelCeiling();
for (let i = 0; i < runs; i++) {
  two.push(sweep(2));
  one.push(sweep(1));
}
const ceilingAfter = quick ? null : await parallelCeiling();
const twoMs = median(two.map((s) => s.wallMs));
const oneMs = median(one.map((s) => s.wallMs));
const speedup = oneMs / twoMs;
console.log(`\nthe main job (${quick ? "quick: shard 1/24 of " : ""}the default study, ${two[0]!.runs} runs, with its report)`);
console.log(`--jobs 2: ${(twoMs / 1000).toFixed(1)} s    --jobs 1: ${(oneMs / 1000).toFixed(1)} s    speed-up ${speedup.toFixed(2)}×`);
if (!quick) {
  console.log(`goal: npm start under 2 minutes — ${twoMs < 120_000 ? "met" : "NOT met"} (${(twoMs / 1000).toFixed(1)} s)`);
  console.log(`goal: --jobs 2 ≥ 1.8× --jobs 1 — ${speedup >= 1.8 ? "met" : "NOT met"} (${speedup.toFixed(2)}×)`);
  console.log(`two-core ceiling of this machine (a CPU loop in two processes against one; 2.00 = two free cores): ${ceilingBefore!.toFixed(2)}× before, ${ceilingAfter!.toFixed(2)}× after`);
}
if (process.argv.includes("--json")) console.log(JSON.stringify({ runs: two[0]!.runs, jobs2Ms: twoMs, jobs1Ms: oneMs, speedup, ceilingBefore, ceilingAfter }));
