import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";
import { loadPlatform } from "../src/workload/platform-schema.ts";
import { twoMibFaultYaml } from "./support/fault-workload.ts";

/**
 * A GPU read of a 2 MiB range that stays in system memory (ordinary faults do not migrate here),
 * after the CPU wrote it: with THP the block is one PMD-mapped folio, without it 512 4 KiB folios.
 */
function gpuReadOfSystemRange(thp: "always" | "never") {
  const text = twoMibFaultYaml({ description: "bind of a system range", model: `thp: ${thp}`, gpu: "read" });
  const binds: { folios: number[] }[] = [];
  const { report } = runWorkload(parseWorkload(text, "workloads/inline.yaml", { "platform.gpu.migrateNonAtomic": false }), undefined, {
    onLog: (log) => log.subscribe({ onModelEvent: (_s, _t, _th, _c, ev) => void (ev.kind === "svm_range.bind" && binds.push(ev)) }),
  });
  expect(report.invariants).toEqual([]);
  expect(report.gpuFaults).toHaveLength(1);
  const f = report.gpuFaults[0]!;
  expect(f.ret).toBe("0");
  expect(f.migrateNs).toBe(0); // the range stayed in system memory
  expect(binds).toHaveLength(1);
  return { fault: f, boundFolios: new Set(binds[0]!.folios).size };
}

describe("the GPU bind charges per PTE written (xe_pt_stage_bind)", () => {
  it("a 2 MiB-aligned range that get_pages returned as one 2 MiB entry is bound with one 2 MiB PTE", () => {
    const { fault, boundFolios } = gpuReadOfSystemRange("always");
    expect(boundFolios).toBe(1); // the path taken: one order-9 folio behind the range
    // workloads/platforms/xe-pcie4x8-iommu.yaml: bindNs 2000 + one PTE × 15.625
    expect(fault.bindNs).toBe(Math.round(2000 + 15.625));
  });

  it("512 separate 4 KiB folios are bound with 512 4 KiB PTEs, as before", () => {
    const { fault, boundFolios } = gpuReadOfSystemRange("never");
    expect(boundFolios).toBe(512);
    expect(fault.bindNs).toBe(2000 + 512 * 15.625);
  });
});

describe("get_pages charges per entry hmm_range_fault returns", () => {
  it("a PMD-mapped THP is one entry: one getPagesNsPerEntry instead of 512", () => {
    const { fault } = gpuReadOfSystemRange("always");
    // workloads/platforms/xe-pcie4x8-iommu.yaml: getPagesNsPerEntry 17.58
    expect(fault.getPagesNs).toBe(Math.round(17.58));
  });

  it("512 4 KiB folios are 512 entries, as before", () => {
    const { fault } = gpuReadOfSystemRange("never");
    expect(fault.getPagesNs).toBe(Math.round(512 * 17.58));
  });
});

describe("a profile written before per-entry get_pages and per-PTE bind", () => {
  it("loads its getPagesNsPerPage and bindNsPerPage as the per-entry and per-PTE costs (a 4 KiB page is one of each)", () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-pte-"));
    try {
      const text = readFileSync("workloads/platforms/xe-pcie4x8-iommu.yaml", "utf8")
        .replace(/getPagesNsPerEntry: 17\.58/, "getPagesNsPerPage: 20")
        .replace(/bindNsPerPte: 15\.625/, "bindNsPerPage: 16");
      expect(text).toContain("getPagesNsPerPage: 20");
      expect(text).toContain("bindNsPerPage: 16");
      const file = join(dir, "old.yaml");
      writeFileSync(file, text);
      const gpu = loadPlatform(file).gpu;
      expect([gpu.getPagesNsPerEntry, gpu.bindNsPerPte]).toEqual([20, 16]);
      expect(Object.keys(gpu)).not.toContain("bindNsPerPage");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses both names at once, naming the key", () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-pte-"));
    try {
      const text = readFileSync("workloads/platforms/xe-pcie4x8-iommu.yaml", "utf8").replace(/bindNsPerPte: 15\.625/, "bindNsPerPte: 15.625\n  bindNsPerPage: 16");
      const file = join(dir, "both.yaml");
      writeFileSync(file, text);
      expect(() => loadPlatform(file)).toThrow(/both\.yaml.*gpu.*bindNsPerPage/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
