import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sleep, spin, type ProcessBody } from "../src/engine/index.ts";
import { Errno, PAGE_SIZE } from "../src/kernel/constants.ts";
import { cpuAccess } from "../src/kernel/fault.ts";
import { folioPut, folioTrylock, folioUnlock } from "../src/kernel/folio.ts";
import { mmap, mmput } from "../src/kernel/mm.ts";
import { devmemInit } from "../src/pagemap/devmem.ts";
import { evictToRam } from "../src/pagemap/evict-to-ram.ts";
import { PAGEMAP_EXITS } from "../src/pagemap/exits.ts";
import { migrateToDevmem } from "../src/pagemap/migrate-to-devmem.ts";
import { migrateToRamInner } from "../src/pagemap/migrate-to-ram.ts";
import type { DrmPagemapDevmemOps } from "../src/pagemap/ops.ts";
import { populateMm } from "../src/pagemap/populate-mm.ts";
import type { FaultPlan } from "../src/faults/injector.ts";
import { readEventRows } from "../src/record/reader.ts";
import { recordRun } from "../src/record/run-dir.ts";
import { verifyRun } from "../src/record/verify.ts";
import { loadWorkload, parseWorkload } from "../src/workload/load.ts";
import { runLogged } from "./support/fault-workload.ts";
import { BASE, MB, mapAnon, pagemapWorld, runThread, type World, type WorldOptions } from "./support/pagemap-world.ts";

// Every exit of the four logged drm_pagemap functions that a run can reach names itself on the
// function's `.end` event (src/pagemap/exits.ts), each driven here by a fault point, a
// precondition or a race.

const PAGES_2M = (2 * MB) / PAGE_SIZE;
const VARIANTS = ["seed", "newest"] as const;

type Fn = "migrate_to_devmem" | "migrate_to_ram" | "evict_to_ram" | "populate_mm";

/** The `.end` events of fn, in order: [ret, exit]. */
function ends(w: World, fn: Fn): [number, string][] {
  return w.events.filter((e) => e.ev.kind === `${fn}.end`).map((e) => {
    const ev = e.ev as { ret: number; exit: string };
    return [ev.ret, ev.exit];
  });
}

function* touch(w: World, start = BASE, size = 2 * MB): ProcessBody<void> {
  for (let off = 0; off < size; off += PAGE_SIZE) yield* cpuAccess(w.k, w.mm, start + off, "write");
}

function* populate(w: World, start = BASE, end = BASE + 2 * MB, timesliceMs = 0): ProcessBody<number> {
  return yield* populateMm(w.p, w.dev.dpagemap, start, end, w.mm, timesliceMs);
}

/** A world with 2 MiB mapped and written at BASE. */
function written(options: WorldOptions = {}): World {
  const w = pagemapWorld(options);
  runThread(w, (function* (): ProcessBody {
    yield* mapAnon(w);
    yield* touch(w);
  })());
  return w;
}

/** A world whose 2 MiB at BASE was migrated to device memory (allocation 0). */
function inDevice(options: WorldOptions = {}): World {
  const w = written(options);
  expect(runThread(w, populate(w), "gpu")).toBe(0);
  return w;
}

/** A devmem over fresh VRAM pfns with the given ops, as a driver would set one up. */
function devmemWith(w: World, ops: DrmPagemapDevmemOps, pages = PAGES_2M): number {
  const pfns = Array.from({ length: pages }, (_, i) => 100_000 + i);
  return devmemInit(w.p, { dpagemap: w.dev.dpagemap, mm: w.mm, sizeBytes: pages * PAGE_SIZE, pfns, ops });
}

const ALL_OPS: DrmPagemapDevmemOps = {
  populateDevmemPfn: function* (_devmem, npages, pfns) {
    for (let i = 0; i < npages; i++) pfns[i] = 100_000 + i;
    return 0;
  },
  copyToDevmem: function* () { return 0; },
  copyToRam: function* () { return 0; },
};

function* underReadLock<T>(w: World, body: ProcessBody<T>): ProcessBody<T> {
  const lock = w.k.mmapLock(w.mm);
  yield lock.downRead();
  const r = yield* body;
  lock.upRead();
  return r;
}

/** Asserts each label is in the catalogue for that variant (so coverage can list it). */
function expectCatalogued(fn: Fn, variant: "seed" | "newest", exit: string): void {
  for (const label of exit.split(";")) {
    const def = PAGEMAP_EXITS[fn].find((d) => d.label === label);
    expect(def, `${fn}:${label}`).toBeDefined();
    expect(def!.variants, `${fn}:${label}`).toContain(variant);
  }
}

