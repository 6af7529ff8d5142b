import type { ProcessBody } from "../engine/index.ts";
import type { FolioOrder } from "./constants.ts";
import type { Kernel } from "./kernel.ts";
import type { FolioState, MemoryKind } from "./state.ts";

/** The live folio `id`; throws on a freed or unknown one (a model bug). */
export function folioOf(k: Kernel, id: number): FolioState {
  const folio = k.state.folios.get(id);
  if (folio === undefined || folio.freed) throw new Error(`folio ${id} is ${folio === undefined && !(id >= 0 && id < k.state.nextFolioId) ? "unknown" : "freed"}`);
  return folio;
}

/**
 * folio_alloc / vma_alloc_folio (system): a folio with one reference, or null when the
 * allocation fails (injected). For device memory: the ZONE_DEVICE page at `pfn` comes into use.
 * Costs no simulated time by itself.
 */
export function folioAlloc(k: Kernel, order: FolioOrder, memory: MemoryKind, pagemap = -1, pfn = -1): number | null {
  if (memory === "system" && k.allocFailure("folio_alloc", order, memory)) return null;
  const id = k.state.nextFolioId;
  k.commit({ kind: "folio.alloc", folio: id, order, memory, pagemap, pfn });
  return id;
}

/** folio_get. */
export function folioGet(k: Kernel, id: number): void {
  k.commit({ kind: "folio.get", folio: id });
}

/**
 * folio_put: drops a reference; the last one frees the folio in the caller's context. A device
 * folio goes through its pagemap's page_free first (drm_pagemap_page_free puts the zdd), which
 * is why a put may run driver code, sleep, and so be invalid in IRQ context.
 */
export function* folioPut(k: Kernel, id: number): ProcessBody<void> {
  k.commit({ kind: "folio.put", folio: id });
  const folios = k.state.folios; // read in place: a put is among the commonest steps
  if (folios.refcount(id) > 0) return;
  if (folios.memory(id) === "device") yield* k.pagemap(folios.pagemap(id)).pageFree(id);
  k.commit({ kind: "folio.free", folio: id });
}

/** folio_trylock: never sleeps. */
export function folioTrylock(k: Kernel, id: number): boolean {
  if (k.state.folios.lockOwner(id) !== -1) return false;
  k.commit({ kind: "folio.lock", folio: id, owner: k.currentThread });
  return true;
}

/** folio_lock: sleeps until the lock bit is free, then takes it. */
export function* folioLock(k: Kernel, id: number): ProcessBody<void> {
  k.engine.mightSleep("folio_lock");
  while (folioOf(k, id).lockOwner !== -1) yield k.folioWaitQueue(id).wait();
  k.commit({ kind: "folio.lock", folio: id, owner: k.currentThread });
}

/** folio_unlock: clears the bit and wakes the waiters, who race for it again. */
export function folioUnlock(k: Kernel, id: number): void {
  k.commit({ kind: "folio.unlock", folio: id });
  k.wakeFolioWaiters(id);
}
