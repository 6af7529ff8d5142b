/**
 * One run of a bench/memory.ts workload in its own process: loads the file, runs it with the null
 * sink, and prints one JSON line:
 *   events       events numbered by the run's log
 *   wallMs       the run only (WorkloadRun's construction and advance(); loading not timed)
 *   maxRssMb     peak RSS of the whole process (process.resourceUsage().maxRSS)
 *   rssBeforeRunMb  peak RSS before the run (Node, the modules and the loaded workload)
 *   heapUsedMb   V8 heap in use right after the run, before any forced GC
 *   liveHeapMb   V8 heap plus typed-array buffers (where the folio and page tables live) still in
 *                use after a full GC (needs --expose-gc; else null): what the
 *                run's state retains
 *   folios, ptes the kernel state's sizes at the end: live folios, page table entries of mm 0
 *
 * run.report() is not called: its `placement` lists every page of every mapping (16 M objects for
 * a 64 GiB mapping), which would cost more than the run it reports on.
 *
 *   node --expose-gc dist/bench/memory-child.js WORKLOAD.yaml [--snapshot FILE.heapsnapshot]
 *
 * --snapshot writes a V8 heap snapshot after the run (open it in Chrome DevTools, Memory tab) to
 * see which objects hold the memory.
 */
import { getHeapStatistics, writeHeapSnapshot } from "node:v8";
import { loadWorkload } from "../src/workload/load.ts";
import { WorkloadRun } from "../src/workload/run.ts";

const file = process.argv[2];
if (file === undefined) throw new Error("usage: memory-child WORKLOAD.yaml [--snapshot FILE]");
const snapshotAt = process.argv.indexOf("--snapshot");

const workload = loadWorkload(file);
const rssBeforeRunMb = process.resourceUsage().maxRSS / 1024;
const start = performance.now();
const run = new WorkloadRun(workload);
run.advance();
const wallMs = performance.now() - start;
const maxRssMb = process.resourceUsage().maxRSS / 1024;
const heapUsedMb = getHeapStatistics().used_heap_size / 2 ** 20;
const gc = (globalThis as { gc?: () => void }).gc;
let liveHeapMb: number | null = null;
if (gc !== undefined) {
  gc();
  liveHeapMb = (getHeapStatistics().used_heap_size + process.memoryUsage().arrayBuffers) / 2 ** 20;
}
const k = run.world.k.state;
const ptes = k.mms.get(run.world.mm)?.ptes.size ?? 0;
if (snapshotAt > 0) writeHeapSnapshot(process.argv[snapshotAt + 1]);
console.log(JSON.stringify({ events: run.world.log.length, wallMs, maxRssMb, rssBeforeRunMb, heapUsedMb, liveHeapMb, folios: k.folios.size, ptes, finished: run.finished }));
