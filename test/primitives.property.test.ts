import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { Completion, Engine, Mutex, RecordingSink, RwSemaphore, Server, sleep, type ProcessBody } from "../src/engine/index.ts";

/** One simulated thread's script: a list of critical sections. */
const section = fc.record({
  kind: fc.constantFrom("read", "write", "mutex", "device"),
  delayNs: fc.integer({ min: 0, max: 50 }),
  holdNs: fc.integer({ min: 0, max: 50 }),
});
const scenario = fc.array(fc.array(section, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 });

type Scenario = { kind: string; delayNs: number; holdNs: number }[][];

/** Runs the scenario, checking mutual exclusion at every step; returns the event trace. */
function runScenario(threads: Scenario, channels: number): { trace: string[]; finished: number; violations: string[] } {
  const sink = new RecordingSink();
  const engine = new Engine({ sink });
  const sem = new RwSemaphore(engine, "mmap_lock");
  const m = new Mutex(engine, "m");
  const dev = new Server(engine, "copy", channels);
  const allDone = new Completion(engine, "all_done");
  const violations: string[] = [];
  let readers = 0;
  let writers = 0;
  let mutexHolders = 0;
  let deviceUsers = 0;
  let finished = 0;
  const check = (where: string): void => {
    if (writers > 1) violations.push(`${where}: ${writers} writers`);
    if (writers > 0 && readers > 0) violations.push(`${where}: writer with ${readers} readers`);
    if (mutexHolders > 1) violations.push(`${where}: ${mutexHolders} mutex holders`);
    if (deviceUsers > channels) violations.push(`${where}: ${deviceUsers} users on ${channels} channels`);
  };
  threads.forEach((script, t) => {
    engine.spawn(`t${t}`, (function* (): ProcessBody {
      for (const s of script) {
        yield sleep(s.delayNs);
        if (s.kind === "read") {
          yield sem.downRead();
          readers++;
          check(`t${t} read`);
          yield sleep(s.holdNs);
          readers--;
          sem.upRead();
        } else if (s.kind === "write") {
          yield sem.downWrite();
          writers++;
          check(`t${t} write`);
          yield sleep(s.holdNs);
          writers--;
          sem.upWrite();
        } else if (s.kind === "mutex") {
          yield m.lock();
          mutexHolders++;
          check(`t${t} mutex`);
          yield sleep(s.holdNs);
          mutexHolders--;
          m.unlock();
        } else {
          yield dev.acquire();
          deviceUsers++;
          check(`t${t} device`);
          yield sleep(s.holdNs);
          deviceUsers--;
          dev.release();
        }
      }
      finished++;
      if (finished === threads.length) allDone.completeAll();
    })());
  });
  const result = engine.run();
  if (result.blocked !== 0) violations.push(`${result.blocked} processes never woke (lost wake-up)`);
  const trace = sink.events.map((e) => `${e.tNs} ${e.kind} ${e.procUid} ${e.objectId} ${e.arg}`);
  return { trace, finished, violations };
}

describe("primitives under random interleavings (fast-check)", () => {
  it("keep mutual exclusion, lose no wake-up, and replay identically", () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 1, max: 3 }), (threads, channels) => {
        const first = runScenario(threads, channels);
        expect(first.violations).toEqual([]);
        expect(first.finished).toBe(threads.length);
        expect(runScenario(threads, channels).trace).toEqual(first.trace);
      }),
      { numRuns: 2000 },
    );
  });
});
