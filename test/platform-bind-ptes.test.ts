import { describe, expect, it } from "vitest";
import { parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";

/**
 * A GPU read of a 2 MiB range that stays in system memory (ordinary faults do not migrate here),
 * after the CPU wrote it: with THP the block is one PMD-mapped folio, without it 512 4 KiB folios.
 */
function gpuReadOfSystemRange(thp: "always" | "never") {
  const text = `description: bind of a system range
seed: 1
platform: xe-pcie4x8-iommu
model: { thp: ${thp} }
mappings:
  - { addr: 0x40000000, size: 2MiB }
threads:
  - name: cpu0
    steps:
      - { op: write, addr: 0x40000000, pages: 512 }
  - name: gpu0
    ctx: gpu
    steps:
      - { op: read, addr: 0x40000000, at: 1ms }
`;
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
