import { describe, expect, it } from "vitest";
import { CoverageFold, CoverageTable, coverageOf } from "../src/explore/coverage.ts";
import { coverageJson, coverageRows, formatCoverage } from "../src/explore/coverage-report.ts";
import type { RunEvent } from "../src/machine/run-events.ts";
import { PAGEMAP_EXITS } from "../src/pagemap/exits.ts";
import { loadWorkload, parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";

/** A hand-made log: what the fold must count, and what it must ignore. */
const LOG: RunEvent[] = [
  { kind: "populate_mm.begin", mm: 0, start: 0, end: 4096 },
  { kind: "migrate_to_devmem.begin", mm: 0, start: 0, end: 4096 },
  { kind: "migrate_to_devmem.end", ret: -14, exit: "err_finalize:map_pages" },
  { kind: "populate_mm.end", ret: -14, exit: "driver:EFAULT" },
  { kind: "migrate_to_devmem.end", ret: 0, exit: "ok" },
  { kind: "cpu_fault.timeslice_spin", devmem: 0, jiffies: 1, expiration: 3 },
  { kind: "cpu_fault.timeslice_spin", devmem: 0, jiffies: 2, expiration: 3 },
  { kind: "cpu_fault.policy_hold", devmem: 0, durationNs: 0, thread: 4 },
  { kind: "migrate_to_ram.begin", mm: 0, start: 0, end: 4096 },
  { kind: "migrate_to_ram.end", ret: 0, exit: "ok" },
  { kind: "evict_to_ram.begin", mm: 0, start: 0, end: 4096 },
  { kind: "evict_to_ram.end", ret: 0, exit: "err_finalize:copy_to_ram;err_finalize:copy_to_ram;ok;detached" },
  { kind: "kernel.bug", fn: "migrate_to_devmem", what: "not an exit" },
  { kind: "step.end", op: "populate", step: 0, result: "-EFAULT" },
];

describe("coverage fold (a listener over the log, no counter in the model)", () => {
  it("counts function:label from the .end events, splits evict_to_ram's attempts, and counts migrate_to_ram's early returns", () => {
    expect(coverageOf(LOG)).toEqual({
      "migrate_to_devmem:err_finalize:map_pages": 1,
      "migrate_to_devmem:ok": 1,
      "populate_mm:driver:EFAULT": 1,
      "migrate_to_ram:timeslice_spin": 2,
      "migrate_to_ram:policy_hold": 1,
      "migrate_to_ram:ok": 1,
      "evict_to_ram:err_finalize:copy_to_ram": 2,
      "evict_to_ram:ok": 1,
      "evict_to_ram:detached": 1,
    });
  });

  it("as a ModelEventListener on a real run: a timeslice spin, a migration back and the GPU's populate", () => {
    const fold = new CoverageFold();
    runWorkload(loadWorkload("workloads/timeslice-refault.yaml"), undefined, { onLog: (log) => log.subscribe(fold) });
    expect(fold.labels["migrate_to_ram:timeslice_spin"]).toBeGreaterThan(0);
    expect(fold.labels["migrate_to_ram:ok"]).toBeGreaterThan(0);
    expect(fold.labels["migrate_to_devmem:ok"]).toBeGreaterThan(0);
    expect(fold.labels["populate_mm:ok"]).toBe(fold.labels["migrate_to_devmem:ok"]);
  });

  it("counts a policy hold on a real run (backoff: the CPU sleeps out the hold)", () => {
    const yaml = `description: policy hold
seed: 1
platform: xe-pcie4x8-iommu
policy: { name: backoff }
mappings:
  - { addr: 0x40000000, size: 2MiB }
threads:
  - { name: cpu, steps: [{ op: write, addr: 0x40000000 }, { op: read, addr: 0x40000000, at: 2ms }] }
  - { name: gpu, ctx: gpu, steps: [{ op: read, addr: 0x40000000, at: 1ms }] }
`;
    const fold = new CoverageFold();
    runWorkload(parseWorkload(yaml, "workloads/coverage-test.yaml"), undefined, { onLog: (log) => log.subscribe(fold) });
    expect(fold.labels["migrate_to_ram:policy_hold"]).toBeGreaterThan(0);
  });
});

describe("an exploration's table: label → runs reaching it, first run", () => {
  it("merges per-run counts: runs reaching a label (not times), the lowest run index, whatever the arrival order", () => {
    const t = new CoverageTable();
    expect(t.addRun(5, { "migrate_to_devmem:ok": 3 })).toEqual(["migrate_to_devmem:ok"]);
    expect(t.addRun(2, { "migrate_to_devmem:ok": 1, "evict_to_ram:detached": 1 })).toEqual(["evict_to_ram:detached"]);
    expect(t.addRun(9, {})).toEqual([]);
    expect(t.runs).toBe(3);
    expect(t.tally("migrate_to_devmem:ok")).toEqual({ runs: 2, firstRun: 2 });
    expect(t.tally("evict_to_ram:detached")).toEqual({ runs: 1, firstRun: 2 });
    expect(t.tally("populate_mm:ok")).toBeUndefined();
  });

  it("merges two tables (shards) and reads back from its JSON", () => {
    const a = new CoverageTable();
    a.addRun(0, { "migrate_to_devmem:ok": 1 });
    a.addRun(2, { "migrate_to_devmem:ok": 1 });
    const b = new CoverageTable();
    b.addRun(1, { "migrate_to_devmem:ok": 1, "populate_mm:mmget_failed": 1 });
    a.merge(b);
    expect(a.runs).toBe(3);
    expect(a.tally("migrate_to_devmem:ok")).toEqual({ runs: 3, firstRun: 0 });
    expect(a.tally("populate_mm:mmget_failed")).toEqual({ runs: 1, firstRun: 1 });
    const back = CoverageTable.fromJson(coverageJson(a, "seed"));
    expect(back.runs).toBe(3);
    expect(back.tally("migrate_to_devmem:ok")).toEqual({ runs: 3, firstRun: 0 });
    expect(back.tally("populate_mm:mmget_failed")).toEqual({ runs: 1, firstRun: 1 });
  });
});

describe("the coverage report", () => {
  const table = new CoverageTable();
  table.addRun(0, { "migrate_to_devmem:ok": 2, "evict_to_ram:ok": 1, "evict_to_ram:detached": 1 });
  table.addRun(1, { "migrate_to_devmem:ok": 1, "migrate_to_devmem:err_finalize:cpages_short": 1 });

  it("lists every label of the variant, never-reached first; labels of the other variant are left out", () => {
    const seed = coverageRows(table, "seed");
    const seedTotal = Object.values(PAGEMAP_EXITS).flat().filter((d) => d.variants.includes("seed")).length;
    expect(seed).toHaveLength(seedTotal);
    const firstReached = seed.findIndex((r) => r.runs > 0);
    expect(seed.slice(0, firstReached).every((r) => r.runs === 0)).toBe(true);
    expect(seed.slice(firstReached).every((r) => r.runs > 0)).toBe(true);
    expect(seed.slice(firstReached).map((r) => `${r.fn}:${r.label}`)).toEqual([
      "migrate_to_devmem:err_finalize:cpages_short",
      "migrate_to_devmem:ok",
      "evict_to_ram:ok",
      "evict_to_ram:detached",
    ]);
    expect(seed.find((r) => r.label === "err_finalize:cpages_short")).toMatchObject({ runs: 1, firstRun: 1 });
    expect(seed.some((r) => r.label === "raced_finalizing")).toBe(false); // newest only
    const newest = coverageRows(table, "newest");
    expect(newest.some((r) => r.label === "raced_finalizing" && r.runs === 0)).toBe(true);
    // A label outside the catalogue that a run reached is still listed (here: seed's cpages_short on newest).
    expect(newest.find((r) => r.label === "err_finalize:cpages_short")).toMatchObject({ runs: 1, catalogued: false });
  });

  it("prints a text table: a summary line, then function, label, runs, first run", () => {
    const text = formatCoverage(table, "seed");
    const lines = text.trimEnd().split("\n");
    const total = coverageRows(table, "seed").length;
    expect(lines[0]).toBe(`coverage (seed): 4 of ${total} exits reached in 2 runs`);
    expect(lines[1]).toMatch(/^\s*function\s+label\s+runs\s+first run$/);
    expect(lines).toHaveLength(2 + total);
    expect(lines[2]).toMatch(/^\s*migrate_to_devmem\s+eopnotsupp\s+0\s+-$/);
    expect(lines.at(-1)).toMatch(/^\s*evict_to_ram\s+detached\s+1\s+0$/);
  });

  it("writes JSON for DIR/coverage.json: the variant, runs, reached and total, and every row", () => {
    const json = coverageJson(table, "seed");
    expect(json).toMatchObject({ variant: "seed", runs: 2, reached: 4, total: coverageRows(table, "seed").length });
    expect(json.labels.find((l) => l.function === "migrate_to_devmem" && l.label === "ok")).toEqual({ function: "migrate_to_devmem", label: "ok", kind: "exit", runs: 2, firstRun: 0 });
    expect(json.labels.find((l) => l.label === "eopnotsupp")).toMatchObject({ runs: 0, firstRun: null });
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });
});
