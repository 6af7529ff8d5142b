/**
 * `npm run bench`: the engine's speed on two standard models, as whole processes.
 *
 * Each figure is the median of --runs (default 5) fresh processes, so it includes Node's start-up
 * and JIT warm-up, as a user's run does. The baseline, a straight JavaScript port of SimPy's design
 * (bench/baseline/simpy-port.ts), is measured in the same run, interleaved run by run, so the
 * ratio is robust to the machine's load. Ratios to SimPy 4.1 use the figures recorded on this
 * machine kind in issue #2 (SimPy cannot be installed here: no PyPI).
 */
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import type { ModelFigures } from "./model.ts";

const MODEL_SCRIPT = fileURLToPath(new URL("./model.js", import.meta.url));

/** SimPy 4.1 on this 2-core machine kind, whole process (issue #2). Items per second. */
const SIMPY_RECORDED: Record<string, number> = {
  "M/M/1": 1_000_000 / 6.7,
  "hold P=10": 1.47e6,
  "hold P=1000": 1.1e6,
  "hold P=100000": 0.37e6,
};
/** Goals from issue #2, as multiples of SimPy. */
const GOAL_X_SIMPY: Record<string, number> = { "M/M/1": 30, "hold P=10": 10, "hold P=1000": 10, "hold P=100000": 10 };

interface Sample {
  wallMs: number;
  figures: ModelFigures;
}

function measure(engine: string, args: string[]): Sample {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [MODEL_SCRIPT, engine, ...args], { encoding: "utf8" });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`bench model ${engine} ${args.join(" ")} failed:\n${r.stderr}`);
  return { wallMs, figures: JSON.parse(r.stdout) as ModelFigures };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function parseRuns(argv: string[]): number {
  const i = argv.indexOf("--runs");
  if (i < 0) return 5;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`bench: --runs expects an integer >= 1, got "${argv[i + 1]}"`);
    process.exit(2);
  }
  return n;
}

const runs = parseRuns(process.argv.slice(2));
const configs: string[][] = [["mm1"], ["hold", "10"], ["hold", "1000"], ["hold", "100000"]];
const cpu = cpus();
console.log(`machine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores; node ${process.version}; median of ${runs} whole-process runs`);
console.log("");
const header = "| model | pagesim M/s (whole process) | pagesim M/s (in loop) | SimPy-port M/s (whole) | × SimPy-port | × SimPy 4.1 (recorded) | goal |";
console.log(header);
console.log("|---|---|---|---|---|---|---|");
const rows: unknown[] = [];
for (const args of configs) {
  const ours: Sample[] = [];
  const port: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    ours.push(measure("pagesim", args));
    port.push(measure("simpy-port", args));
  }
  const name = ours[0]!.figures.model;
  const items = ours[0]!.figures.items;
  const oursWall = median(ours.map((s) => s.wallMs));
  const oursLoop = median(ours.map((s) => s.figures.loopMs));
  const portWall = median(port.map((s) => s.wallMs));
  const oursRate = items / oursWall / 1e3;
  const loopRate = items / oursLoop / 1e3;
  const portRate = port[0]!.figures.items / portWall / 1e3;
  const xSimpy = (oursRate * 1e6) / SIMPY_RECORDED[name]!;
  const goal = GOAL_X_SIMPY[name]!;
  console.log(
    `| ${name} | ${oursRate.toFixed(2)} | ${loopRate.toFixed(2)} | ${portRate.toFixed(2)} | ${(oursRate / portRate).toFixed(1)}× | ${xSimpy.toFixed(1)}× | ≥ ${goal}× ${xSimpy >= goal ? "met" : "not met"} |`,
  );
  rows.push({ model: name, items, oursWallMs: oursWall, oursLoopMs: oursLoop, portWallMs: portWall, xPort: oursRate / portRate, xSimpy, check: [ours[0]!.figures.check, port[0]!.figures.check] });
}
console.log("");
console.log("(M/s: million customers/s for M/M/1, million sleeps/s for hold.)");
if (process.argv.includes("--json")) console.log(JSON.stringify(rows));
