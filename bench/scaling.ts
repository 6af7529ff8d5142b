/**
 * `node dist/bench/scaling.js`: events/s as the number of GPU threads, CPU threads and live
 * ranges grows 1 → 1000 (issue #8; goal: the cost per event grows at most logarithmically).
 *
 * Three series of generated workloads (bench/scaling-workloads.ts), all on the default platform
 * (xe-pcie4x8-iommu), N ∈ {1, 10, 100, 1000}. Each series keeps the TOTAL work constant as N
 * grows, so the event mix stays the same and only N changes:
 *   gpu-threads  N GPU threads (`count: N`, ctx gpu) sharing 100,000 random 4 KiB writes over one
 *                64 MiB mapping (the first write to each 2 MiB chunk faults it into VRAM)
 *   cpu-threads  N CPU threads (`count: N`) sharing 100,000 random 4 KiB writes over one 256 MiB
 *                mapping (4 KiB pages: a first touch faults, later writes hit)
 *   ranges       N separate 2 MiB mappings, all live at once: a GPU thread writes one page of each
 *                (a 2 MiB fault into VRAM: N SVM ranges, N devmem allocations), then a CPU thread
 *                munmaps and re-mmaps all N; 1000 / N rounds, so every N has 1000 range faults
 * Each configuration runs in a fresh process (bench/scaling-child.ts: the workload in-process with
 * the null sink; the run is timed, loading the file is not), the configurations interleaved run by
 * run, each figure the median of --runs (default 5).
 *
 * Criterion for "at most logarithmic": ns/event grows by at most 2× per 10× N (so at most 8× over
 * 1 → 1000, below log2(1000) ≈ 10×, where a linear O(N) term would give ~1000×).
 *
 *   node dist/bench/scaling.js [--runs N] [--quick] [--json] [--keep] [--timeout S]
 *
 * --quick: one run, N ∈ {1, 10, 100} and a tenth of the work: a smoke test, not figures to quote.
 * --keep: keep the generated workload files (their directory is printed) to profile one, e.g.
 *   node --cpu-prof dist/bench/scaling-child.js DIR/ranges-1000.yaml
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cpuThreadsWorkload, gpuThreadsWorkload, rangesWorkload } from "./scaling-workloads.ts";
import { median, option } from "./args.ts";

// Built (dist/bench/*.js): the built child. Under tsx (npx tsx bench/*.ts): the .ts child, through tsx.
const TS = import.meta.url.endsWith(".ts");
const CHILD = fileURLToPath(new URL(`./scaling-child.${TS ? "ts" : "js"}`, import.meta.url));
const LOADER = TS ? ["--import", "tsx"] : [];
/** The criterion: ns/event may grow at most this much per 10× N. */
const MAX_PER_DECADE = 2;


/** A child that takes longer than this (--timeout seconds, default 120) is stopped and reported as not finished. */
const CHILD_TIMEOUT_MS = option("timeout", 120) * 1000;

interface ChildResult {
  events: number;
  wallMs: number;
  loadMs: number;
  maxRssMb: number;
  simEndNs: number;
  problems: number;
  notes: string[];
}

/** A child's result, or why there is none (crashed, timed out). */
function runChild(file: string): ChildResult | { failed: string } {
  const r = spawnSync(process.execPath, [...LOADER, CHILD, file], { encoding: "utf8", maxBuffer: 1 << 20, timeout: CHILD_TIMEOUT_MS });
  if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT") return { failed: `did not finish in ${CHILD_TIMEOUT_MS / 1000} s` };
  if (r.status !== 0) return { failed: `exit ${r.status ?? r.signal}: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}` };
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as ChildResult;
}


const quick = process.argv.includes("--quick");
const runs = option("runs", quick ? 1 : 5);
const sizes = quick ? [1, 10, 100] : [1, 10, 100, 1000];
const accesses = quick ? 10_000 : 100_000;
const rangeFaults = quick ? 100 : 1000;

interface Series {
  name: string;
  what: string;
  workload: (n: number) => string;
}
const SERIES: Series[] = [
  { name: "gpu-threads", what: `N GPU threads, ${accesses.toLocaleString("en")} random writes in all over 64 MiB`, workload: (n) => gpuThreadsWorkload(n, accesses, 64) },
  { name: "cpu-threads", what: `N CPU threads, ${accesses.toLocaleString("en")} random writes in all over 256 MiB`, workload: (n) => cpuThreadsWorkload(n, accesses, 256) },
  { name: "ranges", what: `N live 2 MiB ranges, ${rangeFaults} GPU range faults + munmap/mmap in all`, workload: (n) => rangesWorkload(n, rangeFaults, 1) },
];

const dir = mkdtempSync(join(tmpdir(), "pagesim-bench-scaling-"));
const configs = SERIES.flatMap((s) =>
  sizes.map((n) => {
    const file = join(dir, `${s.name}-${n}.yaml`);
    writeFileSync(file, s.workload(n));
    return { series: s.name, n, file };
  }),
);

