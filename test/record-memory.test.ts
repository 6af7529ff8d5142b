import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { ArrowEventWriter } from "../src/record/arrow-file.ts";
import { EventRecorder } from "../src/record/recorder.ts";
import { parseWorkload } from "../src/workload/load.ts";
import { WorkloadRun } from "../src/workload/run.ts";
import { refaultWorkloadText } from "../bench/refault-workload.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const refault = (cycles: number) => parseWorkload(refaultWorkloadText(cycles), "refault.yaml");

/** Records a run to an Arrow file and returns the heap still reachable when it ends, and its length. */
function retainedAfter(cycles: number, dir: string): { heapBytes: number; events: number } {
  const writer = new ArrowEventWriter(join(dir, `x${cycles}.arrow`));
  let recorder: EventRecorder | undefined;
  const run = new WorkloadRun(refault(cycles), 1, {
    onLog: (log) => {
      recorder = new EventRecorder(log.state, [writer]);
      log.subscribe(recorder);
    },
  });
  run.advance();
  gc();
  const heapBytes = process.memoryUsage().heapUsed;
  recorder!.flush();
  writer.close();
  return { heapBytes, events: run.world.log.length };
}

describe("memory while recording", () => {
  it("stays flat as the log grows: a run 4× longer keeps no more live heap", () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-mem-"));
    try {
      retainedAfter(1, dir); // warm-up: code and caches
      const short = retainedAfter(3, dir);
      const long = retainedAfter(12, dir);
      expect(long.events).toBeGreaterThan(3.5 * short.events);
      // Retaining even one 8-byte number per event would add > 5 MB here.
      const growth = long.heapBytes - short.heapBytes;
      expect(growth, `live heap ${(short.heapBytes / 1e6).toFixed(1)} MB after ${short.events} events, ${(long.heapBytes / 1e6).toFixed(1)} MB after ${long.events}`).toBeLessThan(3e6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
