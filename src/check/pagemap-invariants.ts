import type { ModelState, ZddState } from "../pagemap/state.ts";
import { checkKernelInvariants } from "./kernel-invariants.ts";

/**
 * Invariants of drm_pagemap's objects on top of the mm's: a zdd's refcount equals its holders,
 * device memory is neither leaked nor released twice, `detached` completes exactly when the last
 * device page of the allocation is gone. `afterTeardown`: every process has exited and every device is unbound, so
 * stronger checks apply (every allocation without pages is released).
 */
export function checkModelInvariants(state: ModelState, options: { afterTeardown?: boolean; deferredRelease?: boolean } = {}): string[] {
  const problems = checkKernelInvariants(state);
  const pagesOfZdd = new Map<number, number>();
  for (const folio of state.folios.values()) {
    if (folio.freed || folio.memory !== "device") continue;
    // Every drm_pagemap device folio holds a zdd reference: from drm_pagemap_get_devmem_page, or,
    // split off a device THP, from the folio_split callback.
    if (folio.zdd === -1) {
      problems.push(`device folio ${folio.id}: no zone_device_data (zdd)`);
      continue;
    }
    pagesOfZdd.set(folio.zdd, (pagesOfZdd.get(folio.zdd) ?? 0) + 1);
    const zdd = state.zdds.get(folio.zdd);
    if (zdd === undefined || zdd.destroyed) problems.push(`device folio ${folio.id}: its zdd ${folio.zdd} is ${zdd === undefined ? "unknown" : "destroyed"}`);
  }
  const pagesOfDevmem = new Map<number, number>();
  for (const zdd of state.zdds.values()) {
    const pages = pagesOfZdd.get(zdd.id) ?? 0;
    if (zdd.devmem !== -1) pagesOfDevmem.set(zdd.devmem, (pagesOfDevmem.get(zdd.devmem) ?? 0) + pages);
    if (zdd.destroyed) continue;
    const holders = pages + (zdd.creatorRef ? 1 : 0);
    if (zdd.refcount !== holders) problems.push(`zdd ${zdd.id}: refcount ${zdd.refcount}, holders ${holders} (${pages} pages${zdd.creatorRef ? " + creator" : ""})`);
    if (zdd.refcount === 0 && !options.deferredRelease) problems.push(`zdd ${zdd.id}: refcount 0 but not destroyed`);
  }
  const ownerOf = new Map<number, ZddState>(); // devmem → the first zdd bound to it
  for (const zdd of state.zdds.values()) if (zdd.devmem !== -1 && !ownerOf.has(zdd.devmem)) ownerOf.set(zdd.devmem, zdd);
  for (const devmem of state.devmems.values()) {
    const pages = pagesOfDevmem.get(devmem.id) ?? 0;
    const owner = ownerOf.get(devmem.id);
    if (devmem.detached && pages > 0) problems.push(`devmem ${devmem.id}: detached with ${pages} device pages left`);
    if (owner !== undefined && owner.destroyed && !devmem.detached) problems.push(`devmem ${devmem.id}: its zdd is destroyed but it is not detached`);
    if (options.afterTeardown === true && !devmem.released) problems.push(`devmem ${devmem.id}: never released (device memory leaked)`);
  }
  if (options.afterTeardown === true && state.allocatedPages.device > 0) problems.push(`${state.allocatedPages.device} device pages still in use at the end`);
  return problems;
}
