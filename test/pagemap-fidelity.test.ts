import { describe, it, expect } from "vitest";
import { sleep, spin, type ProcessBody } from "../src/engine/index.ts";
import { Errno, PAGE_SIZE } from "../src/kernel/constants.ts";
import { cpuAccess } from "../src/kernel/fault.ts";
import { devmemInit, pageToDpagemap } from "../src/pagemap/devmem.ts";
import { migrateToDevmem } from "../src/pagemap/migrate-to-devmem.ts";
import { populateMm } from "../src/pagemap/populate-mm.ts";
import type { DrmPagemapDevmemOps } from "../src/pagemap/ops.ts";
import { checkModelInvariants } from "../src/check/pagemap-invariants.ts";
import { BASE, MB, mapAnon, pagemapWorld, runThread, type World, type WorldOptions } from "./support/pagemap-world.ts";

const PAGES_2M = (2 * MB) / PAGE_SIZE;

function* touch(w: World, size = 2 * MB): ProcessBody<void> {
  for (let off = 0; off < size; off += PAGE_SIZE) yield* cpuAccess(w.k, w.mm, BASE + off, "write");
}

/** A devmem over fresh VRAM pfns with the given ops, as a driver would set one up. */
function devmemWith(w: World, ops: DrmPagemapDevmemOps, pages = PAGES_2M): number {
  const pfns = Array.from({ length: pages }, (_, i) => 100_000 + i);
  return devmemInit(w.p, { dpagemap: w.dev.dpagemap, mm: w.mm, sizeBytes: pages * PAGE_SIZE, pfns, ops });
}

function* underReadLock<T>(w: World, body: ProcessBody<T>): ProcessBody<T> {
  const lock = w.k.mmapLock(w.mm);
  yield lock.downRead();
  const r = yield* body;
  lock.upRead();
  return r;
}

function fresh(options: WorldOptions = {}): World {
  const w = pagemapWorld(options);
  runThread(w, (function* (): ProcessBody {
    yield* mapAnon(w);
    yield* touch(w);
  })());
  return w;
}

