import type { ProcessBody } from "../engine/index.ts";
import { Errno, HPAGE_PMD_ORDER, HPAGE_PMD_NR, nrPages, PAGE_SIZE } from "../kernel/constants.ts";
import { MIGRATE_VMA_SELECT_COMPOUND, MIGRATE_VMA_SELECT_SYSTEM, migrateVmaFinalize, migrateVmaPages, migrateVmaSetup, newMigrateVma, type MigrateVma } from "../kernel/migrate.ts";
import { mmOf } from "../kernel/mm.ts";
import { vmaIsAnonymous, vmaLookup } from "../kernel/state.ts";
import type { PagemapContext } from "./context.ts";
import type { MigrateToDevmemExit } from "./exits.ts";
import { getDevmemPage, migrateMapPages, migrateUnmapPages, migrationUnlockPutPages, NO_ADDR } from "./migrate-pages.ts";
import { newIovaState, type DevicePage, type PagemapAddr } from "./ops.ts";
import { zddAlloc, zddPut } from "./zdd.ts";

/** npages_in_range. */
export function npagesInRange(start: number, end: number): number {
  return Math.floor((end - start) / PAGE_SIZE);
}

/**
 * drm_pagemap_migrate_to_devmem: migrate [start, end) of `mm` into the device memory of
 * `devmem`, all or nothing. The caller holds the mmap lock (read) and a reference to `devmem`,
 * which this consumes on success (seed) or always (newest). Returns 0 or a negative errno.
 */
export function* migrateToDevmem(
  p: PagemapContext,
  devmem: number,
  mm: number,
  start: number,
  end: number,
  timesliceMs: number,
  pgmapOwner: number,
): ProcessBody<number> {
  p.commit({ kind: "migrate_to_devmem.begin", mm, start, end });
  const { ret, exit } = yield* migrateToDevmemSteps(p, devmem, mm, start, end, timesliceMs, pgmapOwner);
  p.commit({ kind: "migrate_to_devmem.end", ret, exit });
  return ret;
}

/** What the function returned, and the exit it left by (src/pagemap/exits.ts). */
interface DevmemExit {
  ret: number;
  exit: MigrateToDevmemExit;
}

function* migrateToDevmemSteps(
  p: PagemapContext,
  devmem: number,
  mm: number,
  start: number,
  end: number,
  timesliceMs: number,
  pgmapOwner: number,
): ProcessBody<DevmemExit> {
  const ops = p.devmemOps(devmem);
  const npages = npagesInRange(start, end);
  const newest = p.options.variant === "newest";

  // mmap_assert_locked(mm)
  if (!p.k.mmapLock(mm).isLocked) throw new Error(`migrate_to_devmem: mmap lock of mm ${mm} not held`);

  if (ops.populateDevmemPfn === undefined || ops.copyToDevmem === undefined || ops.copyToRam === undefined) {
    return { ret: -Errno.EOPNOTSUPP, exit: "eopnotsupp" };
  }

  // Early exits before anything is allocated (err_out). Newest kernels release the caller's devmem
  // reference here too (a.2 #4); the seed leaves it with the caller.
  const errOut = function* (ret: number, exit: MigrateToDevmemExit): ProcessBody<DevmemExit> {
    if (newest) yield* releaseDevmem(p, devmem);
    return { ret, exit };
  };

  const vas = vmaLookup(mmOf(p.k, mm), start);
  if (vas === undefined) return yield* errOut(-Errno.ENOENT, "err_out:no_vma");
  if (end > vas.endAddr || start < vas.startAddr) return yield* errOut(-Errno.EINVAL, "err_out:outside_vma");
  if (!vmaIsAnonymous(vas)) return yield* errOut(-Errno.EBUSY, "err_out:not_anonymous");

  // kvcalloc of src, dst, pagemap_addr and pages.
  if (p.fail("kvcalloc")) return yield* errOut(-Errno.ENOMEM, "err_out:kvcalloc");
  const addrs: PagemapAddr[] = new Array<PagemapAddr>(npages).fill(NO_ADDR);
  const iova = newIovaState(); // struct drm_pagemap_iova_state, one per migration
  const pages: DevicePage[] = new Array<DevicePage>(npages).fill({ folio: -1, index: 0 });
  const pfns: number[] = new Array<number>(npages).fill(-1);

  const zdd = zddAlloc(p, pgmapOwner);
  if (zdd === null && newest) return yield* errOut(-Errno.ENOMEM, "err_out:zdd_alloc"); // newest: kvfree, then err_out
  let err: number;
  let exit: MigrateToDevmemExit = "ok";
  // Newest kernels jump past err_finalize's put of dst pages where none exist yet: err_aborted_migration.
  const aborted = newest ? "err_aborted_migration" : "err_finalize";
  // Between populate_devmem_pfn and the loop that turns them into migrate pfns, dst holds raw
  // device pfns. An error in that window makes the seed's unlock_put_pages treat raw pfns as
  // migrate pfns (a NULL or wrong page); newest kernels convert each entry before any exit.
  let dstRawPfns = false;
  // model.deviceThp: Dugast's series adds SELECT_COMPOUND (newest only: the knob is refused with seed).
  const flags = MIGRATE_VMA_SELECT_SYSTEM | (p.options.deviceThp === true ? MIGRATE_VMA_SELECT_COMPOUND : 0);
  const migrate = newMigrateVma(mm, vas.id, start, end, flags, pgmapOwner);
  if (newest && zdd !== null) p.commit({ kind: "zdd.bind", zdd, devmem }); // bound before setup (a.2 #4)
  finalize: {
    if (zdd === null) {
      err = -Errno.ENOMEM;
      exit = "err_free:zdd_alloc";
      break finalize; // err_free
    }
    err = yield* migrateVmaSetup(p.k, migrate);
    if (err !== 0) {
      exit = "err_free:setup";
      break finalize; // err_free
    }
    if (migrate.cpages === 0) {
      err = newest ? -Errno.EBUSY : -Errno.EFAULT; // a.2 #5
      exit = "err_free:no_cpages";
      break finalize; // err_free
    }

    unwind: {
      if (cpagesOf(migrate) !== npages) {
        err = -Errno.EBUSY;
        exit = `${aborted}:cpages_short`;
        break unwind;
      }
      err = yield* ops.populateDevmemPfn(devmem, npages, pfns);
      dstRawPfns = pfns.some((pfn) => pfn !== -1);
      if (err !== 0) {
        exit = `${aborted}:populate_devmem_pfn`;
        break unwind;
      }
      err = yield* migrateMapPages(p, addrs, migrate.src, npages, "to_device", iova);
      if (err !== 0) {
        exit = "err_finalize:map_pages";
        break unwind;
      }
      dstRawPfns = false;

      const pagemap = p.state.dpagemaps.get(p.state.devmems.get(devmem)!.dpagemap)!.pagemap;
      err = yield* getDevmemPages(p, migrate, pfns, pages, pagemap, zdd);
      if (err !== 0) {
        exit = "err_finalize:devmem_pages";
        break unwind;
      }

      err = yield* ops.copyToDevmem(pages, addrs, npages);
      if (err !== 0) {
        exit = "err_finalize:copy_to_devmem";
        break unwind;
      }

      // Upon success: the timeslice stamp (per allocation, in jiffies) and the binding.
      const expiration = p.k.engine.jiffies.getJiffies64() + p.k.engine.jiffies.msecsToJiffies(timesliceMs);
      p.commit({ kind: "devmem.timeslice", devmem, expiration, timesliceMs });
      if (!newest) p.commit({ kind: "zdd.bind", zdd, devmem }); // now owns the devmem reference
    }

    // err_finalize
    if (err !== 0 && dstRawPfns && !newest) {
      p.commit({ kind: "kernel.bug", fn: "migrate_to_devmem", what: "unlock_put_pages on raw device pfns left by populate_devmem_pfn" });
    }
    if (err !== 0) yield* migrationUnlockPutPages(p, npages, migrate.dst);
    yield* migrateVmaPages(p.k, migrate);
    if (newest && err === 0) {
      err = racedWhileFinalizing(migrate);
      if (err !== 0) exit = "raced_finalizing";
    }
    yield* migrateVmaFinalize(p.k, migrate);
    yield* migrateUnmapPages(p, addrs, npages, "to_device", iova);
  }
  // err_free
  if (zdd !== null) yield* zddPut(p, zdd, "creator");
  return { ret: err, exit };
}

