import type { RandomStream } from "../engine/index.ts";

/** Every point where the modelled kernel can fail, as drm_pagemap's error paths see it. */
export const FAULT_POINTS = {
  kvcalloc: "the src/dst/addr/pages arrays of a migration (-ENOMEM)",
  zdd_alloc: "drm_pagemap_zdd_alloc's kmalloc (-ENOMEM)",
  vram_alloc: "the driver's device-memory allocation for populate_mm (-ENOMEM)",
  folio_alloc_order0: "a 4 KiB system page allocation (-ENOMEM)",
  folio_alloc_order9: "a 2 MiB THP folio allocation (-ENOMEM, no 4 KiB fallback)",
  dma_map: "dma_map_page: dma_mapping_error (-EFAULT)",
  copy_to_devmem: "the driver's copy to device memory (-EIO from the copy engine)",
  copy_to_ram: "the driver's copy back to system memory",
} as const;

export type FaultPoint = keyof typeof FAULT_POINTS;

/** When a point fails: with a probability per call, and/or at given call numbers (1-based). */
export interface FaultRule {
  probability?: number | undefined;
  nth?: number[] | undefined;
}

export type FaultPlan = Partial<Record<FaultPoint, FaultRule>>;

/**
 * Decides, call by call, whether a fault point fails. It lives apart from the model (the model
 * only asks `fail(point)`), draws from its own random stream so that turning faults on never
 * changes any other component's numbers, and counts calls and injected failures per point.
 */
export class FaultInjector {
  private readonly calls = new Map<FaultPoint, number>();
  private readonly injected = new Map<FaultPoint, number>();

  constructor(
    private readonly plan: FaultPlan,
    private readonly random: RandomStream,
  ) {
    for (const [point, rule] of Object.entries(plan) as [FaultPoint, FaultRule][]) {
      if (!(point in FAULT_POINTS)) throw new RangeError(`unknown fault point "${point}"`);
      const p = rule.probability ?? 0;
      if (!(p >= 0 && p <= 1)) throw new RangeError(`fault ${point}: probability must be in [0, 1], got ${p}`);
      for (const n of rule.nth ?? []) {
        if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`fault ${point}: nth must list integers >= 1, got ${n}`);
      }
    }
  }

  /** Called by the model at each fault point: true means this call fails. */
  fail(point: FaultPoint): boolean {
    const call = (this.calls.get(point) ?? 0) + 1;
    this.calls.set(point, call);
    const rule = this.plan[point];
    if (rule === undefined) return false;
    // Draw only for points with a probability, so a plan without one draws nothing.
    const fails = (rule.nth?.includes(call) ?? false) || (rule.probability !== undefined && this.random.bernoulli(rule.probability));
    if (fails) this.injected.set(point, (this.injected.get(point) ?? 0) + 1);
    return fails;
  }

  /** Calls and injected failures per point, for the run summary. */
  counts(): Record<string, { calls: number; injected: number }> {
    const out: Record<string, { calls: number; injected: number }> = {};
    for (const point of Object.keys(FAULT_POINTS) as FaultPoint[]) {
      const calls = this.calls.get(point) ?? 0;
      if (calls > 0) out[point] = { calls, injected: this.injected.get(point) ?? 0 };
    }
    return out;
  }
}
