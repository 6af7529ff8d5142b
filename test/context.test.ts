import { describe, it, expect } from "vitest";
import {
  Completion,
  Engine,
  Mutex,
  RwSemaphore,
  Server,
  SpinLock,
  Work,
  Workqueue,
  RecordingSink,
  sleep,
  spin,
  type ProcessBody,
} from "../src/engine/index.ts";

describe("execution contexts", () => {
  it("records every operation that may sleep in IRQ context as a violation, and lets it proceed", () => {
    const sink = new RecordingSink();
    const engine = new Engine({ sink });
    const m = new Mutex(engine, "devmem_lock");
    const sem = new RwSemaphore(engine, "mmap_lock");
    const c = new Completion(engine, "c");
    const dev = new Server(engine, "copy", 1);
    c.complete();
    let finished = false;
    engine.spawn("page_free_irq", (function* (): ProcessBody {
      yield spin(100); // legal: an IRQ handler's own running time
      yield m.lock(); // free, but mutex_lock may sleep: invalid here
      m.unlock();
      yield sem.downRead();
      sem.upRead();
      yield c.wait();
      yield* dev.serve(10);
      yield sleep(5);
      finished = true;
    })(), "irq");
    const result = engine.run();
    expect(finished).toBe(true);
    expect(result.endNs).toBe(115);
    expect(engine.contextViolations.map((v) => [v.op, v.ctx, v.procName, v.tNs])).toEqual([
      ["mutex_lock", "irq", "page_free_irq", 100],
      ["down_read", "irq", "page_free_irq", 100],
      ["wait_for_completion", "irq", "page_free_irq", 100],
      ["server_acquire", "irq", "page_free_irq", 100],
      ["sleep", "irq", "page_free_irq", 100],
      ["sleep", "irq", "page_free_irq", 110],
    ]);
    expect(sink.kinds().filter((k) => k === "ctx.violation")).toHaveLength(6);
  });

  it("allows sleeping in process, workqueue and GPU context", () => {
    const engine = new Engine();
    const m = new Mutex(engine, "m");
    const wq = new Workqueue(engine, "wq");
    function* body(): ProcessBody {
      yield m.lock();
      yield sleep(10);
      m.unlock();
    }
    engine.spawn("cpu", body(), "process");
    engine.spawn("gpu", body(), "gpu");
    engine.spawn("queuer", (function* (): ProcessBody {
      wq.queueWork(new Work("w", body));
    })());
    engine.run();
    expect(engine.contextViolations).toEqual([]);
  });

  it("treats a spinlock holder as atomic: sleeping inside is a violation, spinning is not", () => {
    const engine = new Engine();
    const ptl = new SpinLock(engine, "ptl");
    const m = new Mutex(engine, "m");
    engine.spawn("fault", (function* (): ProcessBody {
      yield ptl.lock();
      yield spin(50);
      yield m.lock(); // sleeping lock under a spinlock
      m.unlock();
      ptl.unlock();
      yield m.lock(); // fine again
      m.unlock();
    })());
    engine.spawn("irq", (function* (): ProcessBody {
      yield spin(10);
      yield ptl.lock(); // spins until "fault" unlocks; spinning is legal in IRQ
      yield spin(5);
      ptl.unlock();
    })(), "irq");
    engine.run();
    expect(engine.contextViolations.map((v) => [v.op, v.procName, v.atomicDepth])).toEqual([["mutex_lock", "fault", 1]]);
    expect(engine.nowNs).toBe(55);
  });
});
