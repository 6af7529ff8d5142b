import { describe, expect, it } from "vitest";
import { CoverageTable } from "../src/explore/coverage.ts";
import { generateWorkload } from "../src/explore/generate.ts";
import { steerWeights } from "../src/explore/steer.ts";

describe("explore's steering", () => {
  it("doubles the chance of the features that lead to exits no run has reached, and stops once they are reached", () => {
    const table = new CoverageTable();
    expect(steerWeights(table, "newest")["fault:kvcalloc"]).toBe(2);
    expect(steerWeights(table, "newest")["fault:copy_to_ram"]).toBe(2);
    // Every kvcalloc exit reached: the fault point is no longer favoured; copy_to_ram still is.
    table.addRun(0, { "migrate_to_devmem:err_out:kvcalloc": 1, "migrate_to_ram:err_out:kvcalloc": 1, "evict_to_ram:err_out:kvcalloc": 1 });
    expect(steerWeights(table, "newest")["fault:kvcalloc"]).toBeUndefined();
    expect(steerWeights(table, "newest")["fault:copy_to_ram"]).toBe(2);
  });

  it("changes what the generator draws: favoured features are on more often", () => {
    const seeds = Array.from({ length: 200 }, (_, i) => i + 1);
    const withFault = (weights: Record<string, number>): number => seeds.filter((s) => generateWorkload(s, { variant: "newest", weights }).faults?.copy_to_ram !== undefined).length;
    const plain = withFault({});
    const steered = withFault(steerWeights(new CoverageTable(), "newest"));
    expect(steered).toBe(200); // ½ × 2
    expect(plain).toBeLessThan(150);
  });
});
