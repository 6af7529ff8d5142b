import { describe, it, expect } from "vitest";
import { Engine, Work, Workqueue, sleep, type ProcessBody } from "../src/engine/index.ts";

describe("Workqueue", () => {
  it("never runs more than maxActive items at once, and runs them in queueing order", () => {
    const engine = new Engine();
    const wq = new Workqueue(engine, "wq", { maxActive: 2 });
    let running = 0;
    let peak = 0;
    const started: string[] = [];
    const items = Array.from({ length: 6 }, (_, i) =>
      new Work(`w${i}`, function* (): ProcessBody {
        started.push(`w${i}@${engine.nowNs}`);
        running++;
        peak = Math.max(peak, running);
        yield sleep(100);
        running--;
      }),
    );
    engine.spawn("producer", (function* (): ProcessBody {
      for (const item of items) expect(wq.queueWork(item)).toBe(true);
    })());
    engine.run();
    expect(peak).toBe(2);
    expect(wq.completed).toBe(6);
    expect(started).toEqual(["w0@0", "w1@0", "w2@100", "w3@100", "w4@200", "w5@200"]);
    expect(wq.idle).toBe(true);
  });

  it("delays each item by the queue-to-execute latency and runs it in workqueue context", () => {
    const engine = new Engine();
    const wq = new Workqueue(engine, "wq", { maxActive: 1, queueLatencyNs: 5000 });
    const seen: string[] = [];
    const work = new Work("release", function* (): ProcessBody {
      seen.push(`${engine.current!.ctx}@${engine.nowNs}`);
      yield sleep(1000);
    });
    engine.spawn("device", (function* (): ProcessBody {
      yield sleep(100);
      engine.spawn("irq", (function* (): ProcessBody {
        wq.queueWork(work); // queue_work is allowed from IRQ context
      })(), "irq");
    })());
    engine.run();
    expect(seen).toEqual(["workqueue@5100"]);
    expect(engine.contextViolations).toHaveLength(0);
  });

  it("returns false when the item is already pending, and accepts it again once it has started", () => {
    const engine = new Engine();
    const wq = new Workqueue(engine, "wq", { maxActive: 4, queueLatencyNs: 100 });
    let runs = 0;
    const work = new Work("w", function* (): ProcessBody {
      runs++;
      yield sleep(1000);
    });
    const answers: boolean[] = [];
    engine.spawn("p", (function* (): ProcessBody {
      answers.push(wq.queueWork(work)); // queued
      answers.push(wq.queueWork(work)); // still pending
      yield sleep(200); // now running: pending cleared
      answers.push(wq.queueWork(work));
    })());
    engine.run();
    expect(answers).toEqual([true, false, true]);
    // Not reentrant: the second run starts only after the first returns, even with idle workers.
    expect(runs).toBe(2);
    expect(engine.nowNs).toBe(2100);
  });

  it("flush waits until everything queued has run", () => {
    const engine = new Engine();
    const wq = new Workqueue(engine, "wq", { maxActive: 1 });
    let flushedAt = -1;
    engine.spawn("p", (function* (): ProcessBody {
      for (let i = 0; i < 3; i++) wq.queueWork(new Work(`w${i}`, function* (): ProcessBody {
        yield sleep(10);
      }));
      yield wq.flush();
      flushedAt = engine.nowNs;
      yield wq.flush(); // idle: returns at once
      expect(engine.nowNs).toBe(flushedAt);
    })());
    engine.run();
    expect(flushedAt).toBe(30);
  });

  it("rejects a nonsensical configuration", () => {
    const engine = new Engine();
    expect(() => new Workqueue(engine, "bad", { maxActive: 0 })).toThrow(/maxActive/);
    expect(() => new Workqueue(engine, "bad", { queueLatencyNs: -5 })).toThrow(/queueLatencyNs/);
  });
});
