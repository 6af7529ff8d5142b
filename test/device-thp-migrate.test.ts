import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProcessBody } from "../src/engine/index.ts";
import { checkModelInvariants } from "../src/check/pagemap-invariants.ts";
import { populateMm } from "../src/pagemap/populate-mm.ts";
import { recordRun } from "../src/record/run-dir.ts";
import { verifyRun } from "../src/record/verify.ts";
import { BASE, MB, mapAnon, pagemapWorld, runThread } from "./support/pagemap-world.ts";
import { loadWorkload, parseWorkload, WorkloadError } from "../src/workload/load.ts";
import { runLogged } from "./support/fault-workload.ts";

/**
 * Device-private THP (issue #17, docs/design/device-thp.md §4 tests 1, 2, 3, 5a, 6): a 2 MiB
 * range migrates to VRAM and back as one order-9 folio when the source is one, under the newest
 * variant with model.deviceThp; otherwise page by page, as before.
 */
type Ev = { kind: string } & Record<string, unknown>;

interface Options {
  variant?: "seed" | "newest";
  thp?: "always" | "never";
  deviceThp?: boolean;
  /** Write the range from the CPU first (a THP source with thp: always); else the GPU touches it first. */
  cpuFirst?: boolean;
  /** Read it back from the CPU after the GPU write. */
  readBack?: boolean;
  /** The GPU's migration chunk (platform.gpu range sizes), default the platform's (2 MiB). */
  chunk64k?: boolean;
  faults?: string;
}

function workloadText(o: Options): string {
  const model = [`variant: ${o.variant ?? "newest"}`, `thp: ${o.thp ?? "always"}`, ...(o.deviceThp === undefined ? [] : [`deviceThp: ${o.deviceThp}`])].join(", ");
  const cpuSteps = (o.cpuFirst === false ? "" : "      - { op: write, addr: 0x40000000, pages: 512 }\n") + (o.readBack === true ? "      - { op: read, addr: 0x40000000, pages: 512, at: 3ms }\n" : "");
  const text = `description: device THP
seed: 1
platform: xe-pcie4x8-iommu
model: { ${model} }
${o.faults === undefined ? "" : `faults: ${o.faults}\n`}mappings:
  - { addr: 0x40000000, size: 2MiB }
threads:
${cpuSteps === "" ? "" : `  - name: cpu0\n    steps:\n${cpuSteps}`}  - name: gpu0
    ctx: gpu
    steps:
      - { op: write, addr: ${o.chunk64k === true ? "0x40010000" : "0x40000000"}, at: 1ms }
`;
  return text;
}

function parsed(o: Options, more: Record<string, unknown> = {}) {
  const overrides = { ...(o.chunk64k === true ? { "platform.gpu.chunkSizes": [65536, 4096] } : {}), ...more };
  return parseWorkload(workloadText(o), "workloads/inline.yaml", overrides);
}

function run(o: Options, more: Record<string, unknown> = {}) {
  const { report, events } = runLogged(parsed(o, more));
  const count = (kind: string, where: (e: Ev) => boolean = () => true) => events.filter((e) => e.kind === kind && where(e)).length;
  return { report, events, count };
}

const deviceAlloc = (order: number) => (e: Ev) => e.memory === "device" && e.order === order;

describe("the model.deviceThp knob", () => {
  it("is refused with the seed variant, naming the key and what was expected", () => {
    const text = "description: x\nseed: 1\nmodel: { deviceThp: true }\nmappings: [{ addr: 0x40000000, size: 2MiB }]\nthreads:\n  - name: cpu0\n    steps:\n      - { op: read, addr: 0x40000000 }\n";
    expect(() => parseWorkload(text, "workloads/inline.yaml")).toThrow(WorkloadError);
    expect(() => parseWorkload(text, "workloads/inline.yaml")).toThrow(/model\.deviceThp: true needs model\.variant: newest/);
  });
});