/**
 * drm_pagemap_cpages (Brost): the pages the collected entries stand for, a compound entry 512.
 * Without device THP every entry is one page and this is migrate.cpages.
 */
export function cpagesOf(migrate: { src: { migrate: boolean; compound?: boolean }[]; npages: number }): number {
  let pages = 0;
  for (let i = 0; i < migrate.npages; i++) {
    const s = migrate.src[i]!;
    if (s.migrate) pages += s.compound === true ? HPAGE_PMD_NR : 1;
  }
  return pages;
}

/**
 * The destination loop of drm_pagemap_migrate_to_devmem: a device folio per entry, of the
 * source's order (a compound entry gets an order-9 folio over the next 512 pfns, its dst word
 * marked compound and the next 511 left empty). zone_device_folio_init assumes those pfns are
 * one aligned contiguous block; when the allocation did not give one, the kernel as written
 * would make a folio of pfns it does not own: recorded as kernel.bug, and the migration fails as
 * a populate_devmem_pfn failure would (-ENOMEM, err_aborted_migration), rather than fall back.
 */
function* getDevmemPages(p: PagemapContext, migrate: MigrateVma, pfns: number[], pages: DevicePage[], pagemap: number, zdd: number): ProcessBody<number> {
  for (let i = 0; i < migrate.npages; ) {
    const compound = migrate.src[i]!.compound === true;
    const order = compound ? HPAGE_PMD_ORDER : 0;
    const n = nrPages(order);
    if (compound && !contiguousAligned(pfns, i, n)) {
      p.commit({ kind: "kernel.bug", fn: "migrate_to_devmem", what: "an order-9 device folio over VRAM pfns that are not one aligned 2 MiB block" });
      return -Errno.ENOMEM;
    }
    const folio = yield* getDevmemPage(p, pfns[i]!, pagemap, zdd, order);
    for (let j = 0; j < n; j++) pages[i + j] = { folio, index: j };
    migrate.dst[i] = { folio, index: 0, ...(compound ? { compound: true } : {}) };
    i += n;
  }
  return 0;
}

function contiguousAligned(pfns: number[], at: number, n: number): boolean {
  if (pfns[at]! % n !== 0) return false;
  for (let j = 1; j < n; j++) if (pfns[at + j] !== pfns[at]! + j) return false;
  return true;
}

/** a.2 #7: newest kernels fail with -EBUSY when migrate_vma_pages dropped any page. */
function racedWhileFinalizing(migrate: { src: { migrate: boolean; compound?: boolean }[]; npages: number }): number {
  return cpagesOf(migrate) < migrate.npages ? -Errno.EBUSY : 0; // counted by folio: a compound entry is 512 pages
}

/** The caller's devmem reference, given up: the driver's devmem_release. */
function* releaseDevmem(p: PagemapContext, devmem: number): ProcessBody<void> {
  const release = p.devmemOps(devmem).devmemRelease;
  if (release !== undefined) yield* release(devmem);
}