const cpu = cpus();
console.log(`machine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores; node ${process.version}; median of ${runs} runs, each in a fresh process`);
console.log("workloads (total work constant within a series; default platform xe-pcie4x8-iommu; null sink; run timed, loading not):");
for (const s of SERIES) console.log(`  ${s.name.padEnd(12)} ${s.what}`);

const samples = new Map<string, (ChildResult | { failed: string })[]>(configs.map((c) => [c.file, []]));
for (let i = 0; i < runs; i++) for (const c of configs) samples.get(c.file)!.push(runChild(c.file));

interface Row {
  series: string;
  n: number;
  events: number | null;
  wallMs: number | null;
  eventsPerSec: number | null;
  nsPerEvent: number | null;
  xN1: number | null;
  maxRssMb: number | null;
  simEndMs: number | null;
  failed: string | null;
  problems: string[];
}
const rows: Row[] = configs.map((c) => {
  const all = samples.get(c.file)!;
  const ok = all.filter((r): r is ChildResult => !("failed" in r));
  const failed = all.find((r): r is { failed: string } => "failed" in r);
  if (ok.length === 0) return { series: c.series, n: c.n, events: null, wallMs: null, eventsPerSec: null, nsPerEvent: null, xN1: null, maxRssMb: null, simEndMs: null, failed: failed!.failed, problems: [] };
  // The runs are deterministic: every sample has the same event count.
  const events = ok[0]!.events;
  if (ok.some((r) => r.events !== events)) throw new Error(`bench scaling ${c.series} N=${c.n}: event counts differ between runs (${ok.map((r) => r.events).join(", ")})`);
  const wallMs = median(ok.map((r) => r.wallMs));
  return {
    series: c.series,
    n: c.n,
    events,
    wallMs,
    eventsPerSec: events / (wallMs / 1000),
    nsPerEvent: (wallMs * 1e6) / events,
    xN1: null,
    maxRssMb: median(ok.map((r) => r.maxRssMb)),
    simEndMs: ok[0]!.simEndNs / 1e6,
    failed: failed === undefined ? null : `${all.length - ok.length} of ${all.length} runs: ${failed.failed}`,
    problems: ok[0]!.notes,
  };
});
for (const s of SERIES) {
  const first = rows.find((r) => r.series === s.name && r.n === 1)?.nsPerEvent ?? null;
  for (const r of rows.filter((x) => x.series === s.name)) r.xN1 = first === null || r.nsPerEvent === null ? null : r.nsPerEvent / first;
}

const fmt = (x: number | null, digits: number, unit = "") => (x === null ? "—" : `${x.toFixed(digits)}${unit}`);
console.log("");
console.log("| series | N | events | wall (run) | events/s | ns/event | × N=1 | peak RSS |");
console.log("|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  const events = r.events === null ? "—" : r.events.toLocaleString("en");
  console.log(
    `| ${r.series} | ${r.n} | ${events} | ${fmt(r.wallMs === null ? null : r.wallMs / 1000, 2, " s")} | ${fmt(r.eventsPerSec === null ? null : r.eventsPerSec / 1e6, 2, " M")} | ${fmt(r.nsPerEvent, 0)} | ${fmt(r.xN1, 2, "×")} | ${fmt(r.maxRssMb, 0, " MB")} |${r.failed === null ? "" : ` ${r.failed}`}`,
  );
}
for (const r of rows) if (r.problems.length > 0) console.log(`warning: ${r.series} N=${r.n}: ${r.problems.join("; ")}`);

const nMax = sizes[sizes.length - 1]!;
console.log("");
console.log(`criterion: ns/event grows at most ${MAX_PER_DECADE}× per 10× N (≤ ${MAX_PER_DECADE ** (sizes.length - 1)}× over 1 → ${nMax}; log2(${nMax}) ≈ ${Math.log2(nMax).toFixed(1)}, an O(N) term would give ~${nMax}×)`);
const verdicts = SERIES.map((s) => {
  const rs = rows.filter((r) => r.series === s.name);
  const perDecade = rs.slice(1).map((r, i) => (r.nsPerEvent === null || rs[i]!.nsPerEvent === null ? null : r.nsPerEvent / rs[i]!.nsPerEvent!));
  const overall = rs[rs.length - 1]!.xN1;
  const met = perDecade.every((f) => f !== null && f <= MAX_PER_DECADE);
  const steps = perDecade.map((f, i) => `${sizes[i]}→${sizes[i + 1]} ${fmt(f, 2, "×")}`).join(", ");
  console.log(`${s.name}: ns/event at N=${nMax} is ${fmt(overall, 2, "×")} that at N=1 (per 10× N: ${steps}) — ${met ? "met" : "NOT met"}`);
  return { series: s.name, nsPerEventRatio: overall, perDecade, log2NMax: Math.log2(nMax), maxPerDecade: MAX_PER_DECADE, met };
});

if (process.argv.includes("--keep")) console.log(`\nworkload files kept in ${dir}`);
else rmSync(dir, { recursive: true, force: true });
if (process.argv.includes("--json")) console.log(JSON.stringify({ rows, verdicts }));
