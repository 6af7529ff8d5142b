import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { LongestFirstQueue } from "../src/sweep/order.ts";
import type { PlannedRun } from "../src/sweep/plan.ts";
import { runSweep } from "../src/sweep/runner.ts";

/** A run of a made-up plan: workload w, policy p, repetition r. */
function run(index: number, workload: string, policy: string, repetition = 0): PlannedRun {
  return { id: `r${String(index).padStart(4, "0")}`, index, workload, workloadName: workload, params: { "policy.name": policy, "model.hz": 250 }, repetition, seed: 1 + repetition };
}

const drain = (q: LongestFirstQueue): string[] => {
  const ids: string[] = [];
  for (let r = q.next(); r !== undefined; r = q.next()) ids.push(r.id);
  return ids;
};

describe("the sweep's dispatch order", () => {
  it("knowing nothing, hands runs out in plan order", () => {
    const runs = [run(0, "a", "xe"), run(1, "a", "none"), run(2, "b", "xe")];
    expect(drain(new LongestFirstQueue(runs))).toEqual(["r0000", "r0001", "r0002"]);
  });

  it("given recorded costs, hands out the longest expected first", () => {
    // Completed (from results.sqlite on --resume): repetition 0 of each configuration.
    const known = [
      { run: run(0, "a", "xe"), events: 90_000 },
      { run: run(2, "a", "none"), events: 2_500_000 },
      { run: run(4, "b", "xe"), events: 300_000 },
      { run: run(6, "b", "none"), events: 1_200_000 },
    ];
    const queue = new LongestFirstQueue([run(1, "a", "xe", 1), run(3, "a", "none", 1), run(5, "b", "xe", 1), run(7, "b", "none", 1)], known);
    expect(queue.expectedEvents()).toBe(90_000 + 2_500_000 + 300_000 + 1_200_000);
    expect(drain(queue)).toEqual(["r0003", "r0007", "r0005", "r0001"]);
  });

  it("learns from runs as they complete, the most alike first", () => {
    const queue = new LongestFirstQueue([run(0, "a", "xe"), run(1, "a", "none"), run(2, "b", "xe"), run(3, "b", "none")]);
    expect(queue.next()!.id).toBe("r0000");
    queue.learn(run(0, "a", "xe"), 100);
    // Every run now expects 100 (each shares hz with r0000), so plan order still decides.
    expect(queue.next()!.id).toBe("r0001");
    queue.learn(run(1, "a", "none"), 5_000);
    // r0003 shares policy none and hz with r0001 (2 coordinates) and only hz with r0000: 5 000.
    // r0002 shares policy xe and hz with r0000: 100.
    expect(drain(queue)).toEqual(["r0003", "r0002"]);
  });
});

describe("results whatever the dispatch order", () => {
  it("a resumed sweep, reordered by the costs it recorded, holds the same rows as one run in plan order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-order-"));
    const file = join(dir, "s.yaml");
    // Runs of very different lengths: the refault workload with and without a timeslice.
    writeFileSync(file, `description: order test\nworkloads: [${JSON.stringify(resolve("workloads/timeslice-refault.yaml"))}]\nparameters:\n  threads.1.steps.0.timesliceMs: [0, 5]\n  model.hz: [100, 1000]\nrepetitions: 2\nsinks: []\n`);
    // One whole sweep, and one done as shard 1/2 and then resumed as a whole: the resume learns
    // the costs of the first half and hands the second out longest first.
    await runSweep({ file, outDir: join(dir, "whole"), jobs: 1 });
    const order: string[] = [];
    await runSweep({ file, outDir: join(dir, "resumed"), jobs: 1, shard: { k: 1, n: 2 } });
    await runSweep({ file, outDir: join(dir, "resumed"), jobs: 1, resume: true, onProgress: (p) => order.push(p.last!.split(" ")[0]!) });
    const rows = (d: string) => {
      const db = new Database(join(dir, d, "results.sqlite"), { readonly: true });
      try {
        return {
          runs: db.prepare("SELECT run_id, status, events, end_ns, digest FROM runs ORDER BY run_id").all(),
          metrics: db.prepare("SELECT * FROM metrics ORDER BY run_id, name").all(),
          series: db.prepare("SELECT * FROM series ORDER BY run_id, name, t_ms").all(),
        };
      } finally {
        db.close();
      }
    };
    const whole = rows("whole");
    expect(rows("resumed")).toEqual(whole);
    // The resumed half (repetition 1 of each configuration: r0001, r0003, …) did not run in plan
    // order but longest expected first, the expectation being what repetition 0 recorded.
    const eventsOf = new Map((whole.runs as { run_id: string; events: number }[]).map((r) => [r.run_id, r.events]));
    const expected = (id: string) => eventsOf.get(`r${String(Number(id.slice(1)) - 1).padStart(4, "0")}`)!;
    const costs = order.map(expected);
    expect(order).toHaveLength(4);
    expect(costs).toEqual([...costs].sort((a, b) => b - a));
    expect(order).not.toEqual([...order].sort());
  }, 120_000);
});
