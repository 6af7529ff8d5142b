import type { ProcessBody } from "../engine/index.ts";
import type { DevPagemapOps } from "../kernel/kernel.ts";
import type { PagemapContext } from "./context.ts";
import { migrateToRam } from "./migrate-to-ram.ts";
import { zddGet, zddPut } from "./zdd.ts";

/** drm_pagemap_page_free: a device page's last reference is gone; its zdd reference goes too. */
export function* pageFree(p: PagemapContext, folio: number): ProcessBody<void> {
  yield* zddPut(p, p.state.folios.get(folio)!.zdd, "page");
}

/**
 * drm_pagemap_folio_split (Dugast et al., THP support, 7/7): a new folio split off a device THP
 * shares the original's pgmap (kept by the split itself) and takes a zdd reference of its own,
 * so every live device folio holds one.
 */
export function folioSplit(p: PagemapContext, orig: number, newFolio: number): void {
  const zdd = p.state.folios.get(orig)!.zdd;
  p.commit({ kind: "folio.set_zdd", folio: newFolio, zdd: zddGet(p, zdd) });
}

/** drm_pagemap_pagemap_ops_get: the dev_pagemap_ops a driver registers for its device pages. */
export function pagemapOpsGet(p: PagemapContext): DevPagemapOps {
  return {
    pageFree: (folio) => pageFree(p, folio),
    migrateToRam: (fault) => migrateToRam(p, fault),
    // The seed's drm_pagemap makes only order-0 folios and has no folio_split.
    ...(p.options.variant === "newest" ? { folioSplit: (orig: number, newFolio: number) => folioSplit(p, orig, newFolio) } : {}),
  };
}
