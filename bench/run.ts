/**
 * `npm run bench`: the engine's speed on two standard models, as whole processes.
 *
 * Each figure is the median of --runs (default 5) fresh processes, so it includes Node's start-up
 * and JIT warm-up, as a user's run does. Two baselines are measured in the same run, interleaved
 * run by run (pagesim, port, SimPy), so the ratios are robust to the machine's load:
 *  - a straight JavaScript port of SimPy's design (bench/baseline/simpy-port.ts), always;
 *  - real SimPy 4 running bench/simpy/{mm1,hold}.py under python3, when SimPy 4 can be imported.
 *    SimPy is looked for with SIMPY_PATH (a directory holding the `simpy` package, put in front of
 *    PYTHONPATH) when that is set, else with plain python3. The models then run on the interpreter
 *    python3 resolves to (its sys.executable), so a launcher's own start-up (a pyenv shim costs
 *    ~0.4 s here) is not charged to SimPy. When SimPy 4 is not found, the "× SimPy" ratios fall
 *    back to the SimPy 4.1 figures recorded on this machine kind in issue #2.
 *
 *   node dist/bench/run.js [--runs N] [--quick] [--json] [--engine-only]
 *
 * --quick: one run of each, small event-log workloads: a smoke test that every benchmark still
 * runs (CI), not figures to quote.
 */
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { delimiter, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { ModelFigures } from "./model.ts";
import { projectFile } from "./project-file.ts";
import { median } from "./args.ts";

const MODEL_SCRIPT = fileURLToPath(new URL("./model.js", import.meta.url));

/** bench/simpy/ holds the Python models; found from bench/ (tsx) or from dist/bench/ (built). */
const SIMPY_SCRIPTS_DIR = [new URL("./simpy/", import.meta.url), new URL("../../bench/simpy/", import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((dir) => existsSync(`${dir}mm1.py`));

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

/** How python3 is run to reach SimPy 4, when it can be. */
interface SimpyFound {
  version: string;
  python: string;
  /** The interpreter itself (sys.executable), so a launcher such as a pyenv shim is not timed. */
  executable: string;
  env: NodeJS.ProcessEnv;
  via: string;
}

function timed(command: string, args: string[], env: NodeJS.ProcessEnv, what: string): Sample {
  const start = process.hrtime.bigint();
  const r = spawnSync(command, args, { encoding: "utf8", env, maxBuffer: 1 << 20 });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.error !== undefined) throw new Error(`bench ${what}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`bench ${what} failed (exit ${r.status}):\n${r.stderr}`);
  return { wallMs, figures: JSON.parse(r.stdout) as ModelFigures };
}

function measure(engine: string, args: string[]): Sample {
  return timed(process.execPath, [MODEL_SCRIPT, engine, ...args], process.env, `model ${engine} ${args.join(" ")}`);
}

function measureSimpy(simpy: SimpyFound, args: string[]): Sample {
  const [model, ...rest] = args;
  const script = `${SIMPY_SCRIPTS_DIR!}${model}.py`;
  return timed(simpy.executable, [script, ...rest], simpy.env, `SimPy ${args.join(" ")} (${simpy.via})`);
}

/**
 * SimPy 4 under python3: with SIMPY_PATH in front of PYTHONPATH when SIMPY_PATH is set, else
 * plain python3. Returns the reason it was not found otherwise.
 */
function findSimpy(): SimpyFound | { missing: string } {
  if (SIMPY_SCRIPTS_DIR === undefined) return { missing: "bench/simpy/*.py not found next to the bench" };
  const simpyPath = process.env["SIMPY_PATH"];
  const env: NodeJS.ProcessEnv = { ...process.env };
  let via = "plain python3";
  if (simpyPath !== undefined && simpyPath !== "") {
    const inherited = process.env["PYTHONPATH"];
    env["PYTHONPATH"] = inherited ? `${simpyPath}${delimiter}${inherited}` : simpyPath;
    via = `SIMPY_PATH=${simpyPath}`;
  }
  const probe =
    "import simpy,sys; print(simpy.__version__); print(sys.version.split()[0]); print(sys.executable); " +
    "sys.exit(0 if int(simpy.__version__.split('.')[0])>=4 else 1)";
  const r = spawnSync("python3", ["-c", probe], { encoding: "utf8", env });
  if (r.error !== undefined) return { missing: `python3: ${r.error.message} (${via})` };
  const [version = "?", python = "?", executable = ""] = r.stdout.trim().split("\n");
  if (r.status === 0) return { version, python, executable: executable !== "" ? executable : "python3", env, via };
  const lastErr = r.stderr.trim().split("\n").pop();
  return { missing: r.stdout.trim() !== "" ? `python3 has SimPy ${version}, not 4 (${via})` : `${lastErr ?? "import simpy failed"} (${via})` };
}


function parseRuns(argv: string[]): number {
  const i = argv.indexOf("--runs");
  if (i < 0) return argv.includes("--quick") ? 1 : 5;
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
const found = findSimpy();
const simpy = "missing" in found ? undefined : found;
const missing = "missing" in found ? found.missing : "";
const baseline = simpy !== undefined ? "measured in this run" : "recorded (issue #2)";
const baselineShort = simpy !== undefined ? "measured" : "recorded";
const simpyName = simpy !== undefined ? `SimPy ${simpy.version}` : "SimPy 4.1";

console.log(`machine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores; node ${process.version}; median of ${runs} whole-process runs`);
if (simpy !== undefined) {
  console.log(`SimPy baseline: SimPy ${simpy.version} on Python ${simpy.python} (${simpy.executable}, ${simpy.via}), ${baseline}, interleaved with pagesim and the port`);
} else {
  console.log(`SimPy baseline: ${baseline}, SimPy 4.1 whole-process figures from this machine kind`);
  console.log(
    `SimPy 4 was not found (${missing}); to measure it in this run, set SIMPY_PATH to a directory holding the simpy 4 package (SIMPY_PATH=/path/to/dir npm run bench).`,
  );
}
console.log("");
console.log(
  `| model | pagesim engine events/s (in loop) | pagesim M/s (whole process) | pagesim M/s (in loop) | SimPy-port M/s (whole) | × SimPy-port | ${simpyName} M/s (whole, ${simpy !== undefined ? "measured in this run" : "recorded in issue #2"}) | × ${simpyName} (${baselineShort}) | goal (vs ${baselineShort} SimPy) |`,
);
console.log("|---|---|---|---|---|---|---|---|---|");
const rows: unknown[] = [];
for (const args of configs) {
  const ours: Sample[] = [];
  const port: Sample[] = [];
  const real: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    ours.push(measure("pagesim", args));
    port.push(measure("simpy-port", args));
    if (simpy !== undefined) real.push(measureSimpy(simpy, args));
  }
  const name = ours[0]!.figures.model;
  const items = ours[0]!.figures.items;
  const oursWall = median(ours.map((s) => s.wallMs));
  const oursLoop = median(ours.map((s) => s.figures.loopMs));
  const portWall = median(port.map((s) => s.wallMs));
  const oursRate = items / oursWall / 1e3;
  const loopRate = items / oursLoop / 1e3;
  const eventsPerSec = (ours[0]!.figures.events / oursLoop) * 1e3;
  const portRate = port[0]!.figures.items / portWall / 1e3;
  let simpyWall: number | null = null;
  let simpyLoop: number | null = null;
  let simpyRate: number; // M/s
  if (simpy !== undefined) {
    if (real[0]!.figures.model !== name) throw new Error(`bench: SimPy ran "${real[0]!.figures.model}", expected "${name}"`);
    simpyWall = median(real.map((s) => s.wallMs));
    simpyLoop = median(real.map((s) => s.figures.loopMs));
    simpyRate = real[0]!.figures.items / simpyWall / 1e3;
  } else {
    simpyRate = SIMPY_RECORDED[name]! / 1e6;
  }
  const xPort = oursRate / portRate;
  const xSimpy = oursRate / simpyRate;
  const goal = GOAL_X_SIMPY[name]!;
  console.log(
    `| ${name} | ${(eventsPerSec / 1e6).toFixed(2)} M | ${oursRate.toFixed(2)} | ${loopRate.toFixed(2)} | ${portRate.toFixed(2)} | ${xPort.toFixed(1)}× | ${simpyRate.toFixed(2)} | ${xSimpy.toFixed(1)}× | ≥ ${goal}×: ${xSimpy >= goal ? "met" : "not met"} |`,
  );
  rows.push({
    model: name,
    items,
    oursWallMs: oursWall,
    oursLoopMs: oursLoop,
    events: ours[0]!.figures.events,
    eventsPerSec,
    portWallMs: portWall,
    simpyBaseline: baselineShort,
    simpyVersion: simpy?.version ?? "4.1 (recorded)",
    simpyWallMs: simpyWall ?? items / (simpyRate * 1e3),
    simpyLoopMs: simpyLoop,
    xPort,
    xSimpy,
    goalXSimpy: goal,
    goalMet: xSimpy >= goal,
    check: { pagesim: ours[0]!.figures.check, port: port[0]!.figures.check, simpy: real[0]?.figures.check ?? null },
  });
}
console.log("");
console.log("(M/s: million customers/s for M/M/1, million sleeps/s for hold. Every figure is a whole process unless it says in loop.)");
if (process.argv.includes("--json")) console.log(JSON.stringify(rows));

// --engine-only: the table above alone (e.g. to measure SimPy in the same run without the rest).
if (process.argv.includes("--engine-only")) process.exit(0);

// The event log's costs: recording sinks against the null sink, then the SQLite sink against raw
// better-sqlite3 inserts of the same rows (bench/record.ts, bench/sqlite.ts), each in its own process.
const quick = process.argv.includes("--quick");
// The two workloads issue #8 names, scaled up so each run records ~1 M events (quick: as bundled).
const workloadsDir = `${dirname(projectFile("workloads/atomic-ping-pong.yaml", import.meta.url))}/`;
const pingPongScale = quick ? [] : ["--set", "threads.cpu0.pattern.count=100", "--set", "threads.gpu0.pattern.count=100"];
const streamingScale = quick ? [] : ["--set", "mappings.0.size=128MiB", "--set", "threads.cpu0.steps.0.pages=32768", "--set", "threads.gpu0.pattern.size=128MiB", "--set", "threads.gpu0.pattern.count=1024"];
for (const [script, args] of [
  ["record.js", ["--runs", String(runs), "--cycles", quick ? "2" : "14"]],
  ["record.js", ["--runs", String(runs), "--workload", `${workloadsDir}atomic-ping-pong.yaml`, ...pingPongScale]],
  ["record.js", ["--runs", String(runs), "--workload", `${workloadsDir}gpu-streaming.yaml`, ...streamingScale]],
  ["record-marginal.js", quick ? ["--quick", "--only", "ping-pong", "--runs", "1"] : ["--runs", String(runs)]],
  ["sqlite.js", [quick ? "2" : "15", String(runs)]],
  ["scaling.js", quick ? ["--quick"] : ["--runs", String(runs)]],
  ["memory.js", quick ? ["--quick"] : ["--runs", String(runs)]],
  ["main-job.js", quick ? ["--quick"] : ["--runs", String(runs)]],
] as const) {
  console.log("");
  const r = spawnSync(process.execPath, [fileURLToPath(new URL(`./${script}`, import.meta.url)), ...args], { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`bench: ${script} failed (exit ${r.status})`);
    process.exit(1);
  }
}