describe("drm_pagemap_migrate_to_devmem: its exit on migrate_to_devmem.end", () => {
  it("eopnotsupp: the driver lacks copy_to_ram", () => {
    const w = written();
    const devmem = devmemWith(w, { populateDevmemPfn: ALL_OPS.populateDevmemPfn!, copyToDevmem: ALL_OPS.copyToDevmem! });
    runThread(w, underReadLock(w, migrateToDevmem(w.p, devmem, w.mm, BASE, BASE + 2 * MB, 0, 1)));
    expect(ends(w, "migrate_to_devmem")).toEqual([[-Errno.EOPNOTSUPP, "eopnotsupp"]]);
  });

  it("err_out: no VMA, outside the VMA, not anonymous (a file mapping); populate_mm passes the driver's errno on", () => {
    for (const variant of VARIANTS) {
      const w = written({ variant });
      runThread(w, (function* (): ProcessBody {
        yield* mmap(w.k, w.mm, { addr: BASE + 4 * MB, lengthBytes: 2 * MB, kind: "file", read: true, write: true });
        yield* populate(w, BASE + 16 * MB, BASE + 18 * MB);
        yield* populate(w, BASE + MB, BASE + 3 * MB);
        yield* populate(w, BASE + 4 * MB, BASE + 6 * MB);
      })(), "gpu");
      expect(ends(w, "migrate_to_devmem"), variant).toEqual([
        [-Errno.ENOENT, "err_out:no_vma"],
        [-Errno.EINVAL, "err_out:outside_vma"],
        [-Errno.EBUSY, "err_out:not_anonymous"],
      ]);
      expect(ends(w, "populate_mm"), variant).toEqual([
        [-Errno.ENOENT, "driver:ENOENT"],
        [-Errno.EINVAL, "driver:EINVAL"],
        [-Errno.EBUSY, "driver:EBUSY"],
      ]);
      for (const [, exit] of [...ends(w, "migrate_to_devmem")]) expectCatalogued("migrate_to_devmem", variant, exit);
    }
  });

  it("kvcalloc: err_out; zdd_alloc: err_free on the seed, err_out on newest (kvfree, then err_out)", () => {
    const expected = { seed: "err_free:zdd_alloc", newest: "err_out:zdd_alloc" } as const;
    for (const variant of VARIANTS) {
      for (const point of ["kvcalloc", "zdd_alloc"] as const) {
        const w = written({ variant, faults: { [point]: { nth: [1] } } });
        runThread(w, populate(w), "gpu");
        const exit = point === "kvcalloc" ? "err_out:kvcalloc" : expected[variant];
        expect(ends(w, "migrate_to_devmem"), `${variant} ${point}`).toEqual([[-Errno.ENOMEM, exit]]);
        expectCatalogued("migrate_to_devmem", variant, exit);
      }
    }
  });

  it("err_free:setup: migrate_vma_setup refuses an empty range (start == end)", () => {
    for (const variant of VARIANTS) {
      const w = written({ variant });
      const devmem = devmemWith(w, ALL_OPS);
      runThread(w, underReadLock(w, migrateToDevmem(w.p, devmem, w.mm, BASE, BASE, 0, 1)));
      expect(ends(w, "migrate_to_devmem"), variant).toEqual([[-Errno.EINVAL, "err_free:setup"]]);
    }
  });

  it("err_free:no_cpages: the range is already in device memory (-EFAULT seed, -EBUSY newest)", () => {
    for (const [variant, ret] of [["seed", -Errno.EFAULT], ["newest", -Errno.EBUSY]] as const) {
      const w = inDevice({ variant });
      runThread(w, populate(w), "gpu");
      expect(ends(w, "migrate_to_devmem"), variant).toEqual([[0, "ok"], [ret, "err_free:no_cpages"]]);
      expect(ends(w, "populate_mm"), variant).toEqual([[0, "ok"], [ret, variant === "seed" ? "driver:EFAULT" : "driver:EBUSY"]]);
    }
  });

  it("cpages short (a pinned page): err_finalize on the seed, err_aborted_migration on newest", () => {
    for (const [variant, exit] of [["seed", "err_finalize:cpages_short"], ["newest", "err_aborted_migration:cpages_short"]] as const) {
      const w = written({ variant });
      const folio = w.k.state.mms.get(w.mm)!.ptes.get(BASE / PAGE_SIZE + 7)!.folio;
      runThread(w, (function* (): ProcessBody {
        w.k.commit({ kind: "folio.pin", folio });
        yield* populate(w);
      })(), "gpu");
      expect(ends(w, "migrate_to_devmem"), variant).toEqual([[-Errno.EBUSY, exit]]);
      expectCatalogued("migrate_to_devmem", variant, exit);
    }
  });

  it("populate_devmem_pfn fails: err_finalize on the seed, err_aborted_migration on newest", () => {
    for (const [variant, exit] of [["seed", "err_finalize:populate_devmem_pfn"], ["newest", "err_aborted_migration:populate_devmem_pfn"]] as const) {
      const w = written({ variant });
      const devmem = devmemWith(w, { ...ALL_OPS, populateDevmemPfn: function* () { return -Errno.ENOMEM; } });
      runThread(w, underReadLock(w, migrateToDevmem(w.p, devmem, w.mm, BASE, BASE + 2 * MB, 0, 1)));
      expect(ends(w, "migrate_to_devmem"), variant).toEqual([[-Errno.ENOMEM, exit]]);
      expectCatalogued("migrate_to_devmem", variant, exit);
    }
  });

  it("err_finalize: the DMA map fails, the copy fails", () => {
    for (const variant of VARIANTS) {
      for (const [point, nth, ret, exit] of [
        ["dma_map", 3, -Errno.EFAULT, "err_finalize:map_pages"],
        ["copy_to_devmem", 1, -Errno.EIO, "err_finalize:copy_to_devmem"],
      ] as const) {
        const w = written({ variant, faults: { [point]: { nth: [nth] } } });
        runThread(w, populate(w), "gpu");
        expect(ends(w, "migrate_to_devmem"), `${variant} ${point}`).toEqual([[ret, exit]]);
        expect(ends(w, "populate_mm"), `${variant} ${point}`).toEqual([[ret, `driver:${ret === -Errno.EIO ? "EIO" : "EFAULT"}`]]);
      }
    }
  });

  it("err_finalize:devmem_pages (newest, deviceThp): VRAM pfns that are not one aligned 2 MiB block", () => {
    const w = pagemapWorld({ variant: "newest", thp: "always", deviceThp: true });
    runThread(w, (function* (): ProcessBody {
      yield* mapAnon(w, 4 * MB);
      yield* populate(w, BASE + 3 * MB, BASE + 3 * MB + PAGE_SIZE); // takes pfn 0: the next 512 start at 1
      yield* populate(w, BASE, BASE + 2 * MB);
    })(), "gpu");
    expect(ends(w, "migrate_to_devmem")).toEqual([[0, "ok"], [-Errno.ENOMEM, "err_finalize:devmem_pages"]]);
  });

  it("raced_finalizing (newest): a page gains a reference during the copy; the seed reports ok", () => {
    for (const [variant, ret, exit] of [["seed", 0, "ok"], ["newest", -Errno.EBUSY, "raced_finalizing"]] as const) {
      const w = written({ variant });
      const victim = w.k.state.mms.get(w.mm)!.ptes.get(BASE / PAGE_SIZE + 3)!.folio;
      w.engine.spawn("gpu", populate(w), "gpu");
      w.engine.spawn("gup", (function* (): ProcessBody {
        yield sleep(Math.floor(PAGES_2M * 200 + 512 * 500 * 0.5)); // while the copy engine is busy
        w.k.commit({ kind: "folio.get", folio: victim });
        yield spin(1);
      })());
      w.engine.run();
      expect(ends(w, "migrate_to_devmem"), variant).toEqual([[ret, exit]]);
    }
  });
});

