import type { ProcessBody } from "../engine/index.ts";
import { Errno, nrPages, PAGE_SIZE, type FolioOrder } from "../kernel/constants.ts";
import { folioAlloc, folioLock, folioPut, folioUnlock } from "../kernel/folio.ts";
import type { MigrateDst, MigrateSrc } from "../kernel/migrate.ts";
import type { PagemapContext } from "./context.ts";
import type { IovaState, PagemapAddr } from "./ops.ts";
import { zddGet } from "./zdd.ts";

/** An empty drm_pagemap_addr slot (a zero DMA address in C). */
export const NO_ADDR: PagemapAddr = { folio: -1, index: 0, order: 0, dir: "to_device" };

/** drm_pagemap_migration_unlock_put_page. */
export function* migrationUnlockPutPage(p: PagemapContext, folio: number): ProcessBody<void> {
  folioUnlock(p.k, folio);
  yield* folioPut(p.k, folio);
}

/** drm_pagemap_migration_unlock_put_pages: every destination page handed out is given back. */
export function* migrationUnlockPutPages(p: PagemapContext, npages: number, dst: MigrateDst[]): ProcessBody<void> {
  for (let i = 0; i < npages; i++) {
    const d = dst[i]!;
    if (d.folio === -1) continue;
    yield* migrationUnlockPutPage(p, d.folio);
    dst[i] = { folio: -1, index: 0 };
  }
}

/**
 * drm_pagemap_get_devmem_page: the device page at `pfn` comes into use for this migration. Its
 * zone_device_data takes a zdd reference (one per folio, whatever its order), then
 * zone_device_folio_init makes it a folio of `order` with one reference, locked.
 */
export function* getDevmemPage(p: PagemapContext, pfn: number, pagemap: number, zdd: number, order: FolioOrder = 0): ProcessBody<number> {
  const folio = folioAlloc(p.k, order, "device", pagemap, pfn);
  if (folio === null) throw new Error(`device pfn ${pfn} is already in use`);
  p.commit({ kind: "folio.set_zdd", folio, zdd: zddGet(p, zdd) });
  yield* folioLock(p.k, folio);
  return folio;
}

/**
 * drm_pagemap_migrate_map_pages: one DMA mapping per system folio (a THP is mapped once, for
 * all its pages); a device page here is a bug (-EFAULT), as is a mapping error. With the IOVA
 * link API (M. Brost's series, 2026) the first folio asks for one IOVA range for the whole
 * migration; if the DMA layer gives one, each folio is linked into it instead of mapped, and one
 * sync ends the loop.
 */
export function* migrateMapPages(p: PagemapContext, addrs: PagemapAddr[], src: MigrateSrc[], npages: number, dir: PagemapAddr["dir"], iova: IovaState): ProcessBody<number> {
  let tryAlloc = false;
  for (let i = 0; i < npages; ) {
    const s = src[i]!;
    let order = 0;
    if (s.folio !== -1) {
      const folio = p.state.folios.get(s.folio)!;
      if (folio.memory === "device") return -Errno.EFAULT;
      order = folio.order;
      if (!tryAlloc) {
        yield* iovaTryAlloc(p, iova, npages * PAGE_SIZE, dir);
        tryAlloc = true;
      }
      if (iova.used) {
        const err = yield* iovaLink(p, iova, s.folio, order, dir);
        if (err !== 0) return err;
      } else {
        const t0 = p.k.engine.nowNs;
        if (!(yield* p.dma.mapPage(s.folio, order, dir))) return -Errno.EFAULT;
        p.commit({ kind: "dma.map", folio: s.folio, order, dir, durationNs: p.k.engine.nowNs - t0 });
      }
      addrs[i] = { folio: s.folio, index: s.index, order, dir };
    }
    i += nrPages(order);
  }
  if (iova.used) return yield* iovaSync(p, iova, dir);
  return 0;
}

/**
 * drm_pagemap_migrate_unmap_pages: undoes every mapping that was made, skipping holes; with an
 * IOVA range, one unlink of all that was linked and the range's free instead.
 */
export function* migrateUnmapPages(p: PagemapContext, addrs: PagemapAddr[], npages: number, dir: PagemapAddr["dir"], iova: IovaState): ProcessBody<void> {
  if (iova.used) {
    yield* iovaUnlink(p, iova, dir);
    yield* iovaFree(p, iova, dir);
    return;
  }
  for (let i = 0; i < npages; ) {
    const a = addrs[i]!;
    if (a.folio !== -1) {
      const t0 = p.k.engine.nowNs;
      yield* p.dma.unmapPage(a.folio, a.order, dir);
      p.commit({ kind: "dma.unmap", folio: a.folio, order: a.order, dir, durationNs: p.k.engine.nowNs - t0 });
    }
    i += nrPages(a.order);
  }
}

/** dma_iova_try_alloc, recorded when it hands out a range. */
function* iovaTryAlloc(p: PagemapContext, iova: IovaState, sizeBytes: number, dir: PagemapAddr["dir"]): ProcessBody<boolean> {
  const t0 = p.k.engine.nowNs;
  if (!(yield* p.dma.iovaTryAlloc(iova, sizeBytes))) return false;
  p.commit({ kind: "dma.iova_alloc", sizeBytes, dir, durationNs: p.k.engine.nowNs - t0 });
  return true;
}

/** dma_iova_link of one folio at the range's next offset. */
function* iovaLink(p: PagemapContext, iova: IovaState, folio: number, order: number, dir: PagemapAddr["dir"]): ProcessBody<number> {
  const t0 = p.k.engine.nowNs;
  const err = yield* p.dma.iovaLink(iova, folio, order, dir);
  if (err === 0) p.commit({ kind: "dma.iova_link", folio, order, dir, durationNs: p.k.engine.nowNs - t0 });
  return err;
}

/** dma_iova_sync of [0, offset). */
function* iovaSync(p: PagemapContext, iova: IovaState, dir: PagemapAddr["dir"]): ProcessBody<number> {
  const t0 = p.k.engine.nowNs;
  const err = yield* p.dma.iovaSync(iova);
  p.commit({ kind: "dma.iova_sync", sizeBytes: iova.offsetBytes, dir, durationNs: p.k.engine.nowNs - t0 });
  return err;
}

/** dma_iova_unlink of [0, offset). */
function* iovaUnlink(p: PagemapContext, iova: IovaState, dir: PagemapAddr["dir"]): ProcessBody<void> {
  const t0 = p.k.engine.nowNs;
  yield* p.dma.iovaUnlink(iova, dir);
  p.commit({ kind: "dma.iova_unlink", sizeBytes: iova.offsetBytes, dir, durationNs: p.k.engine.nowNs - t0 });
}

/** dma_iova_free. */
function* iovaFree(p: PagemapContext, iova: IovaState, dir: PagemapAddr["dir"]): ProcessBody<void> {
  const t0 = p.k.engine.nowNs;
  const sizeBytes = iova.sizeBytes;
  yield* p.dma.iovaFree(iova);
  p.commit({ kind: "dma.iova_free", sizeBytes, dir, durationNs: p.k.engine.nowNs - t0 });
}

/** Destination pages read as a source list, for mapping them (the copy back to system memory). */
export function dstAsSrc(dst: MigrateDst[]): MigrateSrc[] {
  return dst.map((d) => ({ folio: d.folio, index: d.index, migrate: d.folio !== -1, write: true }));
}
