import { describe, it, expect } from "vitest";
import { Completion, Engine, WaitQueueHead, sleep, type ProcessBody } from "../src/engine/index.ts";

describe("Completion", () => {
  it("complete() releases one waiter, oldest first", () => {
    const engine = new Engine();
    const c = new Completion(engine, "c");
    const woke: string[] = [];
    for (const name of ["w1", "w2", "w3"]) {
      engine.spawn(name, (function* (): ProcessBody {
        yield c.wait();
        woke.push(`${name}@${engine.nowNs}`);
      })());
    }
    engine.spawn("completer", (function* (): ProcessBody {
      yield sleep(100);
      c.complete();
      yield sleep(100);
      c.complete();
    })());
    const result = engine.run();
    expect(woke).toEqual(["w1@100", "w2@200"]);
    expect(result.blocked).toBe(1);
    expect(c.waiting).toBe(1);
  });

  it("complete_all() releases every waiter and every later wait until reinit", () => {
    const engine = new Engine();
    const c = new Completion(engine, "detached");
    const woke: string[] = [];
    function* waiter(name: string, startNs: number): ProcessBody {
      yield sleep(startNs);
      yield c.wait();
      woke.push(`${name}@${engine.nowNs}`);
    }
    engine.spawn("a", waiter("a", 0));
    engine.spawn("b", waiter("b", 10));
    engine.spawn("c", waiter("c", 20));
    engine.spawn("late", waiter("late", 500));
    engine.spawn("completer", (function* (): ProcessBody {
      yield sleep(100);
      c.completeAll();
    })());
    engine.run();
    expect(woke).toEqual(["a@100", "b@100", "c@100", "late@500"]);
    expect(c.done).toBe(true);
    c.reinit();
    expect(c.done).toBe(false);
  });

  it("banks a complete() with no waiter: the next wait passes without sleeping", () => {
    const engine = new Engine();
    const c = new Completion(engine, "c");
    const log: string[] = [];
    engine.spawn("p", (function* (): ProcessBody {
      expect(c.done).toBe(false);
      c.complete();
      expect(c.done).toBe(true); // completion_done
      yield c.wait();
      log.push(`first@${engine.nowNs}`);
      expect(c.done).toBe(false);
      expect(c.tryWait()).toBe(false);
    })());
    engine.run();
    expect(log).toEqual(["first@0"]);
  });

  it("refuses reinit while processes wait", () => {
    const engine = new Engine();
    const c = new Completion(engine, "c");
    engine.spawn("w", (function* (): ProcessBody {
      yield c.wait();
    })());
    engine.spawn("r", (function* (): ProcessBody {
      yield sleep(1);
      c.reinit();
    })());
    expect(() => engine.run()).toThrow(/reinit_completion\(c\) with 1 waiters/);
  });
});


describe("WaitQueueHead (wait_event)", () => {
  it("sleepers re-check their condition after each wake-up; wake_up wakes the oldest only", () => {
    const engine = new Engine();
    const wq = new WaitQueueHead(engine, "folio_lock");
    let available = 0;
    const got: string[] = [];
    for (const name of ["a", "b", "c"]) {
      engine.spawn(name, (function* (): ProcessBody {
        while (available === 0) yield wq.wait();
        available--;
        got.push(`${name}@${engine.nowNs}`);
      })());
    }
    engine.spawn("producer", (function* (): ProcessBody {
      yield sleep(10);
      available = 1;
      expect(wq.wakeUpAll()).toBe(3); // all wake, one wins, two sleep again
      yield sleep(10);
      available = 1;
      expect(wq.wakeUpOne()).toBe(true);
    })());
    const result = engine.run();
    expect(got).toEqual(["a@10", "b@20"]);
    expect(result.blocked).toBe(1);
    expect(wq.sleeping).toBe(1);
  });
});
