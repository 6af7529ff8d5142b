import { spin, type ProcessBody } from "../engine/index.ts";
import type { FaultInjector } from "../faults/injector.ts";
import { nrPages } from "../kernel/constants.ts";
import type { DmaOps, PagemapAddr } from "../pagemap/ops.ts";
import type { DmaCosts, IommuMode } from "./profile.ts";

/**
 * dma_map_page / dma_unmap_page through an IOMMU (strict or lazy invalidation) or without one.
 * The mapping thread spins for the cost: both run on the CPU that migrates. The log's dma.map and
 * dma.unmap carry the time; a mapping can be made to fail (dma_mapping_error) by fault injection.
 */
export class IommuDma implements DmaOps {
  live = 0;
  private readonly costs: DmaCosts;

  constructor(
    private readonly faults: FaultInjector,
    readonly mode: IommuMode,
    costs: Record<IommuMode, DmaCosts>,
  ) {
    this.costs = costs[mode];
  }

  *mapPage(_folio: number, order: number, _dir: PagemapAddr["dir"]): ProcessBody<boolean> {
    const ns = Math.round(this.costs.mapNsPerPage * nrPages(order));
    yield spin(ns);
    if (this.faults.fail("dma_map")) return false;
    this.live++;
    return true;
  }

  *unmapPage(_folio: number, order: number, _dir: PagemapAddr["dir"]): ProcessBody<void> {
    const ns = Math.round(this.costs.unmapNsPerPage * nrPages(order));
    yield spin(ns);
    this.live--;
  }
}
