import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chartConfigs } from "../src/analysis/aggregate.ts";
import { openResults } from "../src/analysis/better-sqlite.ts";
import { loadRuns } from "../src/analysis/results.ts";
import { best, bestTable, cells, xeTable } from "../scripts/policy-answer.ts";
import { writePlannedResults } from "./support/synthetic-results.ts";

// scripts/policy-answer.ts prints docs/validation.md's "policy answer on both kernels" tables
// from the default study: one answer per workload and kernel, never pooled.

function studyConfigs() {
  const dir = mkdtempSync(join(tmpdir(), "pagesim-answer-"));
  // Made-up figures: each configuration's GPU work is 100 + its first run's index.
  writePlannedResults(dir, "workloads/sweeps/default.yaml");
  const src = openResults(join(dir, "results.sqlite"));
  try {
    return chartConfigs(loadRuns(src));
  } finally {
    src.close();
  }
}

describe("the policy answer on both kernels (scripts/policy-answer.ts)", () => {
  it("answers for each workload on each kernel apart: the most GPU work among configurations with no failed GPU atomic", () => {
    const configs = studyConfigs();
    const all = cells(configs);
    expect(all.map((c) => [c.workload, c.kernel])).toEqual([
      ["atomic-ping-pong.yaml", "seed-era"],
      ["atomic-ping-pong.yaml", "current"],
      ["atomic-contention.yaml", "seed-era"],
      ["atomic-contention.yaml", "current"],
    ]);
    for (const cell of all) {
      expect(cell.configs).toHaveLength(36);
      expect(new Set(cell.configs.map((c) => c.labels[0]![1]))).toEqual(new Set([cell.kernel]));
      // The synthetic GPU work grows with the plan: the cell's last configuration is its best.
      const last = cell.configs[cell.configs.length - 1]!;
      expect(best(cell.configs)).toEqual([last]);
      // A configuration whose GPU atomics failed (livelock) is never the answer.
      const failing = { ...last, metrics: { ...last.metrics, gpu_access_failures: { mean: 1, min: 1, max: 1, n: 2 } } };
      expect(best([...cell.configs.slice(0, -1), failing])).toEqual([cell.configs[cell.configs.length - 2]]);
    }
    const table = bestTable(configs).split("\n");
    expect(table).toHaveLength(2 + 4);
    expect(table[2]).toMatch(/^\| atomic-ping-pong\.yaml \| seed-era \| /);
    expect(table[3]).toMatch(/^\| atomic-ping-pong\.yaml \| current \| /);
    expect(xeTable(configs).split("\n")[0]).toBe("| workload | kernel | HZ 100 | HZ 250 | HZ 1000 |");
  });
});
