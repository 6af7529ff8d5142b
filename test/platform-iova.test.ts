import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readEventRows } from "../src/record/reader.ts";
import { recordRun } from "../src/record/run-dir.ts";
import { verifyRun } from "../src/record/verify.ts";
import { loadWorkload, parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";
import type { Workload } from "../src/workload/schema.ts";
import { twoMibFaultYaml } from "./support/fault-workload.ts";

/** Every dma.* event of a run, in order, with the direction and cost it recorded. */
function dmaEvents(workload: Workload) {
  const seen: { kind: string; dir: string | undefined; order: number | undefined; durationNs: number; bytes: number | undefined }[] = [];
  const { report, world } = runWorkload(workload, undefined, {
    onLog: (log) =>
      log.subscribe({
        onModelEvent: (_s, _t, _th, _c, ev) => {
          if (!ev.kind.startsWith("dma.")) return;
          const e = ev as { kind: string; dir?: string; order?: number; durationNs: number; sizeBytes?: number };
          seen.push({ kind: e.kind, dir: e.dir, order: e.order, durationNs: e.durationNs, bytes: e.sizeBytes });
        },
      }),
  });
  return { seen, report, world };
}

const count = (seen: { kind: string; dir: string | undefined }[], kind: string, dir?: string) => seen.filter((e) => e.kind === kind && (dir === undefined || e.dir === dir)).length;

/** The calibration fault (2 MiB, 512 system pages to VRAM), then a CPU write that brings it back. */
const ROUND_TRIP = twoMibFaultYaml({ description: "2 MiB there and back", gpu: "write", gpuPages: 1, cpuAfter: ["{ op: write, addr: 0x40000000, pages: 1, at: 3ms }"] });

describe("IOMMU mode iova: the IOVA link API (dma_iova_try_alloc / link / sync / unlink / free)", () => {
  it("a 2 MiB migration each way: one IOVA allocation, a link per 4 KiB folio, one sync; unlink and free at unmap; no dma_map_page", () => {
    const { seen, report } = dmaEvents(parseWorkload(ROUND_TRIP, "workloads/inline.yaml", { "platform.dma.iommu": "iova" }));
    expect(report.invariants).toEqual([]);
    expect(report.placement.every((p) => p.where === "system")).toBe(true);
    for (const dir of ["to_device", "from_device"]) {
      expect(count(seen, "dma.iova_alloc", dir), dir).toBe(1);
      expect(count(seen, "dma.iova_link", dir), dir).toBe(512); // each 4 KiB folio is its own physically contiguous piece
      expect(count(seen, "dma.iova_sync", dir), dir).toBe(1);
      expect(count(seen, "dma.iova_unlink", dir), dir).toBe(1);
      expect(count(seen, "dma.iova_free", dir), dir).toBe(1);
    }
    expect(count(seen, "dma.map") + count(seen, "dma.unmap")).toBe(0);
    // The order of the steps in one migration: alloc, links, sync ... unlink, free.
    const toDevice = seen.filter((e) => e.dir === "to_device").map((e) => e.kind);
    expect(toDevice[0]).toBe("dma.iova_alloc");
    expect(toDevice.slice(1, 513).every((k) => k === "dma.iova_link")).toBe(true);
    expect(toDevice.slice(513)).toEqual(["dma.iova_sync", "dma.iova_unlink", "dma.iova_free"]);
    // The allocation covers the whole migration; the sync and the unlink the bytes linked.
    const alloc = seen.find((e) => e.kind === "dma.iova_alloc")!;
    expect(alloc.bytes).toBe(2 * 1024 * 1024);
    expect(seen.find((e) => e.kind === "dma.iova_unlink")!.bytes).toBe(2 * 1024 * 1024);
  });

  it("each step's cost is the profile's and is in the log", () => {
    const { seen } = dmaEvents(parseWorkload(ROUND_TRIP, "workloads/inline.yaml", { "platform.dma.iommu": "iova" }));
    const costOf = (kind: string) => [...new Set(seen.filter((e) => e.kind === kind).map((e) => e.durationNs))];
    // workloads/platforms/xe-pcie4x8-iommu.yaml, dma.costs.iova
    expect(costOf("dma.iova_alloc")).toEqual([1000]);
    expect(costOf("dma.iova_link")).toEqual([100]);
    expect(costOf("dma.iova_sync")).toEqual([1000]);
    expect(costOf("dma.iova_unlink")).toEqual([2000 + 512 * 50]);
    expect(costOf("dma.iova_free")).toEqual([500]);
  });

  it("a link that fails ends the loop with its errno: no sync, and the unmap still unlinks what was linked and frees the range", () => {
    const text = ROUND_TRIP.replace("seed: 1", "seed: 1\nfaults: { dma_map: { nth: [3] } }");
    const { seen, report } = dmaEvents(parseWorkload(text, "workloads/inline.yaml", { "platform.dma.iommu": "iova" }));
    expect(report.invariants).toEqual([]);
    const first = seen.slice(0, seen.findIndex((e) => e.kind === "dma.iova_free") + 1);
    expect(first.map((e) => e.kind)).toEqual(["dma.iova_alloc", "dma.iova_link", "dma.iova_link", "dma.iova_unlink", "dma.iova_free"]);
    expect(first[3]!.bytes).toBe(2 * 4096);
    expect(first[3]!.durationNs).toBe(2000 + 2 * 50);
    expect(report.gpuFaults[0]!.ret).toBe("0"); // the handler falls back and retries; the GPU write completes
  });

  it("the migrate stage of the 2 MiB fault shrinks by the per-page map+unmap it no longer pays", () => {
    const strict = runWorkload(loadWorkload("workloads/xe-2mib-fault-calibration.yaml")).report.gpuFaults[0]!;
    const iova = runWorkload(loadWorkload("workloads/xe-2mib-fault-calibration.yaml", { "platform.dma.iommu": "iova" })).report.gpuFaults[0]!;
    expect(iova.ret).toBe("0");
    expect(iova.copyNs).toBe(strict.copyNs);
    // strict: 512 × (300 + 340) ns; iova: 1000 + 512 × 100 + 1000 + (2000 + 512 × 50) + 500 ns.
    expect(strict.migrateNs - iova.migrateNs).toBe(512 * 640 - (1000 + 512 * 100 + 1000 + 2000 + 512 * 50 + 500));
  });
});

describe("an iova run is recorded and replayed", () => {
  it("events.arrow and events.sqlite hold the IOVA steps with their costs, and verify replays the run", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "pagesim-iova-"));
    const file = join(tmp, "round-trip.yaml");
    writeFileSync(file, ROUND_TRIP.replace("platform: xe-pcie4x8-iommu", `platform: ${join(process.cwd(), "workloads/platforms/xe-pcie4x8-iommu.yaml")}`));
    const workload = loadWorkload(file, { "platform.dma.iommu": "iova" });
    const { dir } = await recordRun({ file, workload, outDir: join(tmp, "run"), sinks: ["arrow", "sqlite"] });
    const kinds = new Map<string, number>();
    let linkNs = 0;
    for await (const row of readEventRows(join(dir, "events.arrow"))) {
      kinds.set(row.kind, (kinds.get(row.kind) ?? 0) + 1);
      if (row.kind === "dma.iova_link") linkNs += Number(row.values.duration_ns);
    }
    expect([kinds.get("dma.iova_alloc"), kinds.get("dma.iova_link"), kinds.get("dma.iova_sync"), kinds.get("dma.iova_unlink"), kinds.get("dma.iova_free")]).toEqual([2, 1024, 2, 2, 2]);
    expect(linkNs).toBe(1024 * 100);
    const result = await verifyRun(dir);
    expect(result.divergence).toBeNull();
    expect(result.sqlite?.rows).toBe(result.events);
    rmSync(tmp, { recursive: true, force: true });
  });
});

