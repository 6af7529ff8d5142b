import { describe, it, expect } from "vitest";
import { RandomStreams } from "../src/engine/index.ts";
import { FaultInjector } from "../src/faults/injector.ts";

describe("FaultInjector", () => {
  it("fails exactly the Nth calls of a point, and no other point", () => {
    const f = new FaultInjector({ dma_map: { nth: [2, 4] } }, new RandomStreams(1).stream("faults"));
    const dma = Array.from({ length: 5 }, () => f.fail("dma_map"));
    expect(dma).toEqual([false, true, false, true, false]);
    expect(f.fail("zdd_alloc")).toBe(false);
    expect(f.counts()).toEqual({ dma_map: { calls: 5, injected: 2 }, zdd_alloc: { calls: 1, injected: 0 } });
  });

  it("fails with the given probability, reproducibly from the seed", () => {
    const run = (seed: number): boolean[] => {
      const f = new FaultInjector({ copy_to_devmem: { probability: 0.3 } }, new RandomStreams(seed).stream("faults"));
      return Array.from({ length: 10_000 }, () => f.fail("copy_to_devmem"));
    };
    const a = run(9);
    expect(run(9)).toEqual(a);
    const rate = a.filter(Boolean).length / a.length;
    expect(Math.abs(rate - 0.3)).toBeLessThan(5 * Math.sqrt((0.3 * 0.7) / 10_000));
  });

  it("rejects unknown points and nonsense rules", () => {
    const s = new RandomStreams(1).stream("faults");
    expect(() => new FaultInjector({ bogus: { nth: [1] } } as never, s)).toThrow(/unknown fault point "bogus"/);
    expect(() => new FaultInjector({ dma_map: { probability: 2 } }, s)).toThrow(/probability must be in \[0, 1\]/);
    expect(() => new FaultInjector({ dma_map: { nth: [0] } }, s)).toThrow(/nth must list integers >= 1/);
  });
});
