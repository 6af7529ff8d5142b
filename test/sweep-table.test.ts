import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatSweepTable } from "../src/cli/sweep-table.ts";
import { writePlannedResults } from "./support/synthetic-results.ts";

describe("the npm start table (formatSweepTable)", () => {
  it("lists every configuration of the default study on both kernels, each with only the knobs that apply to its policy", () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-table-"));
    const runs = writePlannedResults(dir, "workloads/sweeps/default.yaml");
    const configurations = new Set(runs.map((r) => JSON.stringify([r.workload, r.params])));
    expect(configurations.size, "the default study's plan: 72 configurations on each of two kernels").toBe(144);

    const lines = formatSweepTable(dir).split("\n");
    const [head, ...rows] = lines;
    expect(lines.join("\n")).not.toMatch(/more configurations/);
    expect(rows).toHaveLength(144);
    expect(head).toMatch(/^workload\s+kernel\s+policy\s+timeslice\s+HZ\s+GPU work\/s/);
    // Each kernel is named in its own column (the sweep's label.kernel), never by its settings.
    expect(rows.join("\n")).not.toMatch(/variant=|iommu=|thp=/);
    for (const kernel of ["seed-era", "current"]) {
      const row = (workload: string, policy: string, timeslice: string, hz: number) => rows.filter((r) => new RegExp(`^${workload}\\.yaml\\s+${kernel}\\s+${policy}\\s+${timeslice}\\s+HZ ${hz}\\s`).test(r));
      for (const workload of ["atomic-ping-pong", "atomic-contention"])
        for (const hz of [100, 250, 1000]) {
          // xe and notifier-block read the platform's atomic timeslice; the others do not, and
          // no policy but uvm has a lapse.
          for (const policy of ["xe", "notifier-block"]) for (const ms of [1, 5, 10]) expect(row(workload, policy, `${ms} ms`, hz), `${workload} ${policy} ${ms} ms HZ ${hz}`).toHaveLength(1);
          for (const policy of ["none", "backoff", "two-fault", "rate-limit", "uvm lapseUs=500", "uvm lapseUs=5000"]) expect(row(workload, policy, "not used", hz), `${workload} ${policy} HZ ${hz}`).toHaveLength(1);
        }
    }
    for (const r of rows) {
      expect(r, "a knob of another policy").not.toMatch(/^\S+\s+\S+\s+(xe|none|notifier-block|backoff|two-fault|rate-limit)\s.*lapseUs/);
      expect(r, "the timeslice as a raw param").not.toMatch(/atomicTimesliceMs/);
    }
    // The figures are the configuration's own: xe at 1 ms, HZ 100 on the seed-era kernel is the
    // first configuration (GPU 100 + its first run's index, 0), on the current kernel the second
    // (its first run is r0002: two repetitions each).
    expect(rows[0]).toMatch(/^atomic-ping-pong\.yaml\s+seed-era\s+xe\s+1 ms\s+HZ 100\s+100\s+1000\s/);
    expect(rows[1]).toMatch(/^atomic-ping-pong\.yaml\s+current\s+xe\s+1 ms\s+HZ 100\s+102\s+1002\s/);
  });
});
