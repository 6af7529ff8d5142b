import { describe, it, expect } from "vitest";
import { Engine, SimulationError, sleep, spin, Mutex, type ProcessBody } from "../src/engine/index.ts";

describe("Engine", () => {
  it("advances simulated time by each sleep, in integer nanoseconds", () => {
    const engine = new Engine();
    const seen: number[] = [];
    engine.spawn("p", (function* (): ProcessBody {
      seen.push(engine.nowNs);
      yield sleep(1500);
      seen.push(engine.nowNs);
      yield sleep(0);
      seen.push(engine.nowNs);
      yield sleep(250);
      seen.push(engine.nowNs);
    })());
    const result = engine.run();
    expect(seen).toEqual([0, 1500, 1500, 1750]);
    expect(result.endNs).toBe(1750);
    expect(result.blocked).toBe(0);
  });

  it("runs processes due at the same time in the order they were scheduled", () => {
    const engine = new Engine();
    const order: string[] = [];
    function* worker(name: string, ns: number): ProcessBody {
      yield sleep(ns);
      order.push(name);
    }
    // c is scheduled for t=100 after a and b; b and d for t=50, b first.
    engine.spawn("a", worker("a", 100));
    engine.spawn("b", worker("b", 50));
    engine.spawn("c", worker("c", 100));
    engine.spawn("d", worker("d", 50));
    engine.run();
    expect(order).toEqual(["b", "d", "a", "c"]);
  });

  it("starts spawned processes after those already runnable at the same time", () => {
    const engine = new Engine();
    const order: string[] = [];
    engine.spawn("parent", (function* (): ProcessBody {
      order.push("parent starts");
      engine.spawn("child", (function* (): ProcessBody {
        order.push("child runs");
      })());
      yield sleep(0);
      order.push("parent after yield");
    })());
    engine.run();
    expect(order).toEqual(["parent starts", "child runs", "parent after yield"]);
  });

  it("stops at untilNs, leaving later events for the next run call", () => {
    const engine = new Engine();
    const ticks: number[] = [];
    engine.spawn("ticker", (function* (): ProcessBody {
      for (let i = 0; i < 10; i++) {
        yield sleep(100);
        ticks.push(engine.nowNs);
      }
    })());
    engine.run(350);
    expect(ticks).toEqual([100, 200, 300]);
    engine.run();
    expect(ticks).toHaveLength(10);
    expect(engine.nowNs).toBe(1000);
  });

  it("rejects durations that are not non-negative integers of nanoseconds", () => {
    for (const bad of [-1, 1.5, Number.NaN, Infinity]) {
      const engine = new Engine();
      engine.spawn("bad", (function* (): ProcessBody {
        yield sleep(bad);
      })());
      expect(() => engine.run()).toThrow(/non-negative integer/);
    }
  });

  it("fails the run loudly, naming the process and time, when a process throws", () => {
    const engine = new Engine();
    engine.spawn("faulty", (function* (): ProcessBody {
      yield sleep(42);
      throw new Error("boom");
    })());
    let caught: unknown;
    try {
      engine.run();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SimulationError);
    const err = caught as SimulationError;
    expect(err.message).toContain("faulty");
    expect(err.message).toContain("t=42");
    expect(err.tNs).toBe(42);
    expect((err.cause as Error).message).toBe("boom");
  });

  it("reports processes left parked when nothing can run (a deadlock)", () => {
    const engine = new Engine();
    const a = new Mutex(engine, "a");
    const b = new Mutex(engine, "b");
    engine.spawn("t1", (function* (): ProcessBody {
      yield a.lock();
      yield sleep(10);
      yield b.lock();
    })());
    engine.spawn("t2", (function* (): ProcessBody {
      yield b.lock();
      yield sleep(10);
      yield a.lock();
    })());
    const result = engine.run();
    expect(result.blocked).toBe(2);
    expect(engine.liveProcesses).toBe(2);
  });

  it("lets a process wait for another's exit and read its return value", () => {
    const engine = new Engine();
    const child = engine.spawn("child", (function* (): ProcessBody<number> {
      yield sleep(300);
      return 7;
    })());
    let joinedAt = -1;
    engine.spawn("parent", (function* (): ProcessBody {
      yield engine.join(child);
      joinedAt = engine.nowNs;
    })());
    engine.run();
    expect(joinedAt).toBe(300);
    expect(child.result).toBe(7);
    expect(child.exited).toBe(true);
  });

  it("lets generator functions call each other with yield*, as kernel functions call helpers", () => {
    const engine = new Engine();
    function* copyPage(ns: number): ProcessBody<number> {
      yield spin(ns);
      return ns;
    }
    function* migrate(): ProcessBody<number> {
      let total = 0;
      for (let i = 0; i < 3; i++) total += yield* copyPage(100);
      return total;
    }
    const p = engine.spawn("migrate", migrate());
    engine.run();
    expect(p.result).toBe(300);
    expect(engine.nowNs).toBe(300);
  });

  it("reuses process slots after exit without mixing processes up", () => {
    const engine = new Engine();
    let done = 0;
    engine.spawn("spawner", (function* (): ProcessBody {
      for (let i = 0; i < 1000; i++) {
        engine.spawn("short", (function* (): ProcessBody {
          yield sleep(5);
          done++;
        })());
        yield sleep(10);
      }
    })());
    engine.run();
    expect(done).toBe(1000);
    expect(engine.liveProcesses).toBe(0);
  });
});
