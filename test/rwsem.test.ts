import { describe, it, expect } from "vitest";
import { Engine, RwSemaphore, sleep, type ProcessBody } from "../src/engine/index.ts";

type Access = "R" | "W";

/** Runs processes that each take the semaphore at startNs for holdNs; returns "name in/out @t". */
function scenario(steps: [string, Access, number, number][]): string[] {
  const engine = new Engine();
  const sem = new RwSemaphore(engine, "mmap_lock");
  const log: string[] = [];
  for (const [name, access, startNs, holdNs] of steps) {
    engine.spawn(name, (function* (): ProcessBody {
      yield sleep(startNs);
      yield access === "R" ? sem.downRead() : sem.downWrite();
      log.push(`${name} in @${engine.nowNs}`);
      yield sleep(holdNs);
      log.push(`${name} out @${engine.nowNs}`);
      if (access === "R") sem.upRead();
      else sem.upWrite();
    })());
  }
  const result = engine.run();
  expect(result.blocked).toBe(0);
  expect(sem.isLocked).toBe(false);
  return log;
}

describe("RwSemaphore", () => {
  it("lets many readers in together", () => {
    const log = scenario([
      ["r1", "R", 0, 100],
      ["r2", "R", 10, 100],
      ["r3", "R", 20, 100],
    ]);
    expect(log.filter((l) => l.includes(" in "))).toEqual(["r1 in @0", "r2 in @10", "r3 in @20"]);
  });

  it("keeps a writer exclusive: it waits for readers and readers wait for it", () => {
    const log = scenario([
      ["r1", "R", 0, 100],
      ["w", "W", 10, 50],
      ["r2", "R", 200, 10],
    ]);
    expect(log).toEqual(["r1 in @0", "r1 out @100", "w in @100", "w out @150", "r2 in @200", "r2 out @210"]);
  });

  it("does not starve a writer: readers arriving after a waiting writer queue behind it", () => {
    const log = scenario([
      ["r1", "R", 0, 100],
      ["w", "W", 10, 50],
      ["r2", "R", 20, 100],
    ]);
    // Without the rule r2 would join r1 at t=20 and w would wait until 120.
    expect(log).toEqual(["r1 in @0", "r1 out @100", "w in @100", "w out @150", "r2 in @150", "r2 out @250"]);
  });

  it("wakes every queued reader at once when a reader is first, writers keeping their place (phase-fair)", () => {
    const log = scenario([
      ["w1", "W", 0, 100],
      ["r1", "R", 10, 50],
      ["w2", "W", 20, 30],
      ["r2", "R", 30, 50],
    ]);
    expect(log).toEqual([
      "w1 in @0",
      "w1 out @100",
      "r1 in @100",
      "r2 in @100",
      "r1 out @150",
      "r2 out @150",
      "w2 in @150",
      "w2 out @180",
    ]);
  });

  it("gives writers the lock one at a time in arrival order", () => {
    const log = scenario([
      ["w1", "W", 0, 10],
      ["w2", "W", 1, 10],
      ["w3", "W", 2, 10],
    ]);
    expect(log).toEqual(["w1 in @0", "w1 out @10", "w2 in @10", "w2 out @20", "w3 in @20", "w3 out @30"]);
  });

  it("trylocks fail when held incompatibly or when anyone waits", () => {
    const engine = new Engine();
    const sem = new RwSemaphore(engine, "s");
    const results: [string, boolean][] = [];
    engine.spawn("reader", (function* (): ProcessBody {
      yield sem.downRead();
      yield sleep(100);
      sem.upRead();
    })());
    engine.spawn("writer", (function* (): ProcessBody {
      yield sleep(10);
      yield sem.downWrite();
      yield sleep(100);
      sem.upWrite();
    })());
    engine.spawn("trier", (function* (): ProcessBody {
      results.push(["read while read-held, no waiters", sem.downReadTrylock()]);
      sem.upRead();
      yield sleep(20);
      results.push(["read while a writer waits", sem.downReadTrylock()]);
      results.push(["write while read-held", sem.downWriteTrylock()]);
      yield sleep(300);
      results.push(["write when idle", sem.downWriteTrylock()]);
      sem.upWrite();
    })());
    engine.run();
    expect(results).toEqual([
      ["read while read-held, no waiters", true],
      ["read while a writer waits", false],
      ["write while read-held", false],
      ["write when idle", true],
    ]);
  });

  it("downgrade_write turns the writer into a reader and admits waiting readers", () => {
    const engine = new Engine();
    const sem = new RwSemaphore(engine, "s");
    const log: string[] = [];
    engine.spawn("w", (function* (): ProcessBody {
      yield sem.downWrite();
      yield sleep(50);
      sem.downgradeWrite();
      log.push(`w downgraded @${engine.nowNs}, readers ${sem.readersInside}`);
      yield sleep(50);
      sem.upRead();
    })());
    engine.spawn("r", (function* (): ProcessBody {
      yield sleep(10);
      yield sem.downRead();
      log.push(`r in @${engine.nowNs}, readers ${sem.readersInside}`);
      sem.upRead();
    })());
    engine.run();
    // The waiting reader is granted the lock inside downgrade_write itself, before it runs.
    expect(log).toEqual(["w downgraded @50, readers 2", "r in @50, readers 2"]);
  });

  it("rejects unbalanced releases", () => {
    const engine = new Engine();
    const sem = new RwSemaphore(engine, "s");
    engine.spawn("x", (function* (): ProcessBody {
      sem.upRead();
    })());
    expect(() => engine.run()).toThrow(/up_read\(s\) by x with no reader/);
  });
});
