import { describe, it, expect } from "vitest";
import { Engine, Server, type ProcessBody } from "../src/engine/index.ts";

describe("Server (a device with N channels)", () => {
  it("serves at most N requests at once, the rest in arrival order", () => {
    const engine = new Engine();
    const copyEngine = new Server(engine, "copy", 2);
    const finished: string[] = [];
    for (let i = 0; i < 5; i++) {
      engine.spawn(`c${i}`, (function* (): ProcessBody {
        yield* copyEngine.serve(100);
        finished.push(`c${i}@${engine.nowNs}`);
      })());
    }
    engine.run();
    expect(finished).toEqual(["c0@100", "c1@100", "c2@200", "c3@200", "c4@300"]);
    expect(copyEngine.served).toBe(5);
    // 500 ns of channel time over 300 ns x 2 channels.
    expect(copyEngine.utilisation()).toBeCloseTo(500 / 600, 12);
  });

  it("rejects a release with nothing busy and a channel count below one", () => {
    const engine = new Engine();
    expect(() => new Server(engine, "x", 0)).toThrow(/channels/);
    const dev = new Server(engine, "dev", 1);
    engine.spawn("p", (function* (): ProcessBody {
      dev.release();
    })());
    expect(() => engine.run()).toThrow(/no channel busy/);
  });
});
