/**
 * Where the event log's time goes, warm and in one process: the ping-pong (×--count atomics a
 * side) run again and again in one process, each configuration in turn, median of --runs:
 *   none           no recorder (the null sink)
 *   events         a listener that does nothing with each event: the engine's events are now
 *                  numbered and delivered (what any recorder costs before it does anything)
 *   rows           the recorder builds its batches (rows, seal, reset) but no sink takes them
 *   arrow no-fsync + the Arrow file written (encoding and writes), not synced
 *   arrow          + the sync at close
 * Each step's difference is what it costs per event, once the JIT is warm. With --baseline DIR,
 * the same is measured for another commit's build (DIR/dist), interleaved; that build skips the
 * sync when PAGESIM_BENCH_NO_FSYNC=1 if it has no fsync option.
 *
 *   node dist/bench/record-parts.js [--count N] [--runs N] [--baseline DIR]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, option } from "./args.ts";

interface Build {
  name: string;
  once: (mode: string, path: string) => { ms: number; events: number };
}

/* eslint-disable @typescript-eslint/no-explicit-any -- another commit's modules, loaded by path */
async function loadBuild(name: string, root: string, count: number): Promise<Build> {
  const m = (rel: string): Promise<any> => import(join(root, "dist/src", rel));
  const { ArrowEventWriter } = await m("record/arrow-file.js");
  const { EventRecorder } = await m("record/recorder.js");
  const { WorkloadRun } = await m("workload/run.js");
  const { loadWorkload } = await m("workload/load.js");
  const workload = loadWorkload(join(root, "workloads/atomic-ping-pong.yaml"), { "threads.cpu0.pattern.count": count, "threads.gpu0.pattern.count": count });
  const once = (mode: string, path: string) => {
    let writer: any = null;
    let recorder: any = null;
    const run = new WorkloadRun(workload, 1, {
      onLog: (log: any) => {
        if (mode === "none") return;
        if (mode === "events") {
          log.subscribe({ onModelEvent: () => {}, onEngineEvent: () => {}, onSpawn: () => {} });
          return;
        }
        writer = mode === "rows" ? null : new ArrowEventWriter(path, { fsync: mode === "arrow" });
        recorder = new EventRecorder(log.state, writer === null ? [] : [writer]);
        log.subscribe(recorder);
      },
    });
    process.env["PAGESIM_BENCH_NO_FSYNC"] = mode === "arrow" ? "0" : "1";
    const start = performance.now();
    run.advance();
    recorder?.flush();
    writer?.close();
    return { ms: performance.now() - start, events: run.world.log.length as number };
  };
  return { name, once };
}

const count = option("count", 40);
const runs = option("runs", 5);
const here = fileURLToPath(new URL("../..", import.meta.url));
const builds = [await loadBuild("this commit", here, count)];
const at = process.argv.indexOf("--baseline");
if (at >= 0) builds.unshift(await loadBuild(`baseline ${process.argv[at + 1]!}`, process.argv[at + 1]!, count));
const MODES = ["none", "events", "rows", "arrow no-fsync", "arrow"];
const dir = mkdtempSync(join(tmpdir(), "pagesim-bench-parts-"));
let file = 0;
const measure = (b: Build, mode: string) => {
  const path = join(dir, `e${file++}.arrow`);
  const r = b.once(mode, path);
  rmSync(path, { force: true }); // outside the timing: deleting a large file is slow here
  return r;
};
try {
  for (const b of builds) for (const mode of MODES) measure(b, mode); // warm-up
  const samples = builds.map(() => MODES.map(() => [] as number[]));
  const events = builds.map(() => 0);
  for (let i = 0; i < runs; i++)
    builds.forEach((b, bi) =>
      MODES.forEach((mode, mi) => {
        const r = measure(b, mode);
        samples[bi]![mi]!.push(r.ms);
        events[bi] = Math.max(events[bi]!, r.events);
      }),
    );
  console.log(`ping-pong ×${count}, warm, in one process, median of ${runs}; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log("| build | configuration | ns/event | × none | step's own cost, ns/event |");
  console.log("|---|---|---|---|---|");
  builds.forEach((b, bi) => {
    const ns = samples[bi]!.map((xs) => (median(xs) * 1e6) / events[bi]!);
    MODES.forEach((mode, mi) => console.log(`| ${b.name} | ${mode} | ${ns[mi]!.toFixed(0)} | ${(ns[mi]! / ns[0]!).toFixed(2)}× | ${mi === 0 ? "" : (ns[mi]! - ns[mi - 1]!).toFixed(0)} |`));
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
