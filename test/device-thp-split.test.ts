import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { checkModelInvariants } from "../src/check/pagemap-invariants.ts";
import type { ModelState } from "../src/pagemap/state.ts";
import { recordRun } from "../src/record/run-dir.ts";
import { verifyRun } from "../src/record/verify.ts";
import { loadWorkload, parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";
import { twoMibFaultYaml } from "./support/fault-workload.ts";

/**
 * Splitting a migrated device THP (issue #17; docs/design/device-thp.md finding 4, §4 test 3),
 * newest variant, thp always, model.deviceThp. A 2 MiB system THP migrates to VRAM as one order-9
 * device folio; munmap of 1 MiB at offset 0, 512 KiB or 1 MiB (hmm-tests'
 * migrate_partial_unmap_fault) splits the device-private PMD mapping (no freeze) and zaps the
 * unmapped half PTE by PTE: the folio stays order 9. Bringing the rest back, by a CPU read or by
 * the Xe garbage collector's eviction of the partly unmapped range, meets a device-private PTE of
 * a large folio: migrate_vma_split_folio splits the folio (drm_pagemap_folio_split gives each new
 * folio a zdd reference) and the lock follows the fault page; the rest comes back as 4 KiB pages.
 */
type Ev = { kind: string; seq: number; thread: string } & Record<string, unknown>;

const MIB = 1024 * 1024;
const BASE = 0x40000000; // twoMibFaultYaml's range
const DEVICE_THP = "variant: newest, thp: always, deviceThp: true";

/** The parts of the 2 MiB range left mapped after munmap of 1 MiB at `offset`. */
function survivors(offset: number): [number, number][] {
  const parts: [number, number][] = [
    [0, offset],
    [offset + MIB, 2 * MIB],
  ];
  return parts.filter(([a, b]) => b > a);
}

function workload(offset: number, route: "cpu" | "gc"): string {
  const reads = survivors(offset).map(([a, b], i) => `{ op: read, addr: ${BASE + a}, pages: ${(b - a) / 4096}${i === 0 ? ", at: 5ms" : ""} }`);
  // The GC route: a GPU access to a surviving page after the munmap runs the garbage collector
  // first, which evicts what is left of the partly unmapped range before any CPU access.
  const gpuAfter = route === "gc" ? [`{ op: read, addr: ${BASE + survivors(offset)[0]![0]}, pages: 1, at: 3ms }`] : [];
  return twoMibFaultYaml({
    description: "partial munmap of a migrated device THP",
    model: DEVICE_THP,
    gpu: "write",
    gpuPages: 512,
    cpuAfter: [`{ op: munmap, addr: ${BASE + offset}, size: 1MiB, at: 2ms }`, ...reads],
    gpuAfter,
  });
}

function run(offset: number, route: "cpu" | "gc") {
  return runText(workload(offset, route));
}

function runText(text: string) {
  const events: Ev[] = [];
  const broken: string[] = [];
  const names = new Map<number, string>();
  let state: ModelState | null = null;
  const { report } = runWorkload(parseWorkload(text, "workloads/inline.yaml"), undefined, {
    onLog: (log) => {
      state = log.state;
      log.subscribe({
        onSpawn: (uid, name) => void names.set(uid, name),
        onModelEvent: (seq, _t, thread, _c, ev) => {
          events.push({ ...(ev as unknown as Record<string, unknown>), kind: ev.kind, seq, thread: names.get(thread) ?? String(thread) });
          // Invariants after every workload step.
          if (ev.kind === "step.end") for (const p of checkModelInvariants(state!)) broken.push(`after seq ${seq}: ${p}`);
        },
      });
    },
  });
  return { report, events, broken };
}

const OFFSETS = [0, 512 * 1024, MIB];

describe.each(OFFSETS)("munmap of 1 MiB at offset %i of a migrated device THP", (offset) => {
  it.each(["cpu", "gc"] as const)("splits the mapping, then the folio when the rest comes back (%s route)", (route) => {
    const { report, events, broken } = run(offset, route);
    expect(report.invariants).toEqual([]);
    expect(broken).toEqual([]);
    const deviceAllocs = events.filter((e) => e.kind === "folio.alloc" && e.memory === "device");
    expect(deviceAllocs.map((e) => e.order)).toEqual(route === "gc" ? [9, ...deviceAllocs.slice(1).map(() => 0)] : [9]);
    const thp = deviceAllocs[0]!.folio as number;

    // The munmap: the device-private PMD splits without freeze, the unmapped half's 256 PTEs are
    // cleared with a put each, and nothing is freed: the folio stays order 9.
    const munmapAt = events.findIndex((e) => e.kind === "step.begin" && e.op === "munmap");
    const munmapEnd = events.findIndex((e, i) => i > munmapAt && e.kind === "step.end" && e.op === "munmap");
    const during = events.slice(munmapAt, munmapEnd);
    expect(during.filter((e) => e.kind === "pmd.split").map((e) => e.freeze)).toEqual([false]);
    expect(during.filter((e) => e.kind === "pte.clear").length).toBe(256);
    expect(during.filter((e) => e.kind === "folio.put" && e.folio === thp).length).toBe(256);
    expect(during.filter((e) => e.kind === "folio.free").length).toBe(0);
    expect(during.filter((e) => e.kind === "folio.split").length).toBe(0);

    // The way back: one split of the device folio, in the route's thread, then one zdd
    // reference per new folio (drm_pagemap_folio_split).
    const after = events.slice(munmapEnd);
    const splits = after.filter((e) => e.kind === "folio.split");
    expect(splits.map((e) => e.folio)).toEqual([thp]);
    expect(splits[0]!.thread).toBe(route === "cpu" ? "cpu0" : "gpu0");
    if (route === "gc") {
      // Before the garbage collector's stage ends, and before any CPU read.
      const gcEnd = events.findIndex((e) => e.kind === "gpu_fault.stage" && e.stage === "gc" && e.seq > splits[0]!.seq);
      const firstRead = events.findIndex((e) => e.kind === "step.begin" && e.op === "read" && e.thread === "cpu0");
      expect(gcEnd).toBeGreaterThan(0);
      expect(events.findIndex((e) => e === splits[0])).toBeLessThan(Math.min(gcEnd, firstRead));
      // The eviction alone brings every surviving page home, before the GPU or the CPU touches one.
      const evicted = events.slice(munmapEnd, gcEnd).filter((e) => e.kind === "folio.alloc" && e.memory === "system");
      expect(evicted.map((e) => e.order)).toEqual(new Array(256).fill(0));
    }
    const firstNew = splits[0]!.firstNew as number;
    const splitAt = after.indexOf(splits[0]!);
    const zddGets = after.slice(splitAt).findIndex((e) => e.kind !== "zdd.get" && e.kind !== "folio.set_zdd" && e !== splits[0]);
    const callback = after.slice(splitAt + 1, splitAt + zddGets);
    expect(callback.filter((e) => e.kind === "zdd.get").length).toBe(511);
    expect(callback.filter((e) => e.kind === "folio.set_zdd").map((e) => e.folio)).toEqual(Array.from({ length: 511 }, (_, i) => firstNew + i));

    // The lock follows the fault page: the fault path ends by unlocking the fault page's own
    // folio (page i of the THP is folio firstNew + i - 1 after the split).
    const faultIndex = survivors(offset)[0]![0] / 4096;
    const faultFolio = faultIndex === 0 ? thp : firstNew + faultIndex - 1;
    const faultEnd = after.findIndex((e, i) => i > splitAt && e.kind === "handle_mm_fault.end");
    const unlocks = after.slice(splitAt, faultEnd).filter((e) => e.kind === "folio.unlock");
    expect(unlocks[unlocks.length - 1]!.folio).toBe(faultFolio);
    if (faultIndex !== 0) {
      const moved = after.slice(splitAt, faultEnd);
      const lockAt = moved.findIndex((e) => e.kind === "folio.lock" && e.folio === faultFolio);
      const unlockOrig = moved.findIndex((e) => e.kind === "folio.unlock" && e.folio === thp);
      expect(lockAt).toBeGreaterThan(0);
      expect(unlockOrig).toBeGreaterThan(lockAt); // locked the new one before letting go of the original
    }

    // The rest comes back as 4 KiB system pages, none of order 9; every device pfn of the THP is
    // free again and its allocation detached.
    const back = after.filter((e) => e.kind === "folio.alloc" && e.memory === "system");
    expect(back.filter((e) => e.order === 9).length).toBe(0);
    // The CPU route brings each surviving page home once; the GC route evicts them, the GPU then
    // migrates what it touches again, and the CPU's reads bring that back too.
    if (route === "cpu") expect(back.filter((e) => e.order === 0).length).toBe(256);
    else expect(back.filter((e) => e.order === 0).length).toBeGreaterThanOrEqual(256);
    expect(after.filter((e) => e.kind === "devmem.detach").length).toBeGreaterThanOrEqual(1);
    const freedPfns = new Set(after.filter((e) => e.kind === "folio.free" && (e.folio === thp || ((e.folio as number) >= firstNew && (e.folio as number) < firstNew + 511))).map((e) => e.folio));
    expect(freedPfns.size).toBe(512);
  });
});

describe("the recorded run of a partial munmap of a device THP verifies", () => {
  it.each(["cpu", "gc"] as const)("%s route: replay reproduces the state and every read saw the last write", async (route) => {
    const tmp = mkdtempSync(join(tmpdir(), "pagesim-dthp-split-"));
    const file = join(tmp, "split.yaml");
    writeFileSync(file, workload(512 * 1024, route).replace("platform: xe-pcie4x8-iommu", `platform: ${resolve("workloads/platforms/xe-pcie4x8-iommu.yaml")}`));
    const { dir, manifest } = await recordRun({ file, workload: loadWorkload(file), outDir: join(tmp, "run"), sinks: ["arrow"] });
    expect(manifest.result.lostWrites).toEqual([]);
    expect(manifest.result.invariantsBroken).toEqual([]); // no hung access: the rest did come back
    expect(manifest.result.failedSteps).toEqual([]);
    const result = await verifyRun(dir);
    expect(result.divergence).toBeNull();
    expect(result.events).toBeGreaterThan(0);
  });
});

/** A migrated device THP, then `change` (a CPU step at 2 ms, a YAML flow map), then CPU reads of every page where it now is (at 5 ms). */
function changeWorkload(change: string, reads: [number, number][]): string {
  const readSteps = reads.map(([addr, pages], i) => `{ op: read, addr: ${addr}, pages: ${pages}${i === 0 ? ", at: 5ms" : ""} }`);
  return twoMibFaultYaml({ description: "a migrated device THP changed in place", model: DEVICE_THP, gpu: "write", gpuPages: 512, cpuAfter: [change, ...readSteps] });
}

/** What the change step did, what came back, and whether every page read back (512 CPU reads after the change, none lost). */
function changeRun(change: string, reads: [number, number][]) {
  const r = runText(changeWorkload(change, reads));
  const at = r.events.findIndex((e) => e.kind === "step.begin" && e.step === 1 && e.thread === "cpu0");
  const end = r.events.findIndex((e, i) => i > at && e.kind === "step.end" && e.thread === "cpu0");
  const during = r.events.slice(at, end);
  const after = r.events.slice(end);
  const reads512 = after.filter((e) => e.kind === "page.read" && e.thread === "cpu0");
  return { ...r, during, after, reads: reads512 };
}

const NEW = 0x80000000;

describe("mprotect and mremap over a migrated device THP", () => {
  it("mprotect of the middle 1 MiB (unaligned): the PMD splits without freeze, the folio stays whole; the rest comes back as 4 KiB pages, intact", () => {
    const { report, broken, during, after, reads } = changeRun(`{ op: mprotect, addr: ${BASE + 512 * 1024}, size: 1MiB, read: true, write: false, at: 2ms }`, [[BASE, 512]]);
    expect(report.invariants).toEqual([]);
    expect(report.lostWrites).toEqual([]);
    expect(broken).toEqual([]);
    expect(during.filter((e) => e.kind === "pmd.split").map((e) => e.freeze)).toEqual([false]);
    expect(during.filter((e) => e.kind === "folio.split" || e.kind === "folio.free").length).toBe(0);
    expect(after.filter((e) => e.kind === "folio.split").length).toBe(1);
    expect(after.filter((e) => e.kind === "folio.alloc" && e.memory === "system" && e.order === 0).length).toBe(512);
    expect(reads.length).toBe(512);
    expect(new Set(reads.map((e) => e.version))).toEqual(new Set([2])); // the GPU's write, after the CPU's
  });

  it("mremap of the middle 1 MiB to another address (unaligned): the PMD splits, the PTEs move one by one; both parts come back intact", () => {
    const { report, broken, during, after, reads } = changeRun(`{ op: mremap, addr: ${BASE + 512 * 1024}, size: 1MiB, newAddr: ${NEW}, at: 2ms }`, [
      [BASE, 128],
      [NEW, 256],
      [BASE + 1536 * 1024, 128],
    ]);
    expect(report.invariants).toEqual([]);
    expect(report.lostWrites).toEqual([]);
    expect(broken).toEqual([]);
    expect(during.filter((e) => e.kind === "pmd.split").map((e) => e.freeze)).toEqual([false]);
    expect(during.filter((e) => e.kind === "pte.set" && e.pteKind === "device-private").length).toBe(256);
    expect(during.filter((e) => e.kind === "folio.split" || e.kind === "folio.free").length).toBe(0);
    expect(after.filter((e) => e.kind === "folio.split").length).toBe(1);
    expect(after.filter((e) => e.kind === "folio.alloc" && e.memory === "system" && e.order === 0).length).toBe(512);
    expect(reads.length).toBe(512);
    expect(new Set(reads.map((e) => e.version))).toEqual(new Set([2]));
  });

  it("mremap of the whole 2 MiB to an aligned address moves the PMD leaf (move_huge_pmd); it comes back as one order-9 folio", () => {
    const { report, broken, during, after, reads } = changeRun(`{ op: mremap, addr: ${BASE}, size: 2MiB, newAddr: ${NEW}, at: 2ms }`, [[NEW, 512]]);
    expect(report.invariants).toEqual([]);
    expect(report.lostWrites).toEqual([]);
    expect(broken).toEqual([]);
    expect(during.filter((e) => e.kind === "pmd.split").length).toBe(0);
    expect(during.filter((e) => e.kind === "pmd.set" && e.pteKind === "device-private" && e.vpn === NEW / 4096).length).toBe(1);
    expect(after.filter((e) => e.kind === "folio.split").length).toBe(0);
    expect(after.filter((e) => e.kind === "folio.alloc" && e.memory === "system").map((e) => e.order)).toEqual([9]);
    expect(reads.length).toBe(512);
    expect(new Set(reads.map((e) => e.version))).toEqual(new Set([2]));
  });

  it("mremap of the whole 2 MiB to an address 4 KiB off alignment: the PMD splits and the PTEs move; the folio splits on the way back, intact", () => {
    const { report, broken, during, after, reads } = changeRun(`{ op: mremap, addr: ${BASE}, size: 2MiB, newAddr: ${NEW + 4096}, at: 2ms }`, [[NEW + 4096, 512]]);
    expect(report.invariants).toEqual([]);
    expect(report.lostWrites).toEqual([]);
    expect(broken).toEqual([]);
    expect(during.filter((e) => e.kind === "pmd.split").map((e) => e.freeze)).toEqual([false]);
    expect(after.filter((e) => e.kind === "folio.split").length).toBe(1);
    expect(after.filter((e) => e.kind === "folio.alloc" && e.memory === "system" && e.order === 0).length).toBe(512);
    expect(reads.length).toBe(512);
    expect(new Set(reads.map((e) => e.version))).toEqual(new Set([2]));
  });
});

describe("the invariants over split device folios", () => {
  it("count each split-off device folio as a zdd holder, want one zdd each, and one live folio per device pfn", () => {
    // munmap at 512 KiB, then one read in the first part: it comes home (128 pages) and the
    // second part's 128 split-off device folios stay behind, each holding a zdd reference.
    const text = workload(512 * 1024, "cpu").replace(/ {6}- \{ op: read, addr: \d+, pages: 128 \}\n/, "").replace("pages: 128, at: 5ms", "pages: 1, at: 5ms");
    let state: ModelState | null = null;
    const { report } = runWorkload(parseWorkload(text, "workloads/inline.yaml"), undefined, { onLog: (log) => void (state = log.state) });
    expect(report.invariants).toEqual([]);
    const s = state! as ModelState;
    const devices = [...s.folios.values()].filter((f) => f.memory === "device");
    expect(devices.length).toBe(128);
    expect(new Set(devices.map((f) => f.order))).toEqual(new Set([0]));
    const zdd = s.zdds.get(devices[0]!.zdd)!;
    expect(new Set(devices.map((f) => f.zdd))).toEqual(new Set([zdd.id]));
    expect(zdd.refcount).toBe(128); // the creator's reference went when the migration to VRAM finished
    expect(checkModelInvariants(s)).toEqual([]);
    // A piece without its zdd reference, and a pfn claimed for a second folio, are both reported.
    const [a, b] = [devices[0]!, devices[1]!];
    s.folios.setZdd(a.id, -1);
    s.devicePages.set(b.pfn, a.id);
    const problems = checkModelInvariants(s);
    expect(problems).toContain(`device folio ${a.id}: no zone_device_data (zdd)`);
    expect(problems).toContain(`zdd ${zdd.id}: refcount 128, holders 127 (127 pages)`);
    expect(problems).toContain(`folio ${b.id}: device pfn ${b.pfn} is not recorded as held by it`);
  });
});
