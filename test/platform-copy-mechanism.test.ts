import { describe, expect, it } from "vitest";
import { Engine } from "../src/engine/index.ts";
import type { PagemapContext } from "../src/pagemap/context.ts";
import type { DevicePage, PagemapAddr } from "../src/pagemap/ops.ts";
import { contiguousRuns, CopyEngine, type CopyPage } from "../src/platform/copy-engine.ts";
import { applyCopyEvent, type CopyEngineState } from "../src/platform/copy-state.ts";
import { commitPageCopies } from "../src/platform/device-common.ts";
import type { PlatformEvent, WorldState } from "../src/platform/events.ts";
import { pcieLinkBytesPerSec } from "../src/platform/pcie.ts";
import type { PlatformProfile } from "../src/platform/profile.ts";
import { loadPlatform } from "../src/workload/platform-schema.ts";
import { loadWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";

const DEFAULT = "workloads/platforms/xe-pcie4x8-iommu.yaml";
const PAGES_2M = 512;
const FIRST_PFN = 0x100000;

/** Runs one copy of `pages` on a fresh copy engine of `profile`; returns the copy.job events it logged. */
function copyJobs(profile: PlatformProfile, pages: CopyPage[]): Extract<PlatformEvent, { kind: "copy.job" }>[] {
  const engine = new Engine();
  const state = { copy: null } as { copy: CopyEngineState | null };
  const log: PlatformEvent[] = [];
  const commit = (ev: PlatformEvent): void => {
    applyCopyEvent(state, ev as Parameters<typeof applyCopyEvent>[1]);
    log.push(ev);
  };
  const ce = new CopyEngine(engine, profile.copy, commit, state as unknown as WorldState);
  engine.spawn("copier", ce.copy(contiguousRuns(pages), "to_device", () => engine.nowNs));
  engine.run();
  return log.filter((ev): ev is Extract<PlatformEvent, { kind: "copy.job" }> => ev.kind === "copy.job");
}

/** 512 device pages in one contiguous VRAM run, paired with 512 4 KiB system pages or one 2 MiB system folio. */
function twoMiB(systemOrder: 0 | 9): CopyPage[] {
  return Array.from({ length: PAGES_2M }, (_, i) => ({ pfn: FIRST_PFN + i, systemOrder, systemHead: systemOrder === 0 || i === 0 }));
}

describe("the copy engine charges by mechanism (xe_migrate_vram)", () => {
  it("512 separate 4 KiB system pages and one 2 MiB system folio: same bytes, one job each, times differ by exactly 511 descriptors", () => {
    const profile = loadPlatform(DEFAULT);
    expect(profile.copy.descriptorNs).toBeGreaterThan(0);
    const small = copyJobs(profile, twoMiB(0));
    const huge = copyJobs(profile, twoMiB(9));
    expect(small).toHaveLength(1);
    expect(huge).toHaveLength(1);
    expect(small[0]!.bytes).toBe(2 * 1024 * 1024);
    expect(huge[0]!.bytes).toBe(small[0]!.bytes);
    expect(small[0]!.durationNs - huge[0]!.durationNs).toBe(Math.round(511 * profile.copy.descriptorNs));
  });

  it("a 2 MiB folio whose head is not where the job's 2 MiB step starts is mapped page by page, as use_pde requires", () => {
    const profile = loadPlatform(DEFAULT);
    const shifted = twoMiB(9).map((p, i) => ({ ...p, systemHead: i === 1 }));
    expect(copyJobs(profile, shifted)[0]!.durationNs).toBe(copyJobs(profile, twoMiB(0))[0]!.durationNs);
  });

  it("the device copy hands each device page with its system entry: one order-9 entry gives one descriptor, 512 order-0 entries 512", () => {
    const evs: unknown[] = [];
    const p = { commit: (ev: unknown) => evs.push(ev) } as unknown as PagemapContext;
    const devPages: DevicePage[] = Array.from({ length: PAGES_2M }, (_, i) => ({ folio: 100, index: i }));
    const thp: PagemapAddr[] = Array.from({ length: PAGES_2M }, (_, i) => ({ folio: i === 0 ? 7 : -1, index: 0, order: i === 0 ? 9 : 0, dir: "to_device" }));
    const small: PagemapAddr[] = Array.from({ length: PAGES_2M }, (_, i) => ({ folio: 1000 + i, index: 0, order: 0, dir: "to_device" }));
    const asCopy = (addrs: PagemapAddr[]): CopyPage[] => commitPageCopies(p, devPages, addrs, PAGES_2M, true).map((c) => ({ pfn: FIRST_PFN + c.index, systemOrder: c.systemOrder, systemHead: c.systemHead }));
    const profile = loadPlatform(DEFAULT);
    const ce = new CopyEngine(new Engine(), profile.copy, () => {}, { copy: null } as unknown as WorldState);
    expect(ce.jobsFor(contiguousRuns(asCopy(thp)))).toEqual([{ bytes: 2 * 1024 * 1024, descriptors: 1 }]);
    expect(ce.jobsFor(contiguousRuns(asCopy(small)))).toEqual([{ bytes: 2 * 1024 * 1024, descriptors: 512 }]);
    expect(evs).toHaveLength(2 * PAGES_2M); // a page.copy per page either way
  });
});

describe("the copy's bandwidth follows from the profile's PCIe generation and width", () => {
  it("Gen4 x8 at MPS 256: 16 GT/s × 8 × 128/130 × 256/280", () => {
    const profile = loadPlatform(DEFAULT);
    expect(profile.pcie).toEqual({ gen: 4, lanes: 8, maxPayloadBytes: 256 });
    expect(profile.copy.bandwidthBytesPerSec).toBeCloseTo(((16e9 * 8 * 128) / 130 / 8) * (256 / 280), 0);
  });

  it("pcie5x16 against pcie4x8: the bandwidth ratio is the links' (2× the rate, 2× the lanes), and so is the byte term of a copy", () => {
    const gen4 = loadPlatform(DEFAULT);
    const gen5 = loadPlatform("workloads/platforms/xe-pcie5x16-iommu.yaml");
    expect(gen5.copy.bandwidthBytesPerSec / gen4.copy.bandwidthBytesPerSec).toBeCloseTo(4, 10);
    expect(gen5.copy.bandwidthBytesPerSec).toBeCloseTo(pcieLinkBytesPerSec({ gen: 5, lanes: 16, maxPayloadBytes: 256 }), 0);
    const [j4] = copyJobs(gen4, twoMiB(9));
    const [j5] = copyJobs(gen5, twoMiB(9));
    const bytesNs = (p: PlatformProfile, d: number) => d - p.copy.latencyNs - p.copy.descriptorNs;
    expect(bytesNs(gen4, j4!.durationNs) / bytesNs(gen5, j5!.durationNs)).toBeCloseTo(4, 2);
  });

  it("--set platform.pcie.lanes moves the bandwidth; an explicit copy.bandwidthGBps overrides the link", () => {
    expect(loadPlatform(DEFAULT, { "pcie.lanes": 16 }).copy.bandwidthBytesPerSec / loadPlatform(DEFAULT).copy.bandwidthBytesPerSec).toBeCloseTo(2, 10);
    expect(loadPlatform(DEFAULT, { "copy.bandwidthGBps": 12.5 }).copy.bandwidthBytesPerSec).toBe(12.5e9);
  });
});

describe("the per-descriptor cost is derived from the 4 KiB calibration, and only from it", () => {
  it("every profile's descriptorNs is (223 µs − job latency − 2 MiB / Gen4 x8 bandwidth) / 512", () => {
    const gen4 = loadPlatform(DEFAULT);
    const derived = (223_000 - gen4.copy.latencyNs - (2 * 1024 * 1024 * 1e9) / gen4.copy.bandwidthBytesPerSec) / 512;
    for (const name of ["xe-pcie4x8-iommu", "xe-pcie4x8-noiommu", "xe-pcie4x8-iommu-vram16m", "xe-pcie4x8-iommu-brost2026", "xe-pcie5x16-iommu"]) {
      expect(loadPlatform(`workloads/platforms/${name}.yaml`).copy.descriptorNs, name).toBeCloseTo(derived, 6);
    }
  });

  it("the calibration fault's copy is one job of 512 descriptors, 223.0 µs", () => {
    const jobs: { durationNs: number; bytes: number }[] = [];
    const onLog = (log: { subscribe(l: { onModelEvent(seq: number, t: number, th: number, ctx: unknown, ev: { kind: string }): void }): void }): void =>
      log.subscribe({ onModelEvent: (_s, _t, _th, _c, ev) => void (ev.kind === "copy.job" && jobs.push(ev as unknown as { durationNs: number; bytes: number })) });
    runWorkload(loadWorkload("workloads/xe-2mib-fault-calibration.yaml"), undefined, { onLog: onLog as never });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.bytes).toBe(2 * 1024 * 1024);
    expect(jobs[0]!.durationNs).toBe(223_000);
  });
});
