import { describe, it, expect } from "vitest";
import { sleep, type ProcessBody } from "../src/engine/index.ts";
import { Errno, PAGE_SIZE } from "../src/kernel/constants.ts";
import { cpuAccess } from "../src/kernel/fault.ts";
import { mmap } from "../src/kernel/mm.ts";
import { populateMm } from "../src/pagemap/populate-mm.ts";
import { checkModelInvariants } from "../src/check/pagemap-invariants.ts";
import { BASE, MB, mapAnon, pagemapWorld, runThread, type World } from "./support/pagemap-world.ts";

const PAGES_2M = (2 * MB) / PAGE_SIZE;

/** Writes every page of [BASE, BASE + size) once, so each holds data version 1. */
function* touchAll(w: World, size = 2 * MB): ProcessBody<void> {
  for (let off = 0; off < size; off += PAGE_SIZE) yield* cpuAccess(w.k, w.mm, BASE + off, "write");
}

function* gpuPopulate(w: World, start = BASE, end = BASE + 2 * MB, timesliceMs = 5): ProcessBody<number> {
  return yield* populateMm(w.p, w.dev.dpagemap, start, end, w.mm, timesliceMs);
}

function entryKinds(w: World, start = BASE, size = 2 * MB): Record<string, number> {
  const out: Record<string, number> = {};
  const ptes = w.k.state.mms.get(w.mm)!.ptes;
  for (let off = 0; off < size; off += PAGE_SIZE) {
    const kind = ptes.get((start + off) / PAGE_SIZE)?.kind ?? "none";
    out[kind] = (out[kind] ?? 0) + 1;
  }
  return out;
}

function expectInvariants(w: World): void {
  expect(checkModelInvariants(w.p.state)).toEqual([]);
}