describe("the prediction command (issue #17 Q1)", () => {
  const file = "workloads/xe-2mib-fault-calibration.yaml";
  it("--set model.deviceThp=true with the seed variant exits 2 with one sentence naming the key", () => {
    const tsx = createRequire(import.meta.url).resolve("tsx");
    const r = spawnSync(process.execPath, ["--import", tsx, "src/cli.ts", "run", file, "--set", "model.deviceThp=true", "--out", mkdtempSync(join(tmpdir(), "pagesim-dthp-"))], { encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/--set model\.deviceThp=true: model\.deviceThp: true needs model\.variant: newest/);
  });

  it("newest, thp always, deviceThp: the calibration fault migrates one order-9 device folio, stage by stage", () => {
    const w = loadWorkload(file, { "model.variant": "newest", "model.thp": "always", "model.deviceThp": true });
    const { report, events } = runLogged(w);
    expect(report.invariants).toEqual([]);
    expect(events.filter((e) => e.kind === "folio.alloc" && e.memory === "device").map((e) => e.order)).toEqual([9]);
    const f = report.gpuFaults[0]!;
    expect([f.ret, f.migrateNs > 0, f.copyNs > 0, f.getPagesNs > 0, f.bindNs > 0]).toEqual(["0", true, true, true, true]);
  });
});

describe("a 2 MiB device-THP migration to VRAM (newest, thp always, deviceThp)", () => {
  it("a PMD-mapped THP source: one order-9 device folio, one DMA map, one copy job of 2 MiB, one PMD leaf, one 2 MiB GPU PTE", () => {
    const { report, count, events } = run({ deviceThp: true });
    expect(report.invariants).toEqual([]);
    expect(count("folio.alloc", deviceAlloc(9))).toBe(1);
    expect(count("folio.alloc", deviceAlloc(0))).toBe(0);
    expect(count("dma.map", (e) => e.dir === "to_device")).toBe(1);
    expect(count("dma.map", (e) => e.dir === "to_device" && e.order === 9)).toBe(1);
    expect(count("copy.submit")).toBe(1);
    expect(count("copy.submit", (e) => e.bytes === 2 * 1024 * 1024)).toBe(1);
    expect(count("pmd.set", (e) => e.pteKind === "device-private")).toBe(1);
    expect(count("pte.set", (e) => e.pteKind === "device-private")).toBe(0);
    const bind = events.find((e) => e.kind === "svm_range.bind" && e.memory === "device")!;
    expect(new Set(bind.folios as number[]).size).toBe(1);
    expect(report.gpuFaults[0]!.ret).toBe("0");
    // workloads/platforms/xe-pcie4x8-iommu.yaml: bindNs 2000 + one 2 MiB PTE × 15.625;
    // get_pages: one entry (hmm_vma_handle_absent_pmd) × 17.58.
    expect(report.gpuFaults[0]!.bindNs).toBe(Math.round(2000 + 15.625));
    expect(report.gpuFaults[0]!.getPagesNs).toBeLessThan(100);
    // One zdd reference for the folio (drm_pagemap_get_devmem_page), not 512: the zdd goes 1
    // (creator) → 2 → 1 when the creator's is put, held by the one device folio.
    expect(count("zdd.alloc")).toBe(1);
    expect(count("zdd.get")).toBe(1);
    expect(count("zdd.put", (e) => e.holder === "creator")).toBe(1);
    expect(count("zdd.put", (e) => e.holder === "page")).toBe(0);
  });

  it("in IOMMU mode iova: one dma.iova_link of order 9 instead of a map", () => {
    const { report, count } = run({ deviceThp: true }, { "platform.dma.iommu": "iova" });
    expect(report.invariants).toEqual([]);
    expect(count("dma.iova_link", (e) => e.dir === "to_device" && e.order === 9)).toBe(1);
    expect(count("dma.iova_link", (e) => e.dir === "to_device")).toBe(1);
    expect(count("dma.map")).toBe(0);
  });

  it("an untouched aligned range: the compound hole becomes one order-9 device folio (migrate_vma_insert_huge_pmd_page)", () => {
    const { report, count } = run({ deviceThp: true, cpuFirst: false });
    expect(report.invariants).toEqual([]);
    expect(count("folio.alloc", deviceAlloc(9))).toBe(1);
    expect(count("folio.alloc", deviceAlloc(0))).toBe(0);
    expect(count("pmd.set", (e) => e.pteKind === "device-private")).toBe(1);
    expect(count("copy.submit")).toBe(0); // a hole has no data to copy
  });
});

describe("a 2 MiB device THP back to system memory on a CPU read", () => {
  it("do_huge_pmd_device_private: one order-9 system folio, one DMA map, one copy job, one folio_free of the device folio, a present PMD leaf", () => {
    const { report, count, events } = run({ deviceThp: true, readBack: true });
    expect(report.invariants).toEqual([]);
    const back = events.findIndex((e) => e.kind === "handle_mm_fault.begin" && e.access === "read");
    expect(back).toBeGreaterThan(0);
    const after = events.slice(back);
    const n = (kind: string, where: (e: Ev) => boolean = () => true) => after.filter((e) => e.kind === kind && where(e)).length;
    expect(n("folio.alloc", (e) => e.memory === "system" && e.order === 9)).toBe(1);
    expect(n("folio.alloc", (e) => e.memory === "system" && e.order === 0)).toBe(0);
    expect(n("dma.map", (e) => e.dir === "from_device")).toBe(1);
    expect(n("copy.submit")).toBe(1);
    const deviceFolio = events.find((e) => e.kind === "folio.alloc" && e.memory === "device")!.folio;
    expect(n("folio.free", (e) => e.folio === deviceFolio)).toBe(1);
    expect(n("zdd.put", (e) => e.holder === "page")).toBe(1);
    expect(n("pmd.set", (e) => e.pteKind === "present")).toBe(1);
    expect(count("handle_mm_fault.begin", (e) => e.access === "read")).toBe(1); // one fault for the whole 2 MiB
  });

  it("the recorded run of the round trip verifies (replay reproduces the state, every read saw the last write)", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "pagesim-dthp-"));
    const file = join(tmp, "round-trip.yaml");
    // The platform is named by path: the file no longer sits beside workloads/platforms/.
    writeFileSync(file, workloadText({ deviceThp: true, readBack: true }).replace("platform: xe-pcie4x8-iommu", `platform: ${resolve("workloads/platforms/xe-pcie4x8-iommu.yaml")}`));
    const { dir, manifest } = await recordRun({ file, workload: loadWorkload(file), outDir: join(tmp, "run"), sinks: ["arrow"] });
    expect(manifest.result.lostWrites).toEqual([]);
    const result = await verifyRun(dir);
    expect(result.divergence).toBeNull();
    expect(result.events).toBeGreaterThan(0);
  });

  it("an order-9 allocation failure on the way back is SIGBUS (drm_pagemap has no order-0 fallback); the data stays on the device", () => {
    // The first order-9 allocation is the CPU's THP; the second is the fault-back's.
    const { report, count, events } = run({ deviceThp: true, readBack: true, faults: "{ folio_alloc_order9: { nth: [2] } }" });
    expect(report.invariants).toEqual([]);
    expect(report.steps.some((s) => s.ret === "SIGBUS")).toBe(true);
    const deviceFolio = events.find((e) => e.kind === "folio.alloc" && e.memory === "device")!.folio;
    expect(count("folio.free", (e) => e.folio === deviceFolio)).toBe(0);
    expect(count("folio.alloc", (e) => e.memory === "system" && e.order === 0)).toBe(0);
  });
});