describe("__drm_pagemap_migrate_to_ram: its exit on migrate_to_ram.end", () => {
  it("ok, and each fault point on the way back", () => {
    for (const [faults, ret, exit] of [
      [{}, 0, "ok"],
      [{ kvcalloc: { nth: [2] } }, -Errno.ENOMEM, "err_out:kvcalloc"],
      [{ folio_alloc_order0: { nth: [PAGES_2M + 10] } }, -Errno.ENOMEM, "err_finalize:populate_ram_pfn"],
      [{ dma_map: { nth: [PAGES_2M + 1] } }, -Errno.EFAULT, "err_finalize:map_pages"],
      [{ copy_to_ram: { nth: [1] } }, -Errno.EIO, "err_finalize:copy_to_ram"],
    ] as [FaultPlan, number, string][]) {
      const w = inDevice({ faults });
      runThread(w, cpuAccess(w.k, w.mm, BASE, "read"));
      expect(ends(w, "migrate_to_ram")[0], exit).toEqual([ret, exit]);
    }
  });

  it("err_free:no_cpages: the only page of the allocation has references beyond its mappings (returns 0, the CPU faults again until they go)", () => {
    const w = written();
    expect(runThread(w, populate(w, BASE, BASE + PAGE_SIZE), "gpu")).toBe(0);
    const dev = w.k.state.mms.get(w.mm)!.ptes.get(BASE / PAGE_SIZE)!.folio;
    w.engine.spawn("holder", (function* (): ProcessBody {
      // Two references: migrate_vma_check_page lets one stray device-page reference through.
      w.k.commit({ kind: "folio.get", folio: dev });
      w.k.commit({ kind: "folio.get", folio: dev });
      yield sleep(20_000);
      yield* folioPut(w.k, dev);
      yield* folioPut(w.k, dev);
    })());
    w.engine.spawn("cpu", cpuAccess(w.k, w.mm, BASE, "read"));
    w.engine.run();
    const exits = ends(w, "migrate_to_ram");
    expect(exits[0]).toEqual([0, "err_free:no_cpages"]);
    expect(exits.at(-1)).toEqual([0, "ok"]);
  });

  it("err_free:setup, only by a caller breaking the contract: a fault page nobody locked (migrate_vma_setup -EINVAL)", () => {
    const w = inDevice();
    const pte = w.k.state.mms.get(w.mm)!.ptes.get(BASE / PAGE_SIZE)!;
    const vma = [...w.k.state.vmas.values()].find((v) => v.mm === w.mm)!;
    const fault = { mm: w.mm, vma: vma.id, addr: BASE, folio: pte.folio, index: pte.index };
    runThread(w, migrateToRamInner(w.p, fault, 1, 2 * MB));
    expect(ends(w, "migrate_to_ram")).toEqual([[-Errno.EINVAL, "err_free:setup"]]);
  });
});

