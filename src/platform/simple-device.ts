import { spin, type ProcessBody } from "../engine/index.ts";
import { Errno, PAGE_SIZE } from "../kernel/constants.ts";
import type { PagemapContext } from "../pagemap/context.ts";
import { devmemInit } from "../pagemap/devmem.ts";
import { migrateToDevmem } from "../pagemap/migrate-to-devmem.ts";
import { unbindAndEvict } from "./unbind.ts";
import { commitPageCopies, devmemOpsOf, releaseDevmem } from "./device-common.ts";
import type { DevicePage, DrmPagemapDevmemOps, DrmPagemapOps, PagemapAddr } from "../pagemap/ops.ts";
import { pagemapOpsGet } from "../pagemap/pagemap-ops.ts";

/**
 * A minimal GPU driver around drm_pagemap, shaped like Xe's: device memory as a pool of page
 * frames, populate_mm that allocates a buffer object and migrates into it, copies that carry
 * page data, and a devmem_release that is either synchronous or, like xe_bo_put_async, deferred
 * to a worker. Costs are flat per page; the calibrated platform model replaces them.
 */
export interface SimpleDeviceOptions {
  /** Device memory, in 4 KiB pages. */
  vramPages: number;
  /** Copy time per 4 KiB page, either direction. */
  copyNsPerPage: number;
  /** dma_map_page / dma_unmap_page, per mapping. */
  dmaMapNs: number;
  /** "sync": devmem_release frees VRAM where it is called; "async": a worker does (Xe). */
  release: "sync" | "async";
  /** The owner token of its device-private pages. */
  owner: number;
}

export const DEFAULT_SIMPLE_DEVICE: SimpleDeviceOptions = { vramPages: 4096, copyNsPerPage: 500, dmaMapNs: 200, release: "async", owner: 1 };

export class SimpleDevice {
  readonly options: SimpleDeviceOptions;
  readonly dpagemap: number;
  private readonly freePfns: number[] = [];

  constructor(
    private readonly p: PagemapContext,
    options: Partial<SimpleDeviceOptions> = {},
    pfnBase = 0,
  ) {
    this.options = { ...DEFAULT_SIMPLE_DEVICE, ...options };
    for (let i = this.options.vramPages - 1; i >= 0; i--) this.freePfns.push(pfnBase + i);
    const pagemap = p.k.registerPagemap(pagemapOpsGet(p), this.options.owner);
    this.dpagemap = p.state.nextDpagemapId;
    p.commit({ kind: "dpagemap.create", dpagemap: this.dpagemap, pagemap, owner: this.options.owner });
    p.setDpagemapOps(this.dpagemap, this.dpagemapOps());
  }

  get freeVramPages(): number {
    return this.freePfns.length;
  }

  /** The device goes away: new populations fail with -ENODEV. */
  unbind(): void {
    this.p.commit({ kind: "dpagemap.unbind", dpagemap: this.dpagemap });
  }

  /** Unbind, then evict every allocation still holding device pages (see unbind.ts). */
  unbindAndEvict(): ProcessBody<number[]> {
    return unbindAndEvict(this.p, this.dpagemap);
  }

  private dpagemapOps(): DrmPagemapOps {
    const self = this;
    const p = this.p;
    return {
      // xe_drm_pagemap_populate_mm: a BO for the range, then migrate into it.
      *populateMm(dpagemap: number, start: number, end: number, mm: number, timesliceMs: number): ProcessBody<number> {
        if (p.state.dpagemaps.get(dpagemap)!.unbound) return -Errno.ENODEV; // drm_dev_enter failed
        const npages = Math.floor((end - start) / PAGE_SIZE);
        if (npages > self.freePfns.length || p.fail("vram_alloc")) return -Errno.ENOMEM;
        const pfns = self.freePfns.splice(self.freePfns.length - npages, npages).reverse();
        const devmem = devmemInit(p, { dpagemap, mm, sizeBytes: end - start, pfns, ops: self.devmemOps() });
        const err = yield* migrateToDevmem(p, devmem, mm, start, end, timesliceMs, self.options.owner);
        // The seed leaves the allocation with the caller on error; Xe releases it.
        if (err !== 0 && p.options.variant === "seed") yield* self.release(devmem);
        return err;
      },
    };
  }

  private devmemOps(): DrmPagemapDevmemOps {
    return devmemOpsOf(this.p, { copy: (...args) => this.copy(...args), release: (devmem) => this.release(devmem) });
  }

  /** One copy-engine job over every mapped page; the data moves with page.copy events. */
  private *copy(pages: DevicePage[], addrs: PagemapAddr[], npages: number, point: "copy_to_devmem" | "copy_to_ram"): ProcessBody<number> {
    const copied = commitPageCopies(this.p, pages, addrs, npages, point === "copy_to_devmem").length;
    yield spin(copied * this.options.copyNsPerPage); // the submitting thread waits on the fence
    return this.p.fail(point) ? -Errno.EIO : 0;
  }

  /** devmem_release: give the allocation's page frames back, now or from a worker. */
  release(devmem: number): ProcessBody<void> {
    return releaseDevmem(this.p, devmem, this.options.release, () => {
      this.p.commit({ kind: "devmem.release", devmem });
      this.freePfns.push(...this.p.state.devmems.get(devmem)!.pfns);
    });
  }
}