describe("4 KiB device pages where device THP does not apply", () => {
  it("deviceThp off (explicitly): the THP is split at collection and 512 device pages migrate, as before", () => {
    const { report, count } = run({ deviceThp: false });
    expect(report.invariants).toEqual([]);
    expect(count("folio.alloc", deviceAlloc(0))).toBe(512);
    expect(count("pmd.split")).toBe(1);
    expect(count("folio.split")).toBe(1);
  });

  it("the seed variant with thp always: the PMD is split (+511 references) and then the folio, 512 device pages", () => {
    const { report, count } = run({ variant: "seed" });
    expect(report.invariants).toEqual([]);
    expect(count("pmd.set", (e) => e.pteKind === "present")).toBe(1);
    expect(count("pmd.split")).toBe(1);
    expect(count("folio.alloc", deviceAlloc(0))).toBe(512);
  });

  it("deviceThp on, a 64 KiB GPU chunk inside a THP: collect_huge_pmd's fallback splits, 16 device pages", () => {
    const { report, count } = run({ deviceThp: true, chunk64k: true });
    expect(report.invariants).toEqual([]);
    expect(count("folio.alloc", deviceAlloc(9))).toBe(0);
    expect(count("folio.alloc", deviceAlloc(0))).toBe(16);
    expect(count("folio.split")).toBe(1);
  });

  it("deviceThp on, 512 order-0 system pages: 512 device pages, and back as 512 order-0 system pages", () => {
    const { report, count, events } = run({ deviceThp: true, thp: "never", readBack: true });
    expect(report.invariants).toEqual([]);
    expect(count("folio.alloc", deviceAlloc(0))).toBe(512);
    expect(count("folio.alloc", deviceAlloc(9))).toBe(0);
    const back = events.findIndex((e) => e.kind === "handle_mm_fault.begin" && e.access === "read");
    expect(events.slice(back).filter((e) => e.kind === "folio.alloc" && e.memory === "system" && e.order === 0).length).toBe(512);
    expect(count("pmd.set")).toBe(0);
  });
});

describe("an order-9 device folio needs one aligned 2 MiB block of VRAM (design note Q8)", () => {
  it("pfns that are not one aligned block: kernel.bug, the migration fails (-ENOMEM, as a populate failure), no order-0 fallback", () => {
    const w = pagemapWorld({ variant: "newest", thp: "always", deviceThp: true });
    const rets = runThread(w, (function* (): ProcessBody<number[]> {
      yield* mapAnon(w, 4 * MB);
      // A 4 KiB population takes the simple device's first frame (pfn 0): the next 512 start at 1.
      const small = yield* populateMm(w.p, w.dev.dpagemap, BASE + 3 * MB, BASE + 3 * MB + 4096, w.mm, 0);
      const huge = yield* populateMm(w.p, w.dev.dpagemap, BASE, BASE + 2 * MB, w.mm, 0);
      return [small, huge];
    })(), "gpu");
    expect(rets).toEqual([0, -12]);
    const bugs = w.events.filter((e) => e.ev.kind === "kernel.bug").map((e) => (e.ev as { what: string }).what);
    expect(bugs).toEqual(["an order-9 device folio over VRAM pfns that are not one aligned 2 MiB block"]);
    expect(w.events.filter((e) => e.ev.kind === "folio.alloc" && (e.ev as { memory: string }).memory === "device").length).toBe(1); // the 4 KiB page only
    expect(w.k.state.mms.get(w.mm)!.ptes.has(Math.floor(BASE / 4096))).toBe(false); // the hole stays a hole
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });
});
