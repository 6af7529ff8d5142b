import { spin, type ProcessBody } from "../engine/index.ts";
import type { FaultInjector } from "../faults/injector.ts";
import { Errno, nrPages, PAGE_SIZE } from "../kernel/constants.ts";
import type { DmaOps, IovaState, PagemapAddr } from "../pagemap/ops.ts";
import type { DmaCosts, IommuMode, IovaCosts, PlatformProfile } from "./profile.ts";

/**
 * The DMA layer through an IOMMU (strict or lazy invalidation), without one (off), or through
 * the IOVA link API (iova): dma_map_page / dma_unmap_page per folio in the first three,
 * dma_iova_try_alloc / _link / _sync / _unlink / _free in the last. The mapping thread spins for
 * each cost: all of them run on the CPU that migrates. The pagemap records each step (dma.*);
 * a mapping or a link can be made to fail by fault injection (dma_map).
 */
export class IommuDma implements DmaOps {
  live = 0;
  private readonly perPage: DmaCosts;
  private readonly iova: IovaCosts | null;

  constructor(
    private readonly faults: FaultInjector,
    readonly mode: IommuMode,
    costs: PlatformProfile["dma"]["costs"],
  ) {
    // With the link API, a mapping that cannot use an IOVA range falls back to strict dma_map_page.
    this.perPage = costs[mode === "iova" ? "strict" : mode];
    this.iova = costs.iova ?? null;
    if (mode === "iova" && this.iova === null) throw new Error("IOMMU mode iova without the link API's costs (the profile schema requires them)");
  }

  /** The link API's costs: only asked for in iova mode, where the constructor made sure of them. */
  private get iovaCosts(): IovaCosts {
    return this.iova!;
  }

  /** dma_map_page (dma_map_page_attrs): one IOVA and one sync for the folio, an IOMMU entry per 4 KiB page. */
  *mapPage(_folio: number, order: number, _dir: PagemapAddr["dir"]): ProcessBody<boolean> {
    yield spin(Math.round(this.perPage.mapNs + this.perPage.mapNsPerPage * nrPages(order)));
    if (this.faults.fail("dma_map")) return false;
    this.live++;
    return true;
  }

  /** dma_unmap_page (dma_unmap_page_attrs): the entries cleared page by page, one IOTLB invalidation and IOVA free for the folio. */
  *unmapPage(_folio: number, order: number, _dir: PagemapAddr["dir"]): ProcessBody<void> {
    yield spin(Math.round(this.perPage.unmapNs + this.perPage.unmapNsPerPage * nrPages(order)));
    this.live--;
  }

  /** dma_iova_try_alloc: only the iova mode hands out an IOVA range; the others map page by page. */
  *iovaTryAlloc(state: IovaState, sizeBytes: number): ProcessBody<boolean> {
    if (this.mode !== "iova") return false;
    yield spin(this.iovaCosts.allocNs);
    state.used = true;
    state.sizeBytes = sizeBytes;
    this.live++;
    return true;
  }

  /** dma_iova_link: one physically contiguous piece (a folio) at the state's offset. */
  *iovaLink(state: IovaState, _folio: number, order: number, _dir: PagemapAddr["dir"]): ProcessBody<number> {
    yield spin(this.iovaCosts.linkNs);
    if (this.faults.fail("dma_map")) return -Errno.ENOMEM;
    state.offsetBytes += nrPages(order) * PAGE_SIZE;
    state.links++;
    return 0;
  }

  /** dma_iova_sync: one IOTLB sync for the whole linked range. */
  *iovaSync(_state: IovaState): ProcessBody<number> {
    yield spin(this.iovaCosts.syncNs);
    return 0;
  }

  /** dma_iova_unlink of everything linked: the entries cleared, one IOTLB invalidation. */
  *iovaUnlink(state: IovaState, _dir: PagemapAddr["dir"]): ProcessBody<void> {
    yield spin(this.iovaCosts.unlinkNs + this.iovaCosts.unlinkNsPerLink * state.links);
  }

  /** dma_iova_free. */
  *iovaFree(state: IovaState): ProcessBody<void> {
    yield spin(this.iovaCosts.freeNs);
    state.used = false;
    this.live--;
  }
}
