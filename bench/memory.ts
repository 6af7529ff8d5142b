/**
 * `node dist/bench/memory.js`: peak RSS of a workload whose address space is 64 GiB of 4 KiB
 * pages (16 M pages) with a quarter of it touched (issue #8; goal: under 1 GiB).
 *
 * The workload (generated): one 64 GiB private anonymous mapping at 0x100000000, no platform (the
 * flat-cost device: CPU faults build the same page state, without the GPU's), 4 KiB pages (no
 * THP), and 8 CPU threads each writing one run of consecutive pages at the start of its eighth of
 * the mapping: 4 M pages (a quarter) touched in all, each a first-touch fault that allocates an
 * order-0 folio and sets its page table entry. It is also run at 1/64, 1/16 and 1/4 of that scale
 * (mapping and pages touched both scaled), so that the growth per touched page shows.
 *
 * Each scale runs in a fresh process (bench/memory-child.ts: the null sink; the run timed,
 * loading not; report() skipped, see there), interleaved run by run, each figure the median of
 * --runs (default 5). A child that takes longer than 120 s (--timeout) is stopped and reported as
 * not finished; the full size is then extrapolated from the two largest scales that finished.
 *
 *   node dist/bench/memory.js [--runs N] [--quick] [--json] [--timeout S]
 *
 * --quick: one run at 1/64 scale only (1 GiB mapping, 64 K pages touched): a smoke test.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, option } from "./args.ts";

// Built (dist/bench/*.js): the built child. Under tsx (npx tsx bench/*.ts): the .ts child, through tsx.
const TS = import.meta.url.endsWith(".ts");
const CHILD = fileURLToPath(new URL(`./memory-child.${TS ? "ts" : "js"}`, import.meta.url));
const LOADER = TS ? ["--import", "tsx"] : [];
const GIB = 2 ** 30;
const PAGE = 4096;
const FULL_MAPPING = 64 * GIB;
const FULL_TOUCHED = FULL_MAPPING / PAGE / 4; // 4 M pages
const THREADS = 8;
const GOAL_MB = 1024;


/** The workload at 1/`divisor` of the full size. */
function workloadText(divisor: number): string {
  const mapping = FULL_MAPPING / divisor;
  const touched = FULL_TOUCHED / divisor;
  const base = 0x100000000;
  const lines = [
    `description: memory, ${mapping / GIB} GiB mapped, ${touched} 4 KiB pages touched by ${THREADS} CPU threads (bench/memory.ts)`,
    "seed: 1",
    "model: { thp: never }",
    "mappings:",
    `  - { addr: 0x${base.toString(16)}, size: ${mapping / GIB}GiB }`,
    "threads:",
  ];
  for (let i = 0; i < THREADS; i++) {
    const addr = base + (i * mapping) / THREADS;
    lines.push(`  - name: cpu${i}`, "    steps:", `      - { op: write, addr: 0x${addr.toString(16)}, pages: ${touched / THREADS} }`);
  }
  return `${lines.join("\n")}\n`;
}

/** A child that takes longer than this (--timeout seconds, default 120) is stopped and reported as not finished. */
const CHILD_TIMEOUT_MS = option("timeout", 120) * 1000;

interface ChildResult {
  events: number;
  wallMs: number;
  maxRssMb: number;
  rssBeforeRunMb: number;
  heapUsedMb: number;
  liveHeapMb: number | null;
  folios: number;
  ptes: number;
  finished: boolean;
}

function runChild(file: string): ChildResult | { failed: string } {
  const r = spawnSync(process.execPath, [...LOADER, "--expose-gc", CHILD, file], { encoding: "utf8", maxBuffer: 1 << 20, timeout: CHILD_TIMEOUT_MS });
  if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT") return { failed: `did not finish in ${CHILD_TIMEOUT_MS / 1000} s` };
  if (r.status !== 0) return { failed: `exit ${r.status ?? r.signal}: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}` };
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as ChildResult;
  return out.finished ? out : { failed: "the run did not finish (threads blocked)" };
}


const quick = process.argv.includes("--quick");
const runs = option("runs", quick ? 1 : 5);
const divisors = quick ? [64] : [64, 16, 4, 1];
const dir = mkdtempSync(join(tmpdir(), "pagesim-bench-memory-"));
const configs = divisors.map((d) => {
  const file = join(dir, `memory-1of${d}.yaml`);
  writeFileSync(file, workloadText(d));
  return { divisor: d, file };
});

const cpu = cpus();
console.log(`machine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores; node ${process.version}; median of ${runs} runs, each in a fresh process`);
console.log(
  `workload: one private anonymous mapping of 64 GiB (16 M pages of 4 KiB) × scale, a quarter of it written by ${THREADS} CPU threads (each a run of consecutive pages), no THP, no platform, null sink`,
);

const samples = new Map<number, (ChildResult | { failed: string })[]>(configs.map((c) => [c.divisor, []]));
for (let i = 0; i < runs; i++) {
  for (const c of configs) {
    // Once a scale has not finished in time, larger ones are not tried again in later runs.
    const earlier = samples.get(c.divisor)!;
    if (earlier.length > 0 && earlier.every((r) => "failed" in r)) continue;
    earlier.push(runChild(c.file));
  }
}