describe("the per-page modes are as they were", () => {
  // migrate stage of the calibration fault, ns: 512 pages × (map + unmap) on top of the same rest.
  for (const [mode, perPageNs] of [["strict", 640], ["lazy", 400], ["off", 50]] as const) {
    it(`${mode}: 512 dma_map_page and 512 dma_unmap_page, no IOVA steps`, () => {
      const { seen, report } = dmaEvents(loadWorkload("workloads/xe-2mib-fault-calibration.yaml", { "platform.dma.iommu": mode }));
      expect(count(seen, "dma.map")).toBe(512);
      expect(count(seen, "dma.unmap")).toBe(512);
      expect(seen.every((e) => e.kind === "dma.map" || e.kind === "dma.unmap")).toBe(true);
      const f = report.gpuFaults[0]!;
      expect(f.migrateNs - f.copyNs).toBe(10_000 + 512 * 745 + 512 * perPageNs);
    });
  }
});

describe("a profile of Brost's machine reproduces his 2 MiB migrate CPU time with and without the link API", () => {
  /** "Average migrate 2M cpu time", µs (M. Brost, RFC PATCH v2 0/3, dri-devel, 23 Jan 2026). */
  const MEASURED = { strict: 552.36, iova: 224.82 };
  for (const [mode, want] of Object.entries(MEASURED)) {
    it(`${mode}: migrate − copy within 15 % of ${want} µs`, () => {
      const { seen, report } = dmaEvents(loadWorkload("workloads/xe-2mib-fault-calibration.yaml", { platform: "xe-pcie4x8-iommu-brost2026", "platform.dma.iommu": mode }));
      expect(report.invariants).toEqual([]);
      expect(report.platform).toBe("xe-pcie4x8-iommu-brost2026");
      // The path taken: page by page in strict mode, one IOVA range in iova mode.
      expect(count(seen, mode === "iova" ? "dma.iova_link" : "dma.map")).toBe(512);
      const f = report.gpuFaults[0]!;
      const have = (f.migrateNs - f.copyNs) / 1000;
      expect(Math.abs(have - want) / want, `${have.toFixed(1)} µs against ${want} µs`).toBeLessThanOrEqual(0.15);
    });
  }
});

describe("a profile without the link API's costs", () => {
  const profileWithout = () => {
    const tmp = mkdtempSync(join(tmpdir(), "pagesim-iova-profile-"));
    const text = readFileSync("workloads/platforms/xe-pcie4x8-iommu.yaml", "utf8");
    const cut = text.replace(/\n    # iova: the link API[\s\S]*?freeNs: 500[^\n]*/, "");
    expect(cut).not.toContain("linkNs");
    const profile = join(tmp, "no-iova.yaml");
    writeFileSync(profile, cut.replace("name: xe-pcie4x8-iommu", "name: no-iova"));
    const workload = join(tmp, "w.yaml");
    writeFileSync(workload, ROUND_TRIP.replace("platform: xe-pcie4x8-iommu", `platform: ${profile}`));
    return { profile, workload };
  };

  it("still loads and runs in the per-page modes (profiles written before the iova mode)", () => {
    const { workload } = profileWithout();
    expect(runWorkload(loadWorkload(workload)).report.gpuFaults[0]!.ret).toBe("0");
  });

  it("is refused in iova mode with one sentence naming the file and the key", () => {
    const { profile, workload } = profileWithout();
    expect(() => loadWorkload(workload, { "platform.dma.iommu": "iova" })).toThrow(
      new RegExp(`^${profile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: dma\\.costs\\.iova: iommu: iova needs the link API's costs here`),
    );
  });
});
