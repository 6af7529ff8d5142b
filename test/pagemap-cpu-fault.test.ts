import { describe, it, expect } from "vitest";
import { sleep, spin, type ProcessBody } from "../src/engine/index.ts";
import { Errno, PAGE_SIZE } from "../src/kernel/constants.ts";
import { cpuAccess, type AccessResult } from "../src/kernel/fault.ts";
import { folioPut, folioTrylock, folioUnlock } from "../src/kernel/folio.ts";
import { mmput, munmap } from "../src/kernel/mm.ts";
import { populateMm } from "../src/pagemap/populate-mm.ts";
import { evictToRam } from "../src/pagemap/evict-to-ram.ts";
import { checkModelInvariants } from "../src/check/pagemap-invariants.ts";
import { BASE, MB, mapAnon, pagemapWorld, runThread, type World, type WorldOptions } from "./support/pagemap-world.ts";

const PAGES_2M = (2 * MB) / PAGE_SIZE;

function* touch(w: World, start: number, size: number): ProcessBody<void> {
  for (let off = 0; off < size; off += PAGE_SIZE) yield* cpuAccess(w.k, w.mm, start + off, "write");
}

/** A world whose [BASE, BASE + 2 MiB) was written once by the CPU, then migrated to the GPU. */
function inDeviceMemory(options: WorldOptions = {}, timesliceMs = 5): World {
  const w = pagemapWorld(options);
  const ret = runThread(w, (function* (): ProcessBody<number> {
    yield* mapAnon(w);
    yield* touch(w, BASE, 2 * MB);
    return yield* populateMm(w.p, w.dev.dpagemap, BASE, BASE + 2 * MB, w.mm, timesliceMs);
  })(), "gpu");
  expect(ret).toBe(0);
  return w;
}

function kinds(w: World, start = BASE, size = 2 * MB): Record<string, number> {
  const out: Record<string, number> = {};
  for (let off = 0; off < size; off += PAGE_SIZE) {
    const kind = w.k.state.mms.get(w.mm)!.ptes.get((start + off) / PAGE_SIZE)?.kind ?? "none";
    out[kind] = (out[kind] ?? 0) + 1;
  }
  return out;
}

