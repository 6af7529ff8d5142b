import { sleep, spin, type ProcessBody } from "../engine/index.ts";
import { Errno, PAGE_SIZE } from "../kernel/constants.ts";
import type { PagemapContext } from "../pagemap/context.ts";
import { devmemInit } from "../pagemap/devmem.ts";
import { evictToRam } from "../pagemap/evict-to-ram.ts";
import { migrateToDevmem } from "../pagemap/migrate-to-devmem.ts";
import type { DevicePage, DrmPagemapDevmemOps, DrmPagemapOps, PagemapAddr } from "../pagemap/ops.ts";
import { pagemapOpsGet } from "../pagemap/pagemap-ops.ts";
import { contiguousRuns, type CopyEngine } from "./copy-engine.ts";
import { unbindAndEvict } from "./unbind.ts";
import { commitPageCopies, devmemOpsOf, releaseDevmem } from "./device-common.ts";
import type { PlatformEvent, WorldState } from "./events.ts";
import type { PlatformProfile } from "./profile.ts";
import { pfnsOf } from "./vram-buddy.ts";
import type { VramState } from "./vram-state.ts";

/** The VRAM's geometry: drm_buddy's layout over sizeBytes (see VramBuddy). */
export interface VramGeometry {
  sizeBytes: number;
  maxOrder: number;
  placement: "low" | "high";
}

/**
 * The Xe driver's side of drm_pagemap: populate_mm allocates a VRAM buffer object for the range
 * (evicting the least recently used allocation when VRAM is full, retrying as
 * xe_vm_validate_should_retry does), and migrates into it; copies go to the copy engine;
 * devmem_release puts the BO from a worker (xe_bo_put_async) or synchronously.
 */
export class XeDevice {
  readonly dpagemap: number;

  constructor(
    private readonly p: PagemapContext,
    private readonly profile: PlatformProfile,
    vram: VramGeometry,
    private readonly copyEngine: CopyEngine,
    private readonly commit: (ev: PlatformEvent) => void,
    readonly owner = 1,
  ) {
    const pagemap = p.k.registerPagemap(pagemapOpsGet(p), owner);
    this.dpagemap = p.state.nextDpagemapId;
    p.commit({ kind: "dpagemap.create", dpagemap: this.dpagemap, pagemap, owner });
    p.setDpagemapOps(this.dpagemap, this.dpagemapOps());
    commit({ kind: "vram.init", ...vram }); // drm_buddy_init for the VRAM manager
  }

  /** The VRAM allocator and LRU, as the log built them. */
  private get vram(): VramState {
    return (this.p.state as WorldState).vram!;
  }

  get freeVramPages(): number {
    return this.vram.buddy.freePages;
  }

  get vramFragmentation(): number {
    return this.vram.buddy.fragmentation();
  }

  /** The device goes away: new populations fail with -ENODEV. */
  unbind(): void {
    this.p.commit({ kind: "dpagemap.unbind", dpagemap: this.dpagemap });
  }

  /** Unbind, then evict every allocation still holding device pages (see unbind.ts). */
  unbindAndEvict(): ProcessBody<number[]> {
    return unbindAndEvict(this.p, this.dpagemap);
  }

  /** The GPU used the allocation now: it moves to the LRU's tail. */
  touch(devmem: number): void {
    if (this.vram.lastUseNs.has(devmem)) this.commit({ kind: "vram.touch", devmem, atNs: this.p.k.engine.nowNs });
  }

  private dpagemapOps(): DrmPagemapOps {
    const self = this;
    const p = this.p;
    return {
      // xe_drm_pagemap_populate_mm → xe_svm_alloc_vram: a BO for the range, then migrate into it.
      *populateMm(dpagemap: number, start: number, end: number, mm: number, timesliceMs: number): ProcessBody<number> {
        if (p.state.dpagemaps.get(dpagemap)!.unbound) return -Errno.ENODEV; // drm_dev_enter failed
        const npages = Math.floor((end - start) / PAGE_SIZE);
        yield spin(self.profile.vram.allocNs);
        const pfns = yield* self.allocWithEviction(npages);
        if (pfns === null) return -Errno.ENOMEM; // populate_mm.end says so in the log
        const devmem = devmemInit(p, { dpagemap, mm, sizeBytes: end - start, pfns: pfns.slice(0, npages), ops: self.devmemOps() });
        const err = yield* migrateToDevmem(p, devmem, mm, start, end, timesliceMs, self.owner);
        // The seed leaves the allocation with the caller on error; Xe releases it.
        if (err !== 0 && p.options.variant === "seed") yield* self.release(devmem);
        return err;
      },
    };
  }

  /**
   * xe_bo_create under TTM: allocate, and when VRAM is full evict the least recently used SVM
   * allocation (xe_svm_bo_evict → drm_pagemap_evict_to_ram) and try again; with nothing left to
   * evict, sleep and retry until the retry timeout (xe_vm_validate_should_retry), then -ENOMEM.
   * Returns the pages allocated, for the allocation devmem_init makes next.
   */
  private *allocWithEviction(npages: number): ProcessBody<number[] | null> {
    const engine = this.p.k.engine;
    const deadline = engine.nowNs + this.profile.vram.retryTimeoutNs;
    for (;;) {
      if (this.p.fail("vram_alloc")) return null;
      const blocks = this.vram.buddy.peek(npages, this.owner);
      if (blocks !== null) {
        const pfns = pfnsOf(blocks);
        this.commit({ kind: "vram.alloc", devmem: this.p.state.nextDevmemId, owner: this.owner, sizeBytes: npages * PAGE_SIZE, pfns, atNs: engine.nowNs });
        return pfns;
      }
      const victim = this.leastRecentlyUsed();
      if (victim !== -1) {
        this.commit({ kind: "vram.evict", devmem: victim }); // off the LRU while it is being evicted
        yield* evictToRam(this.p, victim);
        continue;
      }
      if (engine.nowNs >= deadline) return null;
      yield sleep(this.profile.vram.retrySleepNs);
    }
  }

  /** The allocation the GPU used longest ago that still holds device pages, or -1. */
  private leastRecentlyUsed(): number {
    let best = -1;
    let bestNs = Infinity;
    for (const [devmem, ns] of this.vram.lastUseNs) {
      const d = this.p.state.devmems.get(devmem);
      if (d === undefined || d.detached || d.released) continue;
      if (ns < bestNs) {
        best = devmem;
        bestNs = ns;
      }
    }
    return best;
  }

  private devmemOps(): DrmPagemapDevmemOps {
    return devmemOpsOf(this.p, { copy: (...args) => this.copy(...args), release: (devmem) => this.release(devmem) });
  }

  /** xe_svm_copy: the data moves with page.copy events; the time is the copy engine's. */
  private *copy(pages: DevicePage[], addrs: PagemapAddr[], npages: number, point: "copy_to_devmem" | "copy_to_ram"): ProcessBody<number> {
    const toDevice = point === "copy_to_devmem";
    const pfns = commitPageCopies(this.p, pages, addrs, npages, toDevice);
    const engine = this.p.k.engine;
    yield* this.copyEngine.copy(contiguousRuns(pfns, PAGE_SIZE), toDevice ? "to_device" : "from_device", () => engine.nowNs);
    return this.p.fail(point) ? -Errno.EIO : 0;
  }

  /** devmem_release: give the allocation's VRAM back, now or from a worker. */
  release(devmem: number): ProcessBody<void> {
    return releaseDevmem(this.p, devmem, this.profile.vram.release, () => {
      this.p.commit({ kind: "devmem.release", devmem });
      this.commit({ kind: "vram.free", devmem });
    });
  }
}
