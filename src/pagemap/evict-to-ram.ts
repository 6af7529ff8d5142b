import type { ProcessBody } from "../engine/index.ts";
import { Errno, PAGE_SIZE } from "../kernel/constants.ts";
import { migrateDeviceFinalize, migrateDevicePages, migrateDevicePfns, type MigrateDst, type MigrateSrc } from "../kernel/migrate.ts";
import { mmgetNotZero, mmput } from "../kernel/mm.ts";
import type { PagemapContext } from "./context.ts";
import { dstAsSrc, migrateMapPages, migrateUnmapPages, migrationUnlockPutPages, NO_ADDR } from "./migrate-pages.ts";
import { devicePagesOf, migratePopulateRamPfn } from "./migrate-to-ram.ts";
import { evictExit, type EvictAttemptExit, type EvictOutcome } from "./exits.ts";
import { newIovaState, type DevicePage, type PagemapAddr } from "./ops.ts";

/** Eviction tries this many times more after the first attempt (retry_count). */
const EVICT_RETRIES = 2;

/**
 * drm_pagemap_evict_to_ram: move every page of `devmem` back to system memory, without the mmap
 * lock. Success is defined by `detached` (the last device page gone), checked after each of at
 * most three attempts, whatever the attempt itself returned.
 */
export function* evictToRam(p: PagemapContext, devmem: number): ProcessBody<number> {
  const d = p.state.devmems.get(devmem)!;
  p.commit({ kind: "evict_to_ram.begin", mm: d.mm, start: 0, end: d.sizeBytes });
  const npages = Math.floor(d.sizeBytes / PAGE_SIZE);
  let err = 0;
  const attempts: EvictAttemptExit[] = []; // each attempt's exit, for evict_to_ram.end
  for (let retries = EVICT_RETRIES; ; retries--) {
    if (!mmgetNotZero(p.k, d.mm)) return end_(p, -Errno.EFAULT, attempts, "mmget_failed");
    const attempt = yield* evictAttempt(p, devmem, npages);
    err = attempt.ret;
    attempts.push(attempt.exit);
    yield* mmput(p.k, d.mm); // mmput_async: the model drops it inline
    if (p.state.devmems.get(devmem)!.detached) return end_(p, 0, attempts, "detached");
    if (retries === 0) break;
    // cond_resched: let others run before the next attempt.
    yield 0;
  }
  return end_(p, err !== 0 ? err : -Errno.EBUSY, attempts, "retries_exhausted");
}

/** One pass from `retry:` to `err_out:`: its error and the label it left by. */
function* evictAttempt(p: PagemapContext, devmem: number, npages: number): ProcessBody<{ ret: number; exit: EvictAttemptExit }> {
  if (p.fail("kvcalloc")) return { ret: -Errno.ENOMEM, exit: "err_out:kvcalloc" };
  const ops = p.devmemOps(devmem);
  const pfns = new Array<number>(npages).fill(-1);
  const src: MigrateSrc[] = [];
  const dst: MigrateDst[] = Array.from({ length: npages }, () => ({ folio: -1, index: 0 }));
  const addrs: PagemapAddr[] = new Array<PagemapAddr>(npages).fill(NO_ADDR);
  const iova = newIovaState(); // struct drm_pagemap_iova_state, one per migration
  const pages: DevicePage[] = new Array<DevicePage>(npages).fill({ folio: -1, index: 0 });

  let err = yield* ops.populateDevmemPfn!(devmem, npages, pfns);
  if (err !== 0) return { ret: err, exit: "err_free:populate_devmem_pfn" };
  for (const pfn of pfns) {
    const folio = p.state.devicePages.get(pfn) ?? -1;
    // The page at pfn: page pfn - head of its folio (a tail page of a device THP is refused by
    // migrate_device_pfn_lock; the head's word then stands for the whole folio).
    src.push({ folio, index: folio === -1 ? 0 : pfn - p.state.folios.get(folio)!.pfn, migrate: false, write: false });
  }
  err = yield* migrateDevicePfns(p.k, src);
  if (err !== 0) return { ret: err, exit: "err_free:migrate_device_pfns" };

  let exit: EvictAttemptExit = "ok";
  unwind: {
    const mpages = { value: 0 };
    err = yield* migratePopulateRamPfn(p, -1, -1, npages, mpages, src, dst);
    if (err !== 0 || mpages.value === 0) {
      exit = err !== 0 ? "err_finalize:populate_ram_pfn" : "err_finalize:no_mpages";
      break unwind;
    }
    err = yield* migrateMapPages(p, addrs, dstAsSrc(dst), npages, "from_device", iova);
    if (err !== 0) {
      exit = "err_finalize:map_pages";
      break unwind;
    }
    devicePagesOf(src, pages, npages);
    err = yield* ops.copyToRam!(pages, addrs, npages);
    if (err !== 0) exit = "err_finalize:copy_to_ram";
  }
  // err_finalize
  if (err !== 0) yield* migrationUnlockPutPages(p, npages, dst);
  yield* migrateDevicePages(p.k, src, dst);
  yield* migrateDeviceFinalize(p.k, src, dst);
  yield* migrateUnmapPages(p, addrs, npages, "from_device", iova);
  return { ret: err, exit };
}

function end_(p: PagemapContext, ret: number, attempts: EvictAttemptExit[], outcome: EvictOutcome): number {
  p.commit({ kind: "evict_to_ram.end", ret, exit: evictExit(attempts, outcome) });
  return ret;
}
