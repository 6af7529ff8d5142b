import { Work, type ProcessBody } from "../engine/index.ts";
import { nrPages } from "../kernel/constants.ts";
import type { PagemapContext } from "../pagemap/context.ts";
import type { DevicePage, DrmPagemapDevmemOps, PagemapAddr } from "../pagemap/ops.ts";

/**
 * The data side of copy_to_devmem / copy_to_ram, shared by every device: one page.copy event per
 * page that has both a system address and a device page. Returns the pages copied, in
 * order, as the device pfns copied (page i of a large device folio is its pfn + i), so the caller
 * can charge the copy its own way.
 */
export function commitPageCopies(p: PagemapContext, pages: DevicePage[], addrs: PagemapAddr[], npages: number, toDevice: boolean): number[] {
  const copied: number[] = [];
  for (let i = 0; i < npages; ) {
    const a = addrs[i]!;
    const span = a.folio === -1 ? 1 : nrPages(a.order);
    if (a.folio !== -1) {
      for (let j = 0; j < span; j++) {
        const dev = pages[i + j]!;
        if (dev.folio === -1) continue;
        if (toDevice) p.commit({ kind: "page.copy", srcFolio: a.folio, srcIndex: a.index + j, dstFolio: dev.folio, dstIndex: dev.index });
        else p.commit({ kind: "page.copy", srcFolio: dev.folio, srcIndex: dev.index, dstFolio: a.folio, dstIndex: a.index + j });
        copied.push(p.state.folios.get(dev.folio)!.pfn + dev.index); // a large device folio's page i is its pfn + i
      }
    }
    i += span;
  }
  return copied;
}

/**
 * devmem_release as Xe does it: "async" puts the buffer object from a worker (xe_bo_put_async:
 * queue_work is legal in any context, IRQ included); "sync" puts it where the last page went,
 * taking the reservation lock, which may sleep (so it is checked against that context).
 */
export function releaseDevmem(p: PagemapContext, devmem: number, mode: "sync" | "async", free: () => void): ProcessBody<void> {
  return (function* (): ProcessBody<void> {
    if (mode === "async") {
      p.releaseWq.queueWork(new Work(`bo_put:devmem${devmem}`, function* (): ProcessBody<void> {
        free();
      }));
      return;
    }
    p.k.engine.mightSleep("xe_bo_put");
    free();
  })();
}

/** populate_devmem_pfn for an allocation whose frames were chosen at devmem_init: hand them out in order. */
export function* populateDevmemPfns(p: PagemapContext, devmem: number, npages: number, pfns: number[]): ProcessBody<number> {
  const own = p.state.devmems.get(devmem)!.pfns;
  for (let i = 0; i < npages; i++) pfns[i] = own[i]!;
  return 0;
}

/** What a device does for its allocations' ops: copy pages either way, and give memory back. */
export interface DevmemBackend {
  copy(pages: DevicePage[], addrs: PagemapAddr[], npages: number, point: "copy_to_devmem" | "copy_to_ram"): ProcessBody<number>;
  release(devmem: number): ProcessBody<void>;
}

/** drm_pagemap_devmem_ops of a device: the table both devices hand to devmemInit. */
export function devmemOpsOf(p: PagemapContext, device: DevmemBackend): DrmPagemapDevmemOps {
  return {
    populateDevmemPfn: (devmem: number, npages: number, pfns: number[]) => populateDevmemPfns(p, devmem, npages, pfns),
    *copyToDevmem(pages: DevicePage[], addrs: PagemapAddr[], npages: number): ProcessBody<number> {
      return yield* device.copy(pages, addrs, npages, "copy_to_devmem");
    },
    *copyToRam(pages: DevicePage[], addrs: PagemapAddr[], npages: number): ProcessBody<number> {
      return yield* device.copy(pages, addrs, npages, "copy_to_ram");
    },
    devmemRelease: (devmem: number) => device.release(devmem),
  };
}
