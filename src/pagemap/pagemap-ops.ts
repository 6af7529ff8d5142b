import type { ProcessBody } from "../engine/index.ts";
import type { DevPagemapOps } from "../kernel/kernel.ts";
import type { PagemapContext } from "./context.ts";
import { migrateToRam } from "./migrate-to-ram.ts";
import { zddPut } from "./zdd.ts";

/** drm_pagemap_page_free: a device page's last reference is gone; its zdd reference goes too. */
export function* pageFree(p: PagemapContext, folio: number): ProcessBody<void> {
  yield* zddPut(p, p.state.folios.get(folio)!.zdd, "page");
}

/** drm_pagemap_pagemap_ops_get: the dev_pagemap_ops a driver registers for its device pages. */
export function pagemapOpsGet(p: PagemapContext): DevPagemapOps {
  return {
    pageFree: (folio) => pageFree(p, folio),
    migrateToRam: (fault) => migrateToRam(p, fault),
  };
}