describe("drm_pagemap_migrate_to_devmem (through populate_mm)", () => {
  it("#1 #16 #18 #20: migrates the whole range; each device page holds a zdd reference; the timeslice is stamped in jiffies", () => {
    const w = pagemapWorld({ hz: 250 });
    const ret = runThread(w, (function* (): ProcessBody<number> {
      yield* mapAnon(w);
      yield* touchAll(w);
      yield sleep(1_000_000); // jiffies 0 -> 250 Hz: 4 ms per tick
      return yield* gpuPopulate(w, BASE, BASE + 2 * MB, 5);
    })(), "gpu");
    expect(ret).toBe(0);
    expect(entryKinds(w)).toEqual({ "device-private": PAGES_2M });
    const zdd = w.p.state.zdds.get(0)!;
    expect([zdd.refcount, zdd.creatorRef, zdd.devmem]).toEqual([PAGES_2M, false, 0]);
    const devmem = w.p.state.devmems.get(0)!;
    // The stamp is taken when the copy is done; msecs_to_jiffies(5) at HZ=250 rounds up to 2.
    const stampJiffies = w.events.find((e) => e.ev.kind === "devmem.timeslice")!;
    expect(devmem.timesliceExpiration).toBe(Math.floor(stampJiffies.tNs / 4_000_000) + 2);
    // Every page's data went along.
    for (const folio of w.p.state.folios.values()) if (!folio.freed && folio.memory === "device") expect(w.p.state.folios.fields(folio.id).versions).toEqual([1]);
    expect(w.k.state.allocatedPages).toEqual({ system: 0, device: PAGES_2M });
    expectInvariants(w);
  });

  it("#12 (seed -EFAULT) and a.2 #5 (newest -EBUSY): nothing collectable, e.g. the range is already in device memory", () => {
    for (const [variant, expected] of [
      ["seed", -Errno.EFAULT],
      ["newest", -Errno.EBUSY],
    ] as const) {
      const w = pagemapWorld({ variant });
      const rets = runThread(w, (function* (): ProcessBody<number[]> {
        yield* mapAnon(w);
        yield* touchAll(w);
        return [yield* gpuPopulate(w), yield* gpuPopulate(w)];
      })(), "gpu");
      expect(rets).toEqual([0, expected]);
      expect(w.dev.freeVramPages).toBe(4096 - PAGES_2M); // the failed attempt's allocation was given back
      expectInvariants(w);
    }
  });

  it("#13: all or nothing: one pinned page makes the whole range -EBUSY and every page stays where it was", () => {
    const w = pagemapWorld();
    const ret = runThread(w, (function* (): ProcessBody<number> {
      yield* mapAnon(w);
      yield* touchAll(w);
      const pte = w.k.state.mms.get(w.mm)!.ptes.get(BASE / PAGE_SIZE + 7)!;
      w.k.commit({ kind: "folio.pin", folio: pte.folio }); // e.g. an RDMA long-term pin
      return yield* gpuPopulate(w);
    })(), "gpu");
    expect(ret).toBe(-Errno.EBUSY);
    expect(entryKinds(w)).toEqual({ present: PAGES_2M });
    expect(w.k.state.allocatedPages.device).toBe(0);
    expect(w.dev.freeVramPages).toBe(4096);
    expectInvariants(w);
  });

  it("#7 #8 #9: -ENOENT without a VMA, -EINVAL across a VMA's end, -EBUSY for a file mapping", () => {
    const w = pagemapWorld();
    const rets = runThread(w, (function* (): ProcessBody<number[]> {
      yield* mapAnon(w);
      yield* mmap(w.k, w.mm, { addr: BASE + 4 * MB, lengthBytes: 2 * MB, kind: "file", read: true, write: true });
      return [
        yield* gpuPopulate(w, BASE + 16 * MB, BASE + 18 * MB),
        yield* gpuPopulate(w, BASE + MB, BASE + 3 * MB),
        yield* gpuPopulate(w, BASE + 4 * MB, BASE + 6 * MB),
      ];
    })(), "gpu");
    expect(rets).toEqual([-Errno.ENOENT, -Errno.EINVAL, -Errno.EBUSY]);
    expect(w.dev.freeVramPages).toBe(4096);
    expectInvariants(w);
  });

  it("#10: -ENOMEM when the arrays or the zdd cannot be allocated, with nothing leaked", () => {
    for (const point of ["kvcalloc", "zdd_alloc"] as const) {
      const w = pagemapWorld({ faults: { [point]: { nth: [1] } } });
      const ret = runThread(w, (function* (): ProcessBody<number> {
        yield* mapAnon(w);
        yield* touchAll(w);
        return yield* gpuPopulate(w);
      })(), "gpu");
      expect(ret, point).toBe(-Errno.ENOMEM);
      expect(entryKinds(w)).toEqual({ present: PAGES_2M });
      expect(w.dev.freeVramPages).toBe(4096);
      expectInvariants(w);
    }
  });

  it("#15 #17 #19: a DMA-map or copy failure unwinds: device pages put, CPU entries restored, DMA unmapped", () => {
    for (const [point, nth, expected] of [
      ["dma_map", 3, -Errno.EFAULT], // the third of 512 mappings fails
      ["copy_to_devmem", 1, -Errno.EIO],
    ] as const) {
      const w = pagemapWorld({ faults: { [point]: { nth: [nth] } } });
      const ret = runThread(w, (function* (): ProcessBody<number> {
        yield* mapAnon(w);
        yield* touchAll(w);
        return yield* gpuPopulate(w);
      })(), "gpu");
      expect(ret, point).toBe(expected);
      expect(entryKinds(w)).toEqual({ present: PAGES_2M });
      expect(w.k.state.allocatedPages.device).toBe(0);
      expect(w.dma.live).toBe(0);
      // The seed binds the zdd to its allocation, and stamps the timeslice, only on success.
      expect(w.p.state.devmems.get(0)!.detached).toBe(false);
      expect(w.p.state.devmems.get(0)!.timesliceExpiration).toBe(-1);
      expect(w.p.state.zdds.get(0)!.destroyed).toBe(true);
      expectInvariants(w);
    }
  });

  it("seed hazard: a DMA-map failure after populate_devmem_pfn leaves raw pfns for unlock_put_pages", () => {
    const seed = pagemapWorld({ faults: { dma_map: { nth: [1] } } });
    runThread(seed, (function* (): ProcessBody {
      yield* mapAnon(seed);
      yield* touchAll(seed);
      yield* gpuPopulate(seed);
    })(), "gpu");
    expect(seed.kinds()).toContain("kernel.bug");
    const newest = pagemapWorld({ variant: "newest", faults: { dma_map: { nth: [1] } } });
    runThread(newest, (function* (): ProcessBody {
      yield* mapAnon(newest);
      yield* touchAll(newest);
      yield* gpuPopulate(newest);
    })(), "gpu");
    expect(newest.kinds()).not.toContain("kernel.bug");
  });
});
