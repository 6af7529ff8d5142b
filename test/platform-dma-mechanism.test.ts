import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProcessBody } from "../src/engine/index.ts";
import { cpuAccess } from "../src/kernel/fault.ts";
import { mmOf } from "../src/kernel/mm.ts";
import type { MigrateSrc } from "../src/kernel/migrate.ts";
import { migrateMapPages, migrateUnmapPages, NO_ADDR } from "../src/pagemap/migrate-pages.ts";
import { newIovaState, type PagemapAddr } from "../src/pagemap/ops.ts";
import { loadPlatform } from "../src/workload/platform-schema.ts";
import { BASE, MB, mapAnon, pagemapWorld, runThread } from "./support/pagemap-world.ts";

const PMD_PAGES = 512;

/** drm_pagemap_migrate_map_pages and _unmap_pages over one 2 MiB block, its dma.* events kept. */
function mapAndUnmapBlock(thp: "always" | "never", iommu: "strict" | "lazy" | "off") {
  const platform = loadPlatform("workloads/platforms/xe-pcie4x8-iommu.yaml", { "dma.iommu": iommu });
  const w = pagemapWorld({ thp, platform });
  const mapped = runThread(w, (function* (): ProcessBody<number> {
    yield* mapAnon(w, 2 * MB);
    const folios: number[] = [];
    for (let i = 0; i < PMD_PAGES; i++) {
      yield* cpuAccess(w.k, w.mm, BASE + i * 4096, "write");
      folios.push(mmOf(w.k, w.mm).ptes.folio(BASE / 4096 + i));
    }
    const src: MigrateSrc[] = folios.map((folio, i) => ({ folio, index: thp === "always" ? i : 0, migrate: true, write: true }));
    const addrs: PagemapAddr[] = Array.from({ length: PMD_PAGES }, () => NO_ADDR);
    const iova = newIovaState();
    const err = yield* migrateMapPages(w.p, addrs, src, PMD_PAGES, "to_device", iova);
    yield* migrateUnmapPages(w.p, addrs, PMD_PAGES, "to_device", iova);
    return err;
  })());
  expect(mapped).toBe(0);
  const dma = w.events.map((e) => e.ev).filter((ev) => ev.kind === "dma.map" || ev.kind === "dma.unmap") as { kind: string; order: number; durationNs: number }[];
  return { dma, folioOrders: [...w.k.state.folios.values()].filter((f) => !f.freed).map((f) => f.order) };
}

describe("dma_map_page costs by mechanism: per mapping plus per 4 KiB IOMMU entry", () => {
  it("a 2 MiB THP folio is one dma.map and one dma.unmap, each the per-mapping term plus 512 × the per-page term", () => {
    const { dma, folioOrders } = mapAndUnmapBlock("always", "strict");
    expect(folioOrders).toEqual([9]); // the path taken: the block is one order-9 folio
    expect(dma.map((e) => [e.kind, e.order])).toEqual([["dma.map", 9], ["dma.unmap", 9]]);
    // workloads/platforms/xe-pcie4x8-iommu.yaml, dma.costs.strict: map 200 + 100/page, unmap 290 + 50/page
    expect(dma[0]!.durationNs).toBe(200 + PMD_PAGES * 100);
    expect(dma[1]!.durationNs).toBe(290 + PMD_PAGES * 50);
  });

  it("4 KiB folios cost what they did before the split (map 300, unmap 340 ns each in strict mode)", () => {
    const { dma } = mapAndUnmapBlock("never", "strict");
    expect(dma.filter((e) => e.kind === "dma.map").map((e) => e.durationNs)).toEqual(Array(PMD_PAGES).fill(300));
    expect(dma.filter((e) => e.kind === "dma.unmap").map((e) => e.durationNs)).toEqual(Array(PMD_PAGES).fill(340));
  });

  it("without an IOMMU a THP costs one mapping, the same as a 4 KiB page (dma-direct writes no page table)", () => {
    const thp = mapAndUnmapBlock("always", "off").dma;
    const small = mapAndUnmapBlock("never", "off").dma;
    expect(thp.map((e) => e.durationNs)).toEqual([30, 20]);
    expect(small[0]!.durationNs).toBe(30);
  });
});

describe("a profile written before the per-mapping DMA costs", () => {
  it("loads with mapNs and unmapNs 0, so it charges everything per page as it did", () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-dma-"));
    try {
      const text = readFileSync("workloads/platforms/xe-pcie4x8-iommu.yaml", "utf8").replace(
        /strict: \{ mapNs: 200, mapNsPerPage: 100, unmapNs: 290, unmapNsPerPage: 50 \}/,
        "strict: { mapNsPerPage: 300, unmapNsPerPage: 340 }",
      );
      expect(text).toContain("strict: { mapNsPerPage: 300, unmapNsPerPage: 340 }");
      const file = join(dir, "old.yaml");
      writeFileSync(file, text);
      expect(loadPlatform(file).dma.costs.strict).toEqual({ mapNs: 0, mapNsPerPage: 300, unmapNs: 0, unmapNsPerPage: 340 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
