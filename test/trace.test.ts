import { describe, it, expect } from "vitest";
import { Completion, ENGINE_EVENT_KINDS, Engine, Mutex, RecordingSink, sleep, spin, type ProcessBody } from "../src/engine/index.ts";

function scenario(engine: Engine): void {
  const m = new Mutex(engine, "m");
  const done = new Completion(engine, "done");
  engine.spawn("a", (function* (): ProcessBody {
    yield m.lock();
    yield sleep(100);
    m.unlock();
    done.complete();
  })());
  engine.spawn("b", (function* (): ProcessBody {
    yield spin(10);
    yield m.lock();
    m.unlock();
    yield done.wait();
  })());
}

describe("engine event hook", () => {
  it("reports each state change, in order, with time, process and primitive", () => {
    const sink = new RecordingSink();
    const engine = new Engine({ sink });
    scenario(engine);
    engine.run();
    const rows = sink.events.map((e) => `${e.tNs} ${e.kind} p${e.procUid} ${e.objectId < 0 ? "-" : engine.objectName(e.objectId)} ${e.arg}`);
    expect(rows).toEqual([
      "0 proc.spawn p0 - 0",
      "0 proc.spawn p1 - 0",
      "0 mutex.acquire p0 mutex:m 0",
      "0 proc.sleep p0 - 100",
      "0 proc.spin p1 - 10",
      "10 proc.block p1 mutex:m 0",
      "100 mutex.release p0 mutex:m 1",
      "100 mutex.acquire p1 mutex:m 1",
      "100 proc.wake p1 - 0",
      "100 completion.complete p0 completion:done 1",
      "100 proc.exit p0 - 0",
      "100 mutex.release p1 mutex:m 0",
      "100 completion.consume p1 completion:done 0",
      "100 proc.exit p1 - 0",
    ]);
  });

  it("documents every kind it emits", () => {
    const sink = new RecordingSink();
    const engine = new Engine({ sink });
    scenario(engine);
    engine.run();
    for (const kind of sink.kinds()) expect(Object.keys(ENGINE_EVENT_KINDS)).toContain(kind);
  });

  it("does not change the simulation: with or without a sink, the same run", () => {
    const withSink = new Engine({ sink: new RecordingSink() });
    const without = new Engine();
    scenario(withSink);
    scenario(without);
    expect(withSink.run()).toEqual(without.run());
  });
});
