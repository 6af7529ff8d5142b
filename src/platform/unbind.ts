import type { ProcessBody } from "../engine/index.ts";
import type { PagemapContext } from "../pagemap/context.ts";
import { evictToRam } from "../pagemap/evict-to-ram.ts";

/**
 * Device unbind as drm_pagemap's overview describes it: populations fail from now on (-ENODEV)
 * and every allocation still holding device pages is evicted to system memory. Returns the
 * allocations that could not be evicted (evict_to_ram's error), which should be none.
 */
export function* unbindAndEvict(p: PagemapContext, dpagemap: number): ProcessBody<number[]> {
  p.commit({ kind: "dpagemap.unbind", dpagemap });
  const failed: number[] = [];
  for (const d of [...p.state.devmems.values()]) {
    if (d.dpagemap !== dpagemap || d.detached) continue;
    const bound = [...p.state.zdds.values()].some((z) => z.devmem === d.id && !z.destroyed);
    if (!bound) continue;
    const err = yield* evictToRam(p, d.id);
    if (err !== 0) failed.push(d.id);
  }
  return failed;
}
