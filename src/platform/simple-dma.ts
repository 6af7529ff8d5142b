import { spin, type ProcessBody } from "../engine/index.ts";
import type { FaultInjector } from "../faults/injector.ts";
import type { DmaOps, IovaState, PagemapAddr } from "../pagemap/ops.ts";

/** A flat-cost DMA layer: each dma_map_page / dma_unmap_page costs the same; mapping can fail. */
export class SimpleDma implements DmaOps {
  /** Mappings currently live, to check that every map is undone. */
  live = 0;

  constructor(
    private readonly faults: FaultInjector,
    private readonly mapNs = 200,
  ) {}

  *mapPage(_folio: number, _order: number, _dir: PagemapAddr["dir"]): ProcessBody<boolean> {
    yield spin(this.mapNs);
    if (this.faults.fail("dma_map")) return false;
    this.live++;
    return true;
  }

  *unmapPage(_folio: number, _order: number, _dir: PagemapAddr["dir"]): ProcessBody<void> {
    yield spin(this.mapNs);
    this.live--;
  }

  /** dma_iova_try_alloc fails, as it does without an IOMMU: the pagemap maps page by page. */
  *iovaTryAlloc(_state: IovaState, _sizeBytes: number): ProcessBody<boolean> {
    return false;
  }

  // Never called: no IOVA range is ever handed out.
  *iovaLink(): ProcessBody<number> {
    throw new Error("SimpleDma has no IOVA range to link into");
  }
  *iovaSync(): ProcessBody<number> {
    throw new Error("SimpleDma has no IOVA range to sync");
  }
  *iovaUnlink(): ProcessBody<void> {
    throw new Error("SimpleDma has no IOVA range to unlink");
  }
  *iovaFree(): ProcessBody<void> {
    throw new Error("SimpleDma has no IOVA range to free");
  }
}
