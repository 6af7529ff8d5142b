import { describe, it, expect } from "vitest";
import { runSingleServerQueue, type SingleServerQueueOptions } from "../src/validation/single-server-queue.ts";
import { batchMeansInterval } from "../src/validation/batch-means.ts";

/**
 * The engine checked against queueing theory. For a single-server FIFO queue with Poisson
 * arrivals, the Pollaczek-Khinchine formula gives the mean wait in queue exactly:
 *   Wq = lambda * E[S^2] / (2 (1 - rho)),
 * i.e. rho*S/(1-rho) for exponential service (M/M/1) and rho*S/(2(1-rho)) for deterministic
 * service (M/D/1). A simulation of 2,000,000 customers must put that value inside its 99%
 * batch-means confidence interval, and the interval must be tight (half-width under 5 % of the
 * mean). M/M/1 at rho 0.8 is the noisiest case: at 1,000,000 customers its half-width is 0.032 of
 * the mean (median over seeds 1..40, as Daley's asymptotic variance of the mean wait predicts) and
 * 1 seed in 40 went past 0.05; at 2,000,000 it is 0.022 (0.032 at most over seeds 1..24).
 */
const CUSTOMERS = 2_000_000;
const BATCHES = 20;
const ARRIVAL_MEAN_NS = 1_000_000; // lambda = 1 per ms: integer-ns rounding is far below noise
const SEEDS = [1, 2, 3];

function pollaczekKhinchineWaitNs(rho: number, service: SingleServerQueueOptions["service"]): number {
  const serviceMeanNs = rho * ARRIVAL_MEAN_NS;
  const secondMoment = service === "exponential" ? 2 * serviceMeanNs ** 2 : serviceMeanNs ** 2;
  return secondMoment / ARRIVAL_MEAN_NS / (2 * (1 - rho));
}

describe.each([
  ["M/M/1", "exponential"],
  ["M/D/1", "deterministic"],
] as const)("%s queue on the engine", (_label, service) => {
  it.each([0.5, 0.8])("at utilisation %s: Pollaczek-Khinchine mean wait inside the 99-percent batch-means interval, for every seed", (rho) => {
    const expectedNs = pollaczekKhinchineWaitNs(rho, service);
    for (const seed of SEEDS) {
      const run = runSingleServerQueue({
        customers: CUSTOMERS,
        arrivalMeanNs: ARRIVAL_MEAN_NS,
        serviceMeanNs: rho * ARRIVAL_MEAN_NS,
        service,
        seed,
      });
      const ci = batchMeansInterval(run.waitsNs, BATCHES);
      const context = `seed ${seed}: expected ${expectedNs.toFixed(0)} ns, interval ${ci.low.toFixed(0)}..${ci.high.toFixed(0)} ns`;
      expect(expectedNs, context).toBeGreaterThanOrEqual(ci.low);
      expect(expectedNs, context).toBeLessThanOrEqual(ci.high);
      expect(ci.halfWidth / ci.mean, context).toBeLessThan(0.05);
      expect(run.utilisation).toBeCloseTo(rho, 1);
    }
  });
});

describe("determinism", () => {
  it("the same seed gives the same waiting times twice, bit for bit; another seed does not", () => {
    const options = {
      customers: 200_000,
      arrivalMeanNs: ARRIVAL_MEAN_NS,
      serviceMeanNs: 0.8 * ARRIVAL_MEAN_NS,
      service: "exponential",
      seed: 11,
    } as const;
    const a = runSingleServerQueue(options);
    const b = runSingleServerQueue(options);
    const c = runSingleServerQueue({ ...options, seed: 12 });
    expect(Buffer.from(a.waitsNs.buffer).equals(Buffer.from(b.waitsNs.buffer))).toBe(true);
    expect(a.endNs).toBe(b.endNs);
    expect(a.steps).toBe(b.steps);
    expect(Buffer.from(a.waitsNs.buffer).equals(Buffer.from(c.waitsNs.buffer))).toBe(false);
  });
});
