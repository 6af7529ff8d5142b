/**
 * One recorded run in its own process, for bench/record.ts: runs the workload file with the given
 * sinks into a temporary run directory and prints one JSON line: events, wall time of the run
 * (start-up excluded), the CPU time it took (user + system, every thread), peak RSS and file sizes.
 *
 *   node dist/bench/record-child.js WORKLOAD.yaml none|arrow|sqlite|arrow,sqlite [OVERRIDES_JSON]
 *
 * With PAGESIM_BENCH_NO_FSYNC=1 in the environment, events.arrow is not synced at close
 * (`pagesim run --no-fsync`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordRun, type SinkName } from "../src/record/run-dir.ts";
import { loadWorkload } from "../src/workload/load.ts";

const [file, sinkArg, overridesJson] = process.argv.slice(2);
if (file === undefined || sinkArg === undefined) throw new Error("usage: record-child WORKLOAD.yaml SINKS");
const sinks = (sinkArg === "none" ? [] : sinkArg.split(",")) as SinkName[];
const outDir = mkdtempSync(join(tmpdir(), "pagesim-bench-"));
try {
  const overrides = overridesJson === undefined ? {} : (JSON.parse(overridesJson) as Record<string, unknown>);
  const workload = loadWorkload(file, overrides);
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  // No run budget: the memory figure is taken at 50 M events and more, past the default.
  const { manifest } = await recordRun({ file, workload, outDir, sinks, overrides, budget: { maxEvents: Infinity, maxBytes: Infinity }, fsync: process.env["PAGESIM_BENCH_NO_FSYNC"] !== "1" });
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const bytes = Object.fromEntries(Object.entries(manifest.files).map(([k, v]) => [k, v.bytes]));
  console.log(JSON.stringify({ events: manifest.events, wallMs, cpuMs, maxRssMb: process.resourceUsage().maxRSS / 1024, bytes }));
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