describe("drm_pagemap_evict_to_ram: every attempt's exit, then the outcome", () => {
  it("ok;detached, and an attempt that fails followed by one that succeeds", () => {
    for (const [faults, exit] of [
      [{}, "ok;detached"],
      [{ kvcalloc: { nth: [2] } }, "err_out:kvcalloc;ok;detached"],
      [{ folio_alloc_order0: { nth: [PAGES_2M + 1] } }, "err_finalize:populate_ram_pfn;ok;detached"],
      [{ dma_map: { nth: [PAGES_2M + 1] } }, "err_finalize:map_pages;ok;detached"],
      [{ copy_to_ram: { nth: [1] } }, "err_finalize:copy_to_ram;ok;detached"],
    ] as [FaultPlan, string][]) {
      const w = inDevice({ faults });
      runThread(w, evictToRam(w.p, 0), "workqueue");
      expect(ends(w, "evict_to_ram"), exit).toEqual([[0, exit]]);
      expectCatalogued("evict_to_ram", "seed", exit);
    }
  });

  it("retries_exhausted: one device page stays locked (the others move, then nothing can)", () => {
    const w = inDevice();
    const dev = w.k.state.mms.get(w.mm)!.ptes.get(BASE / PAGE_SIZE)!.folio;
    w.engine.spawn("holder", (function* (): ProcessBody {
      folioTrylock(w.k, dev);
      yield sleep(1_000_000_000);
      folioUnlock(w.k, dev);
    })());
    w.engine.spawn("evict", evictToRam(w.p, 0), "workqueue");
    w.engine.run();
    expect(ends(w, "evict_to_ram")).toEqual([[-Errno.EBUSY, "ok;err_finalize:no_mpages;err_finalize:no_mpages;retries_exhausted"]]);
  });

  it("err_free:populate_devmem_pfn three times, then retries_exhausted with its error", () => {
    const w = written();
    const devmem = devmemWith(w, { ...ALL_OPS, populateDevmemPfn: function* () { return -Errno.ENOMEM; } });
    runThread(w, evictToRam(w.p, devmem), "workqueue");
    expect(ends(w, "evict_to_ram")).toEqual([[-Errno.ENOMEM, "err_free:populate_devmem_pfn;err_free:populate_devmem_pfn;err_free:populate_devmem_pfn;retries_exhausted"]]);
  });

  it("mmget_failed: the process has exited", () => {
    const w = inDevice();
    runThread(w, (function* (): ProcessBody {
      w.k.commit({ kind: "mmget", mm: w.mm }); // a driver reference keeps the mm struct around
      yield* mmput(w.k, w.mm);
      w.k.commit({ kind: "mmput", mm: w.mm }); // the process exits
      yield* evictToRam(w.p, 0);
    })());
    expect(ends(w, "evict_to_ram")).toEqual([[-Errno.EFAULT, "mmget_failed"]]);
  });
});

