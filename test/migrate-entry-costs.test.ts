import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPlatform } from "../src/workload/platform-schema.ts";
import { parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";
import { twoMibFaultYaml } from "./support/fault-workload.ts";

/**
 * migrate_vma's CPU steps are charged per entry they walk (issue #17 item 3): a folio's lock,
 * migration entry, rmap walk, mapping move and put are one each whatever its size, so a 2 MiB
 * device-THP migration pays the three per-entry constants once where 512 4 KiB pages pay them
 * 512 times. Checked by difference: the same run with the three constants at 0.
 */
const PER_ENTRY_NS = 400 + 200 + 145; // workloads/platforms/xe-pcie4x8-iommu.yaml

function workload(deviceThp: boolean): string {
  return twoMibFaultYaml({ description: "one 2 MiB GPU write fault on a CPU-written THP", model: `variant: newest, thp: always, deviceThp: ${deviceThp}`, gpu: "write" });
}

const ZERO = { "platform.cpu.migrateSetupNsPerEntry": 0, "platform.cpu.migratePagesNsPerEntry": 0, "platform.cpu.migrateFinalizeNsPerEntry": 0 };

function migrateNs(deviceThp: boolean, overrides: Record<string, unknown> = {}): number {
  const { report } = runWorkload(parseWorkload(workload(deviceThp), "workloads/inline.yaml", overrides));
  expect(report.invariants).toEqual([]);
  expect(report.gpuFaults).toHaveLength(1);
  return report.gpuFaults[0]!.migrateNs;
}

describe("migrate_vma's per-entry CPU costs", () => {
  it("a 2 MiB device THP is one entry: the three constants are paid once", () => {
    expect(migrateNs(true) - migrateNs(true, ZERO)).toBe(PER_ENTRY_NS);
  });

  it("the same THP source without device THP splits into 512 entries: paid 512 times", () => {
    expect(migrateNs(false) - migrateNs(false, ZERO)).toBe(512 * PER_ENTRY_NS);
  });

  it("a profile written with the old per-page key names still loads, read as per entry", () => {
    const old = readFileSync("workloads/platforms/xe-pcie4x8-iommu.yaml", "utf8").replaceAll("NsPerEntry:", "NsPerPage:");
    expect(old).toContain("migrateSetupNsPerPage:");
    const path = join(mkdtempSync(join(tmpdir(), "pagesim-oldkeys-")), "old.yaml");
    writeFileSync(path, old);
    const p = loadPlatform(path);
    expect(p.cpu.migrateSetupNsPerEntry + p.cpu.migratePagesNsPerEntry + p.cpu.migrateFinalizeNsPerEntry).toBe(PER_ENTRY_NS);
  });
});
