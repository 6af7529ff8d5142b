import { describe, it, expect } from "vitest";
import { RandomStreams, streamState } from "../src/engine/index.ts";

function draw(streams: RandomStreams, name: string, n: number): number[] {
  const s = streams.stream(name);
  return Array.from({ length: n }, () => s.uniform());
}

describe("RandomStreams", () => {
  it("gives the same numbers for the same seed and name", () => {
    expect(draw(new RandomStreams(7), "copy", 100)).toEqual(draw(new RandomStreams(7), "copy", 100));
  });

  it("keeps streams independent: drawing from one never shifts another", () => {
    const alone = new RandomStreams(7);
    const expected = draw(alone, "faults", 50);
    const busy = new RandomStreams(7);
    draw(busy, "workload", 1000); // another component draws first, and a lot
    busy.stream("new-component").uniform();
    expect(draw(busy, "faults", 50)).toEqual(expected);
  });

  it("gives different numbers for different seeds and different names", () => {
    expect(draw(new RandomStreams(1), "a", 10)).not.toEqual(draw(new RandomStreams(2), "a", 10));
    expect(draw(new RandomStreams(1), "a", 10)).not.toEqual(draw(new RandomStreams(1), "b", 10));
    // Seeds differing only in the high 32 bits are distinct too.
    expect(streamState(1, "a")).not.toEqual(streamState(1 + 2 ** 32, "a"));
  });

  it("draws uniforms in [0,1) with the right mean, and exponentials with the right mean", () => {
    const s = new RandomStreams(3).stream("check");
    let sumU = 0;
    let sumE = 0;
    let minU = 1;
    let maxU = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const u = s.uniform();
      minU = Math.min(minU, u);
      maxU = Math.max(maxU, u);
      sumU += u;
      sumE += s.exponential(5);
    }
    expect(minU).toBeGreaterThanOrEqual(0);
    expect(maxU).toBeLessThan(1);
    // Standard errors: uniform 0.289/sqrt(n) = 6.5e-4; exponential 5/sqrt(n) = 0.011. Allow 5 sigma.
    expect(Math.abs(sumU / n - 0.5)).toBeLessThan(5 * 6.5e-4);
    expect(Math.abs(sumE / n - 5)).toBeLessThan(5 * 0.0112);
  });

  it("draws integers in the closed range and bernoulli trials with the given probability", () => {
    const s = new RandomStreams(4).stream("ints");
    const seen = new Set<number>();
    let heads = 0;
    for (let i = 0; i < 10_000; i++) {
      const v = s.int(3, 6);
      expect(v).toBeGreaterThanOrEqual(3);
      expect(v).toBeLessThanOrEqual(6);
      seen.add(v);
      if (s.bernoulli(0.25)) heads++;
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6]);
    expect(Math.abs(heads / 10_000 - 0.25)).toBeLessThan(5 * Math.sqrt((0.25 * 0.75) / 10_000));
  });

  // A sweep's repetitions differ only in their seed, so every draw of a stream -- the first one
  // included -- must change with the seed. Buckets of 2^-20 see through draws that differ only in
  // their last bits: 200 seeds land in 200 distinct buckets but for a collision or two.
  describe("first draws change with the seed", () => {
    const names = ["faults", "explore:generate", "schedule:ties", "policy", "irq"];
    const seedFamilies: [string, number[]][] = [
      ["1..200", Array.from({ length: 200 }, (_, i) => i + 1)],
      ["2^32+1..2^32+200", Array.from({ length: 200 }, (_, i) => 2 ** 32 + i + 1)],
      ["k*2^32, k=1..200", Array.from({ length: 200 }, (_, i) => (i + 1) * 2 ** 32)],
    ];
    const bucket = (u: number): number => Math.floor(u * 2 ** 20);

    for (const [family, seeds] of seedFamilies) {
      for (const name of names) {
        it(`each of the first 4 uniforms of "${name}" over seeds ${family}`, () => {
          for (let k = 0; k < 4; k++) {
            const kth = seeds.map((seed) => draw(new RandomStreams(seed), name, k + 1)[k]!);
            expect(new Set(kth.map(bucket)).size, `draw ${k + 1}`).toBeGreaterThanOrEqual(190);
            // Spread over [0,1): 20 expected per decile; fewer than 5 in one is far out (p < 1e-4).
            const deciles = Array.from({ length: 10 }, (_, d) => kth.filter((u) => Math.floor(u * 10) === d).length);
            expect(Math.min(...deciles), `draw ${k + 1} deciles ${deciles.join(",")}`).toBeGreaterThanOrEqual(5);
          }
        });

        it(`the first int() of "${name}" over seeds ${family}`, () => {
          const wide = seeds.map((seed) => new RandomStreams(seed).stream(name).int(0, 2 ** 31));
          expect(new Set(wide).size).toBeGreaterThanOrEqual(190);
          const dice = seeds.map((seed) => new RandomStreams(seed).stream(name).int(1, 6));
          expect(new Set(dice).size).toBe(6);
        });
      }
    }
  });

  it("rejects a seed that is not an integer", () => {
    expect(() => new RandomStreams(1.5)).toThrow(/seed must be an integer/);
  });
});