describe("drm_pagemap_populate_mm: its exit on populate_mm.end", () => {
  it("ok; driver:ENOMEM (no VRAM); driver:ENODEV (unbound); mmget_failed (exited)", () => {
    const w = written({ faults: { vram_alloc: { nth: [2] } } });
    runThread(w, (function* (): ProcessBody {
      yield* populate(w, BASE, BASE + MB);
      yield* populate(w, BASE + MB, BASE + 2 * MB);
      w.dev.unbind();
      yield* populate(w, BASE + MB, BASE + 2 * MB);
      yield* mmput(w.k, w.mm);
      yield* populate(w, BASE + MB, BASE + 2 * MB);
    })(), "gpu");
    expect(ends(w, "populate_mm")).toEqual([
      [0, "ok"],
      [-Errno.ENOMEM, "driver:ENOMEM"],
      [-Errno.ENODEV, "driver:ENODEV"],
      [-Errno.EFAULT, "mmget_failed"],
    ]);
  });
});

describe("through a workload file (faults: rules, mappings:)", () => {
  it("a file mapping gives err_out:not_anonymous; a copy_to_devmem fault rule gives err_finalize:copy_to_devmem", () => {
    const yaml = (mapping: string, faults: string) => `description: exit labels
seed: 1
platform: xe-pcie4x8-iommu
${faults}mappings:
  - { addr: 0x40000000, size: 2MiB${mapping} }
threads:
  - name: gpu0
    ctx: gpu
    steps:
      - { op: populate, start: 0x40000000, end: 0x40200000 }
`;
    const file = runLogged(parseWorkload(yaml(", kind: file", ""), "workloads/exit-labels-test.yaml"));
    expect(file.events.filter((e) => e.kind === "migrate_to_devmem.end").map((e) => e.exit)).toEqual(["err_out:not_anonymous"]);
    const copy = runLogged(parseWorkload(yaml("", "faults: { copy_to_devmem: { nth: [1] } }\n"), "workloads/exit-labels-test.yaml"));
    expect(copy.events.filter((e) => e.kind === "migrate_to_devmem.end").map((e) => e.exit)).toEqual(["err_finalize:copy_to_devmem"]);
  });

  it("a bundled workload's migrations and evictions all carry an exit", () => {
    const { events } = runLogged(loadWorkload("workloads/vram-oversubscription.yaml"));
    const exits = events.filter((e) => e.kind.endsWith(".end") && ["migrate_to_devmem", "migrate_to_ram", "evict_to_ram", "populate_mm"].includes(e.kind.slice(0, -4)));
    expect(exits.some((e) => e.kind === "evict_to_ram.end")).toBe(true);
    for (const e of exits) expect(typeof e.exit, e.kind).toBe("string");
  });

  it("the exit is recorded in events.arrow's `what` column, reads back, and the run verifies", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "pagesim-exits-"));
    try {
      const file = "workloads/dma-map-failure.yaml";
      const { dir } = await recordRun({ file, workload: loadWorkload(file), outDir: join(tmp, "run"), sinks: ["arrow"] });
      const { events } = runLogged(loadWorkload(file));
      const inMemory = events.filter((e) => e.kind.endsWith(".end") && typeof e.exit === "string").map((e) => [e.kind, e.exit]);
      const onDisk: [string, unknown][] = [];
      for await (const row of readEventRows(join(dir, "events.arrow"))) if (row.values.what !== undefined && row.kind !== "kernel.bug") onDisk.push([row.kind, row.values.what]);
      expect(inMemory.some(([, exit]) => exit === "err_finalize:map_pages")).toBe(true);
      expect(onDisk).toEqual(inMemory);
      expect((await verifyRun(dir)).divergence).toBeNull();
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
