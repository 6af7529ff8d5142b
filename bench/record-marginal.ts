/**
 * `npm run bench -- …` part (bench/run.ts runs it): the warm, marginal cost per event of the
 * event log. Each workload runs at two lengths in fresh processes (bench/record-child.ts); the
 * marginal cost of a configuration is (long run − short run) / (long events − short events),
 * which leaves out start-up, JIT warm-up and the fixed cost of a run. Configurations:
 *   none            the null sink (the model alone)
 *   arrow           events.arrow written and synced at close (the default)
 *   arrow no-fsync  events.arrow written, not synced (--no-fsync)
 * Every sample is interleaved run by run, and each figure is the median of --runs (default 5).
 * Marginal costs are given in wall time and in CPU time (user + system of the child): on a
 * shared machine the CPU figure is the steadier one, but only wall time sees waiting for the
 * disk (the sync). Beside them, two whole-run ratios of the long run: the run as the child times
 * it (loading and start-up left out) and the whole process as the parent times it (Node's
 * start-up, module loading and JIT warm-up included, as a user's `pagesim run` has them).
 * With --baseline DIR (another commit's checkout, built), its dist/bench/record-child.js runs
 * interleaved with ours, so before and after are measured under the same load; its no-fsync
 * runs set PAGESIM_BENCH_NO_FSYNC=1, which that commit's record-child must honour.
 *
 *   node dist/bench/record-marginal.js [--runs N] [--baseline DIR] [--only ping-pong|refault|streaming] [--quick] [--json]
 *
 * --quick: every workload smaller (a smoke test that the benchmark runs, not figures to quote);
 * with --only, that workload alone.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, option } from "./args.ts";
import { projectFile } from "./project-file.ts";
import { refaultWorkloadText } from "./refault-workload.ts";

interface Size {
  file: string;
  overrides: Record<string, unknown>;
}

interface Bench {
  name: string;
  short: Size;
  long: Size;
}

const dir = mkdtempSync(join(tmpdir(), "pagesim-bench-marginal-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true })); // the generated workload files
const workloads = (rel: string): string => projectFile(`workloads/${rel}`, import.meta.url);

function refault(cycles: number): Size {
  const file = join(dir, `refault-x${cycles}.yaml`);
  writeFileSync(file, refaultWorkloadText(cycles, "timeslice-refault, repeated (bench/record-marginal.ts)"));
  return { file, overrides: {} };
}

const pingPong = (count: number): Size => ({ file: workloads("atomic-ping-pong.yaml"), overrides: { "threads.cpu0.pattern.count": count, "threads.gpu0.pattern.count": count } });
const streaming = (mib: number): Size => ({
  file: workloads("gpu-streaming.yaml"),
  overrides: { "mappings.0.size": `${mib}MiB`, "threads.cpu0.steps.0.pages": mib * 256, "threads.gpu0.pattern.size": `${mib}MiB`, "threads.gpu0.pattern.count": mib * 8 },
});

const quick = process.argv.includes("--quick");
// Each workload short and 4× long; --quick: smaller (the ping-pong half, refault a half, streaming a quarter).
const BENCHES: Bench[] = quick
  ? [
      { name: "ping-pong", short: pingPong(5), long: pingPong(20) },
      { name: "refault", short: refault(1), long: refault(4) },
      { name: "streaming", short: streaming(4), long: streaming(16) },
    ]
  : [
      { name: "ping-pong", short: pingPong(10), long: pingPong(40) },
      { name: "refault", short: refault(2), long: refault(8) },
      { name: "streaming", short: streaming(16), long: streaming(64) },
    ];

const CONFIGS = [
  { name: "none", sinks: "none", noFsync: false },
  { name: "arrow", sinks: "arrow", noFsync: false },
  { name: "arrow no-fsync", sinks: "arrow", noFsync: true },
] as const;

interface Sample {
  events: number;
  wallMs: number;
  /** User + system CPU time of the run (every thread): less sensitive than wall time to other work on the machine. */
  cpuMs: number;
  /** The whole process, spawn to exit, as the parent times it. */
  processMs: number;
}

/** A bundled workload as the build at `root` has it (a baseline reads its own workloads and platforms, in its own format). */
function workloadFor(root: string | undefined, file: string): string {
  const ours = workloads("");
  return root !== undefined && file.startsWith(ours) ? join(root, "workloads", file.slice(ours.length)) : file;
}

