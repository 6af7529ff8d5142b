import type { ProcessBody } from "../engine/index.ts";
import type { PagemapContext } from "./context.ts";
import type { ZddHolder } from "./events.ts";

/** drm_pagemap_zdd_alloc: refcount 1, no devmem bound yet; null when kmalloc fails. */
export function zddAlloc(p: PagemapContext, owner: number): number | null {
  if (p.fail("zdd_alloc")) return null;
  const zdd = p.state.nextZddId;
  p.commit({ kind: "zdd.alloc", zdd, owner });
  return zdd;
}

/** drm_pagemap_zdd_get. */
export function zddGet(p: PagemapContext, zdd: number): number {
  p.commit({ kind: "zdd.get", zdd });
  return zdd;
}

/**
 * drm_pagemap_zdd_destroy: signal `detached`, then let the driver release the device memory,
 * then free the zdd. In "inline" mode this runs in the context of the last put, which may be an
 * interrupt; whatever the driver's release does there is checked against that context.
 */
export function* zddDestroy(p: PagemapContext, zdd: number): ProcessBody<void> {
  const devmem = p.state.zdds.get(zdd)!.devmem;
  if (devmem !== -1) {
    p.commit({ kind: "devmem.detach", devmem });
    p.detached(devmem).completeAll();
    const release = p.devmemOps(devmem).devmemRelease;
    if (release !== undefined) yield* release(devmem);
  }
  p.commit({ kind: "zdd.destroy", zdd });
}

/** drm_pagemap_zdd_put: the last reference destroys, inline or from the release workqueue. */
export function* zddPut(p: PagemapContext, zdd: number, holder: ZddHolder): ProcessBody<void> {
  p.commit({ kind: "zdd.put", zdd, holder });
  if (p.state.zdds.get(zdd)!.refcount > 0) return;
  if (p.options.zddRelease === "deferred") p.defer(`zdd_destroy:${zdd}`, () => zddDestroy(p, zdd));
  else yield* zddDestroy(p, zdd);
}
