import type { PagemapContext } from "./context.ts";
import type { DrmPagemapDevmemOps } from "./ops.ts";

export interface DevmemInitArgs {
  dpagemap: number;
  mm: number;
  sizeBytes: number;
  /** The device page frames the driver allocated for it. */
  pfns: number[];
  ops: DrmPagemapDevmemOps;
}

/** drm_pagemap_devmem_init: records the allocation and gives it its own `detached` completion. */
export function devmemInit(p: PagemapContext, args: DevmemInitArgs): number {
  const devmem = p.state.nextDevmemId;
  p.commit({ kind: "devmem.init", devmem, dpagemap: args.dpagemap, mm: args.mm, sizeBytes: args.sizeBytes, pfns: args.pfns });
  p.setDevmemOps(devmem, args.ops);
  p.detached(devmem); // init_completion
  return devmem;
}

/** drm_pagemap_page_to_dpagemap: through the page's zdd to its allocation's pagemap. */
export function pageToDpagemap(p: PagemapContext, folio: number): number {
  const zdd = p.state.folios.get(folio)?.zdd ?? -1;
  const devmem = p.state.zdds.get(zdd)?.devmem ?? -1;
  const d = p.state.devmems.get(devmem);
  if (d === undefined) throw new Error(`folio ${folio} belongs to no bound devmem allocation`);
  return d.dpagemap;
}