function runChild(child: string, size: Size, sinks: string, noFsync: boolean, root?: string): Sample {
  const env = { ...process.env, PAGESIM_BENCH_NO_FSYNC: noFsync ? "1" : "0" };
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [child, workloadFor(root, size.file), sinks, JSON.stringify(size.overrides)], { encoding: "utf8", env, maxBuffer: 1 << 20 });
  const processMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`bench record-marginal ${child} ${sinks}: exit ${r.status}\n${r.stderr}`);
  return { ...(JSON.parse(r.stdout.trim().split("\n").pop()!) as Omit<Sample, "processMs">), processMs };
}

const runs = option("runs", 5);
const baselineAt = process.argv.indexOf("--baseline");
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
const builds: { name: string; child: string; root?: string }[] = [{ name: "this commit", child: fileURLToPath(new URL("./record-child.js", import.meta.url)) }];
if (baselineAt >= 0) builds.unshift({ name: `baseline ${process.argv[baselineAt + 1]!}`, child: join(process.argv[baselineAt + 1]!, "dist/bench/record-child.js"), root: process.argv[baselineAt + 1]! });

const cpu = cpus();
console.log(`machine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores; node ${process.version}; load average at start ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
console.log(`marginal cost per event = (long − short wall) / (long − short events); median of ${runs} interleaved runs, each a fresh process`);
const results: unknown[] = [];
for (const bench of BENCHES.filter((b) => only === undefined || b.name === only)) {
  // samples[build][config] = { short: [], long: [] }
  const samples = builds.map(() => CONFIGS.map(() => ({ short: [] as Sample[], long: [] as Sample[] })));
  for (let i = 0; i < runs; i++) {
    builds.forEach((b, bi) =>
      CONFIGS.forEach((c, ci) => {
        samples[bi]![ci]!.short.push(runChild(b.child, bench.short, c.sinks, c.noFsync, b.root));
        samples[bi]![ci]!.long.push(runChild(b.child, bench.long, c.sinks, c.noFsync, b.root));
      }),
    );
  }
  console.log(`\n${bench.name}: load average now ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log("| build | sink | short run | long run | marginal ns/event, wall | × none | marginal ns/event, CPU | × none | × none (whole run, long, wall) | × none (whole process, long) |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  builds.forEach((b, bi) => {
    // Without a recorder the engine's events are not numbered: count events as a recorded run holds them.
    const shortEvents = Math.max(...samples[bi]!.map((x) => x.short[0]!.events));
    const longEvents = Math.max(...samples[bi]!.map((x) => x.long[0]!.events));
    const figures = CONFIGS.map((c, ci) => {
      const s = samples[bi]![ci]!;
      const shortMs = median(s.short.map((x) => x.wallMs));
      const longMs = median(s.long.map((x) => x.wallMs));
      const shortCpuMs = median(s.short.map((x) => x.cpuMs));
      const longCpuMs = median(s.long.map((x) => x.cpuMs));
      const longProcessMs = median(s.long.map((x) => x.processMs));
      const perEvent = (long: number, short: number) => ((long - short) * 1e6) / (longEvents - shortEvents);
      return { config: c.name, shortMs, longMs, shortCpuMs, longCpuMs, longProcessMs, shortEvents, longEvents, marginalNs: perEvent(longMs, shortMs), marginalCpuNs: perEvent(longCpuMs, shortCpuMs) };
    });
    const none = figures[0]!;
    for (const f of figures) {
      console.log(
        `| ${b.name} | ${f.config} | ${(f.shortMs / 1000).toFixed(2)} s (${f.shortEvents.toLocaleString("en")} ev) | ${(f.longMs / 1000).toFixed(2)} s (${f.longEvents.toLocaleString("en")} ev) | ${f.marginalNs.toFixed(0)} | ${(f.marginalNs / none.marginalNs).toFixed(2)}× | ${f.marginalCpuNs.toFixed(0)} | ${(f.marginalCpuNs / none.marginalCpuNs).toFixed(2)}× | ${(f.longMs / none.longMs).toFixed(2)}× | ${(f.longProcessMs / none.longProcessMs).toFixed(2)}× |`,
      );
      results.push({ workload: bench.name, build: b.name, ...f, xNoneMarginal: f.marginalNs / none.marginalNs, xNoneMarginalCpu: f.marginalCpuNs / none.marginalCpuNs, xNoneWhole: f.longMs / none.longMs, xNoneProcess: f.longProcessMs / none.longProcessMs });
    }
  });
}
if (process.argv.includes("--json")) console.log(JSON.stringify(results));