describe("CPU fault on device memory: drm_pagemap_migrate_to_ram", () => {
  it("#22: before the timeslice expires the CPU re-faults, spinning, without migrating; then #21 #23 the whole allocation comes back", () => {
    const w = inDeviceMemory({ hz: 250 }, 5);
    const stampedAt = w.engine.nowNs;
    const expiration = w.p.state.devmems.get(0)!.timesliceExpiration;
    const r = runThread(w, cpuAccess(w.k, w.mm, BASE + 5 * PAGE_SIZE, "read"));
    expect(r.outcome).toBe("ok");
    expect(r.version).toBe(1);
    const spins = w.events.filter((e) => e.ev.kind === "cpu_fault.timeslice_spin");
    expect(spins.length).toBe(r.faults - 1);
    expect(spins.length).toBeGreaterThan(0);
    // The first migrating fault is the first one at or after the expiry tick.
    const migrateBegin = w.events.find((e) => e.ev.kind === "migrate_to_ram.begin")!;
    expect(migrateBegin.tNs).toBeGreaterThanOrEqual(w.engine.jiffies.nsAtJiffies(expiration));
    expect(migrateBegin.tNs - w.engine.jiffies.nsAtJiffies(expiration)).toBeLessThanOrEqual(w.k.costs.faultEntryNs);
    expect(stampedAt).toBeLessThan(migrateBegin.tNs);
    // All 512 pages, not only the faulting one.
    expect(kinds(w)).toEqual({ present: PAGES_2M });
    expect(w.k.state.allocatedPages.device).toBe(0);
    // The last device page freed destroyed the zdd: #1, #2, #4: detached, then released.
    expect(w.p.state.devmems.get(0)!.detached).toBe(true);
    expect(w.p.state.devmems.get(0)!.released).toBe(true);
    expect(checkModelInvariants(w.p.state, { afterTeardown: false })).toEqual([]);
  });

  it("#24: four CPU threads faulting one allocation at once all read the data back (each path: pagemap-concurrent-cpu-faults.test.ts)", () => {
    const w = inDeviceMemory({}, 0);
    const results: AccessResult[] = [];
    for (let t = 0; t < 4; t++) {
      w.engine.spawn(`cpu${t}`, (function* (): ProcessBody {
        results.push(yield* cpuAccess(w.k, w.mm, BASE + t * 64 * PAGE_SIZE, "read"));
      })());
    }
    w.engine.run();
    expect(results.map((r) => r.outcome)).toEqual(["ok", "ok", "ok", "ok"]);
    expect(results.every((r) => r.version === 1)).toBe(true);
    const ends = w.events.filter((e) => e.ev.kind === "migrate_to_ram.end");
    expect(w.events.filter((e) => e.ev.kind === "migrate_to_ram.begin").length).toBe(ends.length);
    expect(kinds(w)).toEqual({ present: PAGES_2M });
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("#26 #27 #21: a failed system-page allocation (no 4 KiB fallback) is SIGBUS; the data stays in device memory", () => {
    const w = inDeviceMemory({ faults: { folio_alloc_order0: { nth: [PAGES_2M + 10] } } }, 0);
    const r = runThread(w, cpuAccess(w.k, w.mm, BASE, "read"));
    expect(r.outcome).toBe("SIGBUS");
    expect(kinds(w)).toEqual({ "device-private": PAGES_2M });
    expect(w.events.find((e) => e.ev.kind === "migrate_to_ram.end")!.ev).toEqual({ kind: "migrate_to_ram.end", ret: -Errno.ENOMEM, exit: "err_finalize:populate_ram_pfn" });
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("#27: a failed copy back is SIGBUS; the system pages are given back, the device pages stay", () => {
    const w = inDeviceMemory({ faults: { copy_to_ram: { nth: [1] } } }, 0);
    const r = runThread(w, cpuAccess(w.k, w.mm, BASE, "read"));
    expect(r.outcome).toBe("SIGBUS");
    expect(kinds(w)).toEqual({ "device-private": PAGES_2M });
    expect(w.k.state.allocatedPages).toEqual({ system: 0, device: PAGES_2M });
    expect(w.dma.live).toBe(0);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("#23 #25: the window is the allocation's size aligned, clamped to the VMA, and only the faulting zdd's pages move", () => {
    const w = pagemapWorld();
    const rets = runThread(w, (function* (): ProcessBody<number[]> {
      yield* mapAnon(w, 4 * MB);
      yield* touch(w, BASE, 4 * MB);
      // B: 512 KiB at BASE; A: 1 MiB at BASE + 512 KiB, not aligned to its own size.
      const b = yield* populateMm(w.p, w.dev.dpagemap, BASE, BASE + MB / 2, w.mm, 0);
      const a = yield* populateMm(w.p, w.dev.dpagemap, BASE + MB / 2, BASE + (3 * MB) / 2, w.mm, 0);
      return [b, a];
    })(), "gpu");
    expect(rets).toEqual([0, 0]);
    runThread(w, cpuAccess(w.k, w.mm, BASE + MB / 2 + 10 * PAGE_SIZE, "read"));
    // A's window is ALIGN_DOWN(addr, 1 MiB) .. +1 MiB = [BASE, BASE + 1 MiB): B's pages are in it
    // but filtered out by zdd; A's pages past BASE + 1 MiB are outside it and stay on the device.
    expect(kinds(w, BASE, MB / 2)).toEqual({ "device-private": 128 });
    expect(kinds(w, BASE + MB / 2, MB / 2)).toEqual({ present: 128 });
    expect(kinds(w, BASE + MB, MB / 2)).toEqual({ "device-private": 128 });
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("re-faults while another thread holds the device page's lock (seed do_swap_page trylock)", () => {
    const w = inDeviceMemory({}, 0);
    const dev = w.k.state.mms.get(w.mm)!.ptes.get(BASE / PAGE_SIZE)!.folio;
    let r: AccessResult | undefined;
    w.engine.spawn("holder", (function* (): ProcessBody {
      folioTrylock(w.k, dev);
      yield spin(20_000);
      folioUnlock(w.k, dev);
    })());
    w.engine.spawn("cpu", (function* (): ProcessBody {
      r = yield* cpuAccess(w.k, w.mm, BASE, "read");
    })());
    w.engine.run();
    expect(r!.outcome).toBe("ok");
    expect(r!.faults).toBeGreaterThan(10);
  });
});

describe("drm_pagemap_evict_to_ram", () => {
  it("#28: moves every page back without the mmap lock; success is `detached`", () => {
    const w = inDeviceMemory({}, 1000);
    const ret = runThread(w, evictToRam(w.p, 0), "workqueue");
    expect(ret).toBe(0);
    expect(kinds(w)).toEqual({ present: PAGES_2M });
    expect(w.p.state.devmems.get(0)!.detached).toBe(true);
    // Eviction ignores the timeslice: no spin was recorded.
    expect(w.events.some((e) => e.ev.kind === "cpu_fault.timeslice_spin")).toBe(false);
    const r = runThread(w, cpuAccess(w.k, w.mm, BASE + PAGE_SIZE, "read"));
    expect([r.outcome, r.version, r.faults]).toEqual(["ok", 1, 0]);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("#28: three attempts, then -EBUSY, while a device page stays locked by someone else", () => {
    const w = inDeviceMemory({}, 0);
    const dev = w.k.state.mms.get(w.mm)!.ptes.get(BASE / PAGE_SIZE)!.folio;
    let ret = 0;
    w.engine.spawn("holder", (function* (): ProcessBody {
      folioTrylock(w.k, dev);
      yield sleep(1_000_000_000);
      folioUnlock(w.k, dev);
    })());
    w.engine.spawn("evict", (function* (): ProcessBody {
      ret = yield* evictToRam(w.p, 0);
    })(), "workqueue");
    w.engine.run();
    expect(ret).toBe(-Errno.EBUSY);
    expect(w.events.filter((e) => e.ev.kind === "mmget").length).toBeGreaterThanOrEqual(3);
    expect(kinds(w, BASE, PAGE_SIZE)).toEqual({ "device-private": 1 });
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("#28: -EFAULT at once when the process has exited", () => {
    const w = inDeviceMemory({}, 0);
    const ret = runThread(w, (function* (): ProcessBody<number> {
      w.k.commit({ kind: "mmget", mm: w.mm }); // a driver reference keeps the mm struct around
      yield* mmput(w.k, w.mm);
      w.k.commit({ kind: "mmput", mm: w.mm }); // the process exits
      return yield* evictToRam(w.p, 0);
    })());
    expect(ret).toBe(-Errno.EFAULT);
  });
});

describe("drm_pagemap_populate_mm and teardown", () => {
  it("#29: -EFAULT once the process has exited; -ENODEV once the device is unbound (#32)", () => {
    const w = pagemapWorld();
    const rets = runThread(w, (function* (): ProcessBody<number[]> {
      yield* mapAnon(w);
      w.dev.unbind();
      const unbound = yield* populateMm(w.p, w.dev.dpagemap, BASE, BASE + 2 * MB, w.mm, 0);
      yield* mmput(w.k, w.mm);
      const exited = yield* populateMm(w.p, w.dev.dpagemap, BASE, BASE + 2 * MB, w.mm, 0);
      return [unbound, exited];
    })(), "gpu");
    expect(rets).toEqual([-Errno.ENODEV, -Errno.EFAULT]);
  });

  it("process exit frees every device page: the allocation detaches and its memory is released", () => {
    const w = inDeviceMemory({ release: "async" }, 1000);
    runThread(w, mmput(w.k, w.mm));
    expect(w.k.state.allocatedPages).toEqual({ system: 0, device: 0 });
    expect(w.p.state.devmems.get(0)!.released).toBe(true);
    expect(w.dev.freeVramPages).toBe(4096);
    expect(checkModelInvariants(w.p.state, { afterTeardown: true })).toEqual([]);
  });

  it("munmap of device memory frees the device pages in the unmapping thread", () => {
    const w = inDeviceMemory({}, 1000);
    runThread(w, munmap(w.k, w.mm, BASE, 2 * MB));
    expect(w.k.state.allocatedPages.device).toBe(0);
    expect(w.p.state.devmems.get(0)!.detached).toBe(true);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });
});

describe("#2: where device memory is released when the last page goes", () => {
  /** Drops the last reference of every device page from an interrupt handler. */
  function irqFreesLastPage(options: WorldOptions): World {
    const w = inDeviceMemory(options, 1000);
    const ptes = w.k.state.mms.get(w.mm)!.ptes;
    const folios = [...ptes.values()].map((p) => p.folio);
    runThread(w, (function* (): ProcessBody {
      // The IRQ (e.g. a DMA completion) holds a reference on each page, then unmap drops the
      // mappings' ones, leaving the IRQ's as the last.
      for (const f of folios) w.k.commit({ kind: "folio.get", folio: f });
      yield* munmap(w.k, w.mm, BASE, 2 * MB);
    })());
    runThread(w, (function* (): ProcessBody {
      for (const f of folios) yield* folioPut(w.k, f);
    })(), "irq");
    return w;
  }

  it("seed inline destroy + a synchronous driver release in IRQ context: a context violation", () => {
    const w = irqFreesLastPage({ zddRelease: "inline", release: "sync" });
    expect(w.engine.contextViolations.map((v) => [v.op, v.ctx])).toEqual([["xe_bo_put", "irq"]]);
    expect(w.p.state.devmems.get(0)!.released).toBe(true);
  });

  it("seed inline destroy + Xe's deferred BO put: legal, the memory is released by a worker", () => {
    const w = irqFreesLastPage({ zddRelease: "inline", release: "async" });
    expect(w.engine.contextViolations).toEqual([]);
    const release = w.events.find((e) => e.ev.kind === "devmem.release")!;
    expect(release.ctx).toBe("workqueue");
  });

  it("deferred zdd destroy: detached completes in a worker, not in the interrupt", () => {
    const w = irqFreesLastPage({ zddRelease: "deferred", release: "sync" });
    expect(w.engine.contextViolations).toEqual([]);
    const detach = w.events.find((e) => e.ev.kind === "devmem.detach")!;
    expect(detach.ctx).toBe("workqueue");
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });
});
