import type { FolioState } from "../kernel/state.ts";
import type { ModelState, ZddState } from "../pagemap/state.ts";
import { checkKernelInvariants } from "./kernel-invariants.ts";

export interface ModelCheckOptions {
  /**
   * Every process has exited, every device is unbound and nothing is scheduled (deferred work has
   * drained): memory must balance (teardownProblems).
   */
  afterTeardown?: boolean;
  /** zdds are destroyed from a workqueue: one at refcount 0 may still be waiting for it. */
  deferredRelease?: boolean;
  /** Who the caller knows holds a folio ("cpu0[1] get"), to name a leaked reference's owner. */
  holders?: (folio: number) => readonly string[];
}

/**
 * Invariants of drm_pagemap's objects on top of the mm's: a zdd's refcount equals its holders,
 * device memory is neither leaked nor released twice, `detached` completes exactly when the last
 * device page of the allocation is gone. `afterTeardown` adds the memory balance at the end.
 */
export function checkModelInvariants(state: ModelState, options: ModelCheckOptions = {}): string[] {
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
  }
  if (options.afterTeardown === true) problems.push(...teardownProblems(state, options.holders));
  return problems;
}

/**
 * Memory balance once everything is gone (issue #18): no process left, no device memory
 * unreleased, no zdd (nor a creator's reference on one), no page allocated, no folio with a
 * reference. A leaked folio names its holders as the caller knows them (a workload's get or pin
 * step), else what its counts say. checkModelInvariants' afterTeardown includes these; explore
 * calls it alone to tell a teardown problem from an invariant.
 */
export function teardownProblems(state: ModelState, holders?: ModelCheckOptions["holders"]): string[] {
  const problems: string[] = [];
  // Causes before consequences: a reference never put keeps its zdd, which keeps its devmem.
  for (const zdd of state.zdds.values()) {
    if (zdd.creatorRef) problems.push(`zdd ${zdd.id}: the creator's reference was never put (a migration left without zdd_put)`);
    if (!zdd.destroyed) problems.push(`zdd ${zdd.id}: not destroyed after teardown (refcount ${zdd.refcount})`);
  }
  for (const devmem of state.devmems.values()) if (!devmem.released) problems.push(`devmem ${devmem.id}: never released (device memory leaked)`);
  for (const mm of state.mms.values()) if (mm.users > 0) problems.push(`mm ${mm.id}: ${mm.users} users after teardown (a process never exited)`);
  for (const memory of ["system", "device"] as const) {
    if (state.allocatedPages[memory] > 0) problems.push(`${state.allocatedPages[memory]} ${memory} pages still allocated after teardown`);
  }
  for (const folio of state.folios.values()) {
    if (folio.refcount === 0) continue; // refcount 0 and not freed: checkKernelInvariants says so
    const by = heldBy(folio, holders?.(folio.id) ?? []);
    problems.push(`folio ${folio.id} (${folio.memory}, order ${folio.order}): refcount ${folio.refcount} after teardown, held by ${by.join(", ")}`);
  }
  return problems;
}

/**
 * Who holds a folio's references: the holders the caller knows (each step a reference; a pin
 * step a pin too), then the mappings, pins and references no known holder accounts for.
 */
function heldBy(folio: FolioState, known: readonly string[]): string[] {
  const knownPins = known.filter((h) => h.endsWith(" pin")).length;
  const otherPins = folio.pincount - knownPins;
  const otherRefs = folio.refcount - folio.mapcount - folio.pincount - (known.length - knownPins);
  const by = [...known];
  if (folio.mapcount > 0) by.push(`${folio.mapcount} mappings`);
  if (otherPins > 0) by.push(`${otherPins} pins no step took`);
  if (otherRefs > 0) by.push(`${otherRefs} references no step took (a get without its put)`);
  return by;
}
