/**
 * `npm run bench -- record`: what recording the event log costs, end to end.
 *
 * The workload is timeslice-refault repeated every 20 ms (CPU writes 2 MiB, the GPU migrates it
 * with a 5 ms timeslice, the CPU re-faults until it expires, then migrates back): about 72,000
 * events per cycle. Each configuration runs in a fresh process (bench/record-child.ts), the
 * configurations interleaved run by run, and each figure is the median of --runs (default 5):
 *   none          the model alone (events are numbered but nobody records them: the null sink)
 *   arrow         + events.arrow written batch by batch during the run
 *   sqlite        + events.sqlite, filled from the Arrow log after the run
 *   arrow,sqlite  both (the default of `pagesim run`)
 * Goal (issue #4): arrow costs at most 2× none. Peak RSS is measured at two sizes (--cycles and
 * 4× --cycles) to show whether memory grows with the log.
 *
 * With --workload FILE (and --set KEY=VALUE to scale it), the same comparison runs on that
 * workload instead (issue #8: the atomic ping-pong and GPU streaming), without the memory check.
 *
 *   node dist/bench/record.js [--runs N] [--cycles N] [--workload FILE [--set K=V]...] [--json]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { refaultWorkloadText } from "./refault-workload.ts";
import { median, option } from "./args.ts";

const CHILD = fileURLToPath(new URL("./record-child.js", import.meta.url));
const SINKS = ["none", "arrow", "sqlite", "arrow,sqlite"] as const;


/** The workload file for `cycles` repetitions. */
function workloadFile(dir: string, cycles: number): string {
  const file = join(dir, `refault-x${cycles}.yaml`);
  writeFileSync(file, refaultWorkloadText(cycles, "timeslice-refault, repeated (bench/record.ts)"));
  return file;
}

interface ChildResult {
  events: number;
  wallMs: number;
  maxRssMb: number;
  bytes: Record<string, number>;
}

/** --set KEY=VALUE options: workload overrides (numbers stay numbers). */
function setOptions(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  process.argv.forEach((arg, i) => {
    if (arg !== "--set") return;
    const [key, value] = (process.argv[i + 1] ?? "").split("=");
    if (key === undefined || value === undefined) throw new Error(`bench: --set expects KEY=VALUE, got "${process.argv[i + 1]}"`);
    out[key] = Number.isNaN(Number(value)) ? value : Number(value);
  });
  return out;
}

const overrides = setOptions();

function runChild(file: string, sinks: string): ChildResult {
  const r = spawnSync(process.execPath, [CHILD, file, sinks, JSON.stringify(overrides)], { encoding: "utf8", maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench record ${sinks}: exit ${r.status}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as ChildResult;
}


const runs = option("runs", 5);
const cycles = option("cycles", 14);
const dir = mkdtempSync(join(tmpdir(), "pagesim-bench-record-"));
const chosen = process.argv.includes("--workload") ? process.argv[process.argv.indexOf("--workload") + 1] : undefined;
const file = chosen ?? workloadFile(dir, cycles);
const title = chosen === undefined ? `timeslice-refault x${cycles}` : `${basename(chosen, ".yaml")}${Object.keys(overrides).length > 0 ? ` (${Object.entries(overrides).map(([k, v]) => `${k}=${String(v)}`).join(", ")})` : ""}`;
const cpu = cpus();
console.log(`machine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores; node ${process.version}; median of ${runs} runs, each in a fresh process`);

const samples = new Map<string, ChildResult[]>(SINKS.map((s) => [s, []]));
for (let i = 0; i < runs; i++) for (const s of SINKS) samples.get(s)!.push(runChild(file, s));
const noneMs = median(samples.get("none")!.map((r) => r.wallMs));
// Without a recorder the engine's own events are not even numbered: count what a recorded run holds.
const events = Math.max(...SINKS.map((s) => samples.get(s)![0]!.events));
const rows = SINKS.map((s) => {
  const rs = samples.get(s)!;
  const wallMs = median(rs.map((r) => r.wallMs));
  return { sinks: s, events, wallMs, eventsPerSec: events / (wallMs / 1000), xNone: wallMs / noneMs, maxRssMb: median(rs.map((r) => r.maxRssMb)), bytes: rs[0]!.bytes };
});
console.log(`\nworkload: ${title} (${rows[0]!.events.toLocaleString("en")} events)`);
console.log("sinks          wall (run)   events/s     × none   peak RSS   files");
for (const r of rows) {
  const files = Object.entries(r.bytes).map(([k, v]) => `${k} ${(v / 1e6).toFixed(0)} MB`).join(", ");
  console.log(`${r.sinks.padEnd(14)} ${(r.wallMs / 1000).toFixed(2).padStart(7)} s  ${(r.eventsPerSec / 1e6).toFixed(2).padStart(6)} M/s  ${r.xNone.toFixed(2).padStart(6)}×  ${r.maxRssMb.toFixed(0).padStart(5)} MB   ${files}`);
}
const arrow = rows.find((r) => r.sinks === "arrow")!;
console.log(`goal: arrow ≤ 2× none — ${arrow.xNone <= 2 ? "met" : "NOT met"} (${arrow.xNone.toFixed(2)}×)`);

if (chosen !== undefined) {
  if (process.argv.includes("--json")) console.log(JSON.stringify({ workload: title, rows }));
  process.exit(0);
}
// Memory against log length: the same workload 4× longer, both sinks.
const longer = runChild(workloadFile(dir, cycles * 4), "arrow,sqlite");
const both = rows.find((r) => r.sinks === "arrow,sqlite")!;
console.log(`peak RSS with both sinks: ${both.maxRssMb.toFixed(0)} MB at ${both.events.toLocaleString("en")} events, ${longer.maxRssMb.toFixed(0)} MB at ${longer.events.toLocaleString("en")} events`);
if (process.argv.includes("--json")) console.log(JSON.stringify({ rows, memory: [{ events: both.events, maxRssMb: both.maxRssMb }, { events: longer.events, maxRssMb: longer.maxRssMb }] }));