describe("drm_pagemap_migrate_to_devmem: remaining seed behaviours", () => {
  it("#5: refuses to run without the mmap lock held", () => {
    const w = fresh();
    const devmem = devmemWith(w, {});
    expect(() => runThread(w, migrateToDevmem(w.p, devmem, w.mm, BASE, BASE + 2 * MB, 0, 1))).toThrow(/mmap lock of mm 0 not held/);
  });

  it("#6: -EOPNOTSUPP when the driver lacks populate_devmem_pfn, copy_to_devmem or copy_to_ram", () => {
    const w = fresh();
    const devmem = devmemWith(w, { populateDevmemPfn: function* () { return 0; }, copyToDevmem: function* () { return 0; } });
    const ret = runThread(w, underReadLock(w, migrateToDevmem(w.p, devmem, w.mm, BASE, BASE + 2 * MB, 0, 1)));
    expect(ret).toBe(-Errno.EOPNOTSUPP);
  });

  it("#14: a populate_devmem_pfn failure aborts through err_finalize, restoring every entry", () => {
    const w = fresh();
    const devmem = devmemWith(w, {
      populateDevmemPfn: function* () { return -Errno.ENOMEM; },
      copyToDevmem: function* () { return 0; },
      copyToRam: function* () { return 0; },
    });
    const ret = runThread(w, underReadLock(w, migrateToDevmem(w.p, devmem, w.mm, BASE, BASE + 2 * MB, 0, 1)));
    expect(ret).toBe(-Errno.ENOMEM);
    expect(w.k.state.allocatedPages).toEqual({ system: PAGES_2M, device: 0 });
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("#19: on a copy failure the unwind runs in the kernel's order: device pages put, then finalize, then DMA unmap, then the creator's zdd put", () => {
    const w = fresh({ faults: { copy_to_devmem: { nth: [1] } } });
    runThread(w, populateMm(w.p, w.dev.dpagemap, BASE, BASE + 2 * MB, w.mm, 0), "gpu");
    const after = w.events.slice(w.events.findIndex((e) => e.ev.kind === "migrate_to_devmem.begin"));
    const firstIndex = (pred: (k: string) => boolean): number => after.findIndex((e) => pred(e.ev.kind));
    const lastIndex = (pred: (k: string) => boolean): number => after.length - 1 - [...after].reverse().findIndex((e) => pred(e.ev.kind));
    const lastZddPut = lastIndex((k) => k === "zdd.put");
    const firstRestore = after.findIndex((e) => e.ev.kind === "pte.set" && e.ev.pteKind === "present");
    const firstUnmap = firstIndex((k) => k === "dma.unmap");
    const creatorPut = after.findIndex((e) => e.ev.kind === "zdd.put" && e.ev.holder === "creator");
    const firstPagePut = after.findIndex((e) => e.ev.kind === "zdd.put" && e.ev.holder === "page");
    expect(firstPagePut).toBeGreaterThan(-1);
    expect(firstPagePut).toBeLessThan(firstRestore);
    expect(firstRestore).toBeLessThan(firstUnmap);
    expect(firstUnmap).toBeLessThan(creatorPut);
    expect(lastZddPut).toBe(creatorPut);
  });

  it("#30 #31: each allocation has its own `detached`; page_to_dpagemap goes through the zdd", () => {
    const w = fresh();
    expect(runThread(w, populateMm(w.p, w.dev.dpagemap, BASE, BASE + 2 * MB, w.mm, 0), "gpu")).toBe(0);
    const dev = w.k.state.mms.get(w.mm)!.ptes.get(BASE / PAGE_SIZE)!.folio;
    expect(pageToDpagemap(w.p, dev)).toBe(w.dev.dpagemap);
    const other = devmemWith(w, {}, 4);
    expect(w.p.detached(other)).not.toBe(w.p.detached(0));
    expect(w.p.detached(other).done).toBe(false);
  });

  it("#32: device unbind: new populations fail with -ENODEV, every device page comes back, no data is lost", () => {
    const w = fresh();
    expect(runThread(w, populateMm(w.p, w.dev.dpagemap, BASE, BASE + 2 * MB, w.mm, 10_000), "gpu")).toBe(0);
    const failed = runThread(w, w.dev.unbindAndEvict(), "workqueue");
    expect(failed).toEqual([]);
    expect(w.k.state.allocatedPages.device).toBe(0);
    const rets = runThread(w, (function* (): ProcessBody<number[]> {
      const again = yield* populateMm(w.p, w.dev.dpagemap, BASE, BASE + 2 * MB, w.mm, 0);
      const read = yield* cpuAccess(w.k, w.mm, BASE + 100 * PAGE_SIZE, "read");
      return [again, read.version, read.faults];
    })(), "gpu");
    expect(rets).toEqual([-Errno.ENODEV, 1, 0]);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });
});

describe("newest-kernel variant (kernel-fidelity.md a.2)", () => {
  it("a.2 #4: an early error consumes the caller's devmem reference (released by drm_pagemap itself)", () => {
    for (const [variant, releasedByPagemap] of [
      ["seed", false],
      ["newest", true],
    ] as const) {
      const w = fresh({ variant });
      let released = 0;
      const devmem = devmemWith(w, {
        populateDevmemPfn: function* () { return 0; },
        copyToDevmem: function* () { return 0; },
        copyToRam: function* () { return 0; },
        devmemRelease: function* () { released++; },
      });
      const ret = runThread(w, underReadLock(w, migrateToDevmem(w.p, devmem, w.mm, BASE + 8 * MB, BASE + 10 * MB, 0, 1)));
      expect(ret).toBe(-Errno.ENOENT);
      expect(released, variant).toBe(releasedByPagemap ? 1 : 0);
    }
  });

  it("a.2 #7: a page that gains a reference during the copy is dropped by migrate_vma_pages; seed reports success, newest -EBUSY", () => {
    for (const [variant, expected] of [
      ["seed", 0],
      ["newest", -Errno.EBUSY],
    ] as const) {
      const w = fresh({ variant });
      const victim = w.k.state.mms.get(w.mm)!.ptes.get(BASE / PAGE_SIZE + 3)!.folio;
      let ret = 1;
      w.engine.spawn("gpu", (function* (): ProcessBody {
        ret = yield* populateMm(w.p, w.dev.dpagemap, BASE, BASE + 2 * MB, w.mm, 0);
      })(), "gpu");
      w.engine.spawn("gup", (function* (): ProcessBody {
        // Lands while the copy engine is busy: after collection, before migrate_vma_pages.
        yield sleep(Math.floor(PAGES_2M * 200 + 512 * 500 * 0.5));
        w.k.commit({ kind: "folio.get", folio: victim });
        yield spin(1);
      })());
      w.engine.run();
      expect(ret, variant).toBe(expected);
      // Either way the page was not moved: it is still a present system page.
      expect(w.k.state.mms.get(w.mm)!.ptes.get(BASE / PAGE_SIZE + 3)!.kind).toBe("present");
    }
  });
});
