/**
 * Peak RSS against the event log's length (issue #16's goal: flat). The refault workload
 * (bench/refault-workload.ts, ~72,000 events a cycle) runs with both sinks, as `pagesim run`
 * does by default (events.arrow written during the run, events.sqlite filled from it after), at
 * --cycles and at 4× --cycles, each in a fresh process (bench/record-child.ts), interleaved, the
 * peak RSS of each size the median of --runs. A log held in memory would grow RSS by at least
 * its bytes per event; flat means the 4× longer log's peak is within 25 % of the shorter one's
 * (our reading of "flat"), and the marginal RSS per event is printed beside.
 *
 *   node dist/bench/rss-vs-log.js [--cycles N] [--runs N] [--json]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, option } from "./args.ts";
import { refaultWorkloadText } from "./refault-workload.ts";

const CHILD = fileURLToPath(new URL("./record-child.js", import.meta.url));
/** "Flat": the 4× longer log's peak RSS at most this many times the shorter one's. */
const FLAT_RATIO = 1.25;

interface ChildResult {
  events: number;
  wallMs: number;
  maxRssMb: number;
}

function runChild(file: string): ChildResult {
  const r = spawnSync(process.execPath, [CHILD, file, "arrow,sqlite"], { encoding: "utf8", maxBuffer: 1 << 20, env: { ...process.env, PAGESIM_BENCH_NO_FSYNC: "1" } });
  if (r.status !== 0) throw new Error(`bench rss-vs-log: exit ${r.status}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as ChildResult;
}

const runs = option("runs", 5);
const cycles = option("cycles", 14);
const dir = mkdtempSync(join(tmpdir(), "pagesim-bench-rss-"));
try {
  const sizes = [cycles, cycles * 4].map((n) => {
    const file = join(dir, `refault-x${n}.yaml`);
    writeFileSync(file, refaultWorkloadText(n, "timeslice-refault, repeated (bench/rss-vs-log.ts)"));
    return { cycles: n, file, samples: [] as ChildResult[] };
  });
  for (let i = 0; i < runs; i++) for (const s of sizes) s.samples.push(runChild(s.file));
  const rows = sizes.map((s) => ({ cycles: s.cycles, events: s.samples[0]!.events, maxRssMb: median(s.samples.map((x) => x.maxRssMb)), wallMs: median(s.samples.map((x) => x.wallMs)) }));
  const [short, long] = rows as [(typeof rows)[0], (typeof rows)[0]];
  const ratio = long.maxRssMb / short.maxRssMb;
  const marginalBytesPerEvent = ((long.maxRssMb - short.maxRssMb) * 2 ** 20) / (long.events - short.events);
  const cpu = cpus();
  console.log(`machine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores; node ${process.version}; median of ${runs} runs, each in a fresh process`);
  console.log("peak RSS against log length: timeslice-refault repeated, sinks arrow,sqlite (events.sqlite filled after the run)");
  console.log("| cycles | events | run + SQLite fill | peak RSS |");
  console.log("|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.cycles} | ${r.events.toLocaleString("en")} | ${(r.wallMs / 1000).toFixed(2)} s | ${r.maxRssMb.toFixed(0)} MB |`);
  console.log(`4× the log: peak RSS ×${ratio.toFixed(2)}, ${marginalBytesPerEvent.toFixed(1)} B of RSS per extra event; flat (≤ ${FLAT_RATIO}×): ${ratio <= FLAT_RATIO ? "yes" : "NO"}`);
  if (process.argv.includes("--json")) console.log(JSON.stringify({ rows, ratio, marginalBytesPerEvent, flat: ratio <= FLAT_RATIO }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
