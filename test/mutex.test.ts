import { describe, it, expect } from "vitest";
import { Engine, Mutex, sleep, RecordingSink, type ProcessBody } from "../src/engine/index.ts";

describe("Mutex", () => {
  it("admits one owner at a time and hands the lock to waiters in arrival order", () => {
    const engine = new Engine();
    const m = new Mutex(engine, "m");
    const log: string[] = [];
    function* holder(name: string, startNs: number, holdNs: number): ProcessBody {
      yield sleep(startNs);
      yield m.lock();
      log.push(`${name} in @${engine.nowNs}`);
      yield sleep(holdNs);
      log.push(`${name} out @${engine.nowNs}`);
      m.unlock();
    }
    engine.spawn("A", holder("A", 0, 100));
    engine.spawn("C", holder("C", 20, 10));
    engine.spawn("B", holder("B", 10, 50));
    engine.run();
    expect(log).toEqual(["A in @0", "A out @100", "B in @100", "B out @150", "C in @150", "C out @160"]);
    expect(m.isLocked).toBe(false);
  });

  it("trylock succeeds only when free and never waits", () => {
    const engine = new Engine();
    const m = new Mutex(engine, "m");
    const results: boolean[] = [];
    engine.spawn("owner", (function* (): ProcessBody {
      yield m.lock();
      yield sleep(100);
      m.unlock();
    })());
    engine.spawn("trier", (function* (): ProcessBody {
      yield sleep(50);
      results.push(m.tryLock());
      yield sleep(100);
      results.push(m.tryLock());
      m.unlock();
    })());
    engine.run();
    expect(results).toEqual([false, true]);
  });

  it("refuses an unlock by a process that does not own it, and a recursive lock", () => {
    const engine = new Engine();
    const m = new Mutex(engine, "m");
    engine.spawn("owner", (function* (): ProcessBody {
      yield m.lock();
      yield sleep(100);
    })());
    engine.spawn("thief", (function* (): ProcessBody {
      yield sleep(10);
      m.unlock();
    })());
    expect(() => engine.run()).toThrow(/mutex_unlock\(m\) by thief, owner is owner/);

    const engine2 = new Engine();
    const m2 = new Mutex(engine2, "m2");
    engine2.spawn("again", (function* (): ProcessBody {
      yield m2.lock();
      yield m2.lock();
    })());
    expect(() => engine2.run()).toThrow(/recursive lock/);
  });

  it("reports acquire (and whether it waited) and release as events", () => {
    const sink = new RecordingSink();
    const engine = new Engine({ sink });
    const m = new Mutex(engine, "m");
    for (const name of ["a", "b"]) {
      engine.spawn(name, (function* (): ProcessBody {
        yield m.lock();
        yield sleep(10);
        m.unlock();
      })());
    }
    engine.run();
    const mutexEvents = sink.events.filter((e) => e.objectId === m.id).map((e) => [e.kind, e.tNs, e.arg]);
    expect(mutexEvents).toEqual([
      ["mutex.acquire", 0, 0],
      ["proc.block", 0, 0],
      ["mutex.release", 10, 1],
      ["mutex.acquire", 10, 1],
      ["mutex.release", 20, 0],
    ]);
    expect(engine.objectName(m.id)).toBe("mutex:m");
  });
});