interface Row {
  scale: string;
  mappingGiB: number;
  pagesTouched: number;
  events: number | null;
  wallMs: number | null;
  maxRssMb: number | null;
  rssBeforeRunMb: number | null;
  liveHeapMb: number | null;
  rssBytesPerPage: number | null;
  deltaRssBytesPerPage: number | null;
  liveHeapBytesPerPage: number | null;
  folios: number | null;
  failed: string | null;
  extrapolated: boolean;
}
const rows: Row[] = configs.map((c) => {
  const all = samples.get(c.divisor)!;
  const ok = all.filter((r): r is ChildResult => !("failed" in r));
  const failed = all.find((r): r is { failed: string } => "failed" in r);
  const pagesTouched = FULL_TOUCHED / c.divisor;
  const base = { scale: c.divisor === 1 ? "full" : `1/${c.divisor}`, mappingGiB: FULL_MAPPING / c.divisor / GIB, pagesTouched, extrapolated: false };
  if (ok.length === 0) {
    return { ...base, events: null, wallMs: null, maxRssMb: null, rssBeforeRunMb: null, liveHeapMb: null, rssBytesPerPage: null, deltaRssBytesPerPage: null, liveHeapBytesPerPage: null, folios: null, failed: failed!.failed };
  }
  const maxRssMb = median(ok.map((r) => r.maxRssMb));
  const rssBeforeRunMb = median(ok.map((r) => r.rssBeforeRunMb));
  const live = ok.map((r) => r.liveHeapMb).filter((x): x is number => x !== null);
  const liveHeapMb = live.length === 0 ? null : median(live);
  return {
    ...base,
    events: ok[0]!.events,
    wallMs: median(ok.map((r) => r.wallMs)),
    maxRssMb,
    rssBeforeRunMb,
    liveHeapMb,
    rssBytesPerPage: (maxRssMb * 2 ** 20) / pagesTouched,
    deltaRssBytesPerPage: ((maxRssMb - rssBeforeRunMb) * 2 ** 20) / pagesTouched,
    liveHeapBytesPerPage: liveHeapMb === null ? null : (liveHeapMb * 2 ** 20) / pagesTouched,
    folios: ok[0]!.folios,
    failed: failed === undefined ? null : `${all.length - ok.length} of ${all.length} runs: ${failed.failed}`,
  };
});

const fmt = (x: number | null, digits: number, unit = "") => (x === null ? "—" : `${x.toFixed(digits)}${unit}`);
console.log("");
console.log("| scale | mapped | pages touched | events | wall (run) | peak RSS | RSS before run | RSS / touched page | Δ RSS / touched page | live heap + buffers after GC | live / page |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.scale} | ${r.mappingGiB} GiB | ${r.pagesTouched.toLocaleString("en")} | ${r.events === null ? "—" : r.events.toLocaleString("en")} | ${fmt(r.wallMs === null ? null : r.wallMs / 1000, 1, " s")} | ${fmt(r.maxRssMb, 0, " MB")} | ${fmt(r.rssBeforeRunMb, 0, " MB")} | ${fmt(r.rssBytesPerPage, 0, " B")} | ${fmt(r.deltaRssBytesPerPage, 0, " B")} | ${fmt(r.liveHeapMb, 0, " MB")} | ${fmt(r.liveHeapBytesPerPage, 0, " B")} |${r.failed === null ? "" : ` ${r.failed}`}`,
  );
}

// The marginal cost of a page between the two largest scales that finished, and the full size
// from it when the full size itself did not finish.
const done = rows.filter((r) => r.maxRssMb !== null);
let marginal: number | null = null;
if (done.length >= 2) {
  const [a, b] = done.slice(-2) as [Row, Row];
  marginal = ((b.maxRssMb! - a.maxRssMb!) * 2 ** 20) / (b.pagesTouched - a.pagesTouched);
  console.log(`\nmarginal RSS per touched page between ${a.scale} and ${b.scale}: ${marginal.toFixed(0)} B`);
}
const full = rows.find((r) => r.scale === "full");
let fullRssMb: number | null = full?.maxRssMb ?? null;
let extrapolated = false;
if (full !== undefined && fullRssMb === null && marginal !== null) {
  const last = done[done.length - 1]!;
  fullRssMb = last.maxRssMb! + (marginal * (FULL_TOUCHED - last.pagesTouched)) / 2 ** 20;
  extrapolated = true;
  full.extrapolated = true;
}
if (full === undefined) {
  console.log(`goal (full size: 64 GiB mapped, 4 M pages touched, peak RSS < ${GOAL_MB} MB): not measured with --quick`);
} else if (fullRssMb === null) {
  console.log(`goal (peak RSS < ${GOAL_MB} MB at full size): unknown, the full size did not finish and too few scales did to extrapolate`);
} else {
  console.log(
    `goal (peak RSS < ${GOAL_MB} MB at full size): ${fullRssMb < GOAL_MB ? "met" : "NOT met"} (${fullRssMb.toFixed(0)} MB${extrapolated ? ", EXTRAPOLATED from the smaller scales: the full size did not finish" : ", measured"}; ${((fullRssMb * 2 ** 20) / FULL_TOUCHED).toFixed(0)} B per touched page, the goal allows ${((GOAL_MB * 2 ** 20) / FULL_TOUCHED).toFixed(0)})`,
  );
}

rmSync(dir, { recursive: true, force: true });
if (process.argv.includes("--json")) console.log(JSON.stringify({ rows, marginalBytesPerPage: marginal, full: { maxRssMb: fullRssMb, extrapolated, goalMb: GOAL_MB, met: fullRssMb === null ? null : fullRssMb < GOAL_MB } }));
