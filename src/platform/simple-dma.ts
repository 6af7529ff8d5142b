import { spin, type ProcessBody } from "../engine/index.ts";
import type { FaultInjector } from "../faults/injector.ts";
import type { DmaOps, PagemapAddr } from "../pagemap/ops.ts";

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
}
