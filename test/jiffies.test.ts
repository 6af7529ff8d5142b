import { describe, it, expect } from "vitest";
import { Engine, MAX_JIFFY_OFFSET, msecsToJiffies, sleep, timeAfter64, timeBefore64, type ProcessBody } from "../src/engine/index.ts";

describe("jiffies", () => {
  it("msecs_to_jiffies rounds up, as the kernel does", () => {
    expect(msecsToJiffies(5, 250)).toBe(2); // 5 ms at 4 ms per tick
    expect(msecsToJiffies(4, 250)).toBe(1);
    expect(msecsToJiffies(1, 250)).toBe(1); // never 0 for a nonzero time
    expect(msecsToJiffies(0, 250)).toBe(0);
    expect(msecsToJiffies(1, 100)).toBe(1);
    expect(msecsToJiffies(10, 100)).toBe(1);
    expect(msecsToJiffies(11, 100)).toBe(2);
    expect(msecsToJiffies(5, 1000)).toBe(5);
    expect(msecsToJiffies(5, 300)).toBe(2); // 1.5 ticks
    expect(msecsToJiffies(10, 300)).toBe(3);
    expect(msecsToJiffies(1000, 300)).toBe(300);
  });

  it("msecs_to_jiffies clamps negative input to MAX_JIFFY_OFFSET and rejects fractions", () => {
    expect(msecsToJiffies(-1, 250)).toBe(MAX_JIFFY_OFFSET);
    expect(() => msecsToJiffies(1.5, 250)).toThrow(/integer/);
  });

  it("get_jiffies_64 advances exactly at tick boundaries", () => {
    for (const hz of [100, 250, 300, 1000] as const) {
      const engine = new Engine({ hz });
      const readings: [number, number][] = [];
      const tickNs = 1e9 / hz;
      const probes = [0, Math.ceil(tickNs) - 1, Math.ceil(tickNs), Math.ceil(3 * tickNs) - 1, Math.ceil(3 * tickNs), 1e9, 5e9 + 1];
      engine.spawn("probe", (function* (): ProcessBody {
        let last = 0;
        for (const t of probes) {
          yield sleep(t - last);
          last = t;
          readings.push([t, engine.jiffies.getJiffies64()]);
        }
      })());
      engine.run();
      expect(readings.map(([, j]) => j)).toEqual([0, 0, 1, 2, 3, hz, 5 * hz]);
    }
  });

  it("nsAtJiffies is the first instant jiffies reads that value", () => {
    const engine = new Engine({ hz: 300 });
    for (const j of [1, 2, 299, 300, 301, 12345]) {
      const t = engine.jiffies.nsAtJiffies(j);
      const probe = new Engine({ hz: 300 });
      probe.spawn("p", (function* (): ProcessBody {
        yield sleep(t);
        expect(probe.jiffies.getJiffies64()).toBe(j);
        yield sleep(0);
      })());
      probe.run();
      const before = new Engine({ hz: 300 });
      before.spawn("p", (function* (): ProcessBody {
        yield sleep(t - 1);
        expect(before.jiffies.getJiffies64()).toBe(j - 1);
      })());
      before.run();
    }
  });

  it("rejects an unsupported HZ", () => {
    expect(() => new Engine({ hz: 200 as never })).toThrow(/HZ must be one of/);
  });

  it("time_after64 and time_before64 compare tick counts", () => {
    expect(timeAfter64(10, 9)).toBe(true);
    expect(timeAfter64(9, 10)).toBe(false);
    expect(timeAfter64(10, 10)).toBe(false);
    expect(timeBefore64(9, 10)).toBe(true);
    expect(timeBefore64(10, 10)).toBe(false);
  });

  it("jiffies_to_msecs inverts msecs_to_jiffies at tick multiples", () => {
    const engine = new Engine({ hz: 250 });
    expect(engine.jiffies.jiffiesToMsecs(2)).toBe(8);
    expect(engine.jiffies.msecsToJiffies(8)).toBe(2);
  });
});
