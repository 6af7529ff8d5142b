import { HPAGE_PMD_ORDER } from "./constants.ts";
import { addMigrationSite, assertLive, dropMigrationSite, getMm, IllegalTransition } from "./apply-common.ts";
import { PTRS_PER_PTE } from "./page-table.ts";
import type { KernelState, PteKind } from "./state.ts";

/**
 * The apply of the PMD-leaf events (pmd.set, pmd.clear, pmd.split): a leaf is one mapping of a
 * whole order-9 folio, counted once in its mapcount and once in each page's (the kernel's entire
 * mapcount), and listed once in the rmap at its block's first vpn.
 */

export function setPmd(state: KernelState, mmId: number, vpn: number, kind: PteKind, folio: number): void {
  const ptes = getMm(state, mmId).ptes;
  const folios = state.folios;
  assertLive(state, folio);
  if (vpn % PTRS_PER_PTE !== 0) throw new IllegalTransition(`mm ${mmId} vpn ${vpn}: a PMD leaf must start a 2 MiB block`);
  if (folios.order(folio) !== HPAGE_PMD_ORDER) throw new IllegalTransition(`folio ${folio}: a PMD leaf maps only an order-9 folio`);
  const old = ptes.pmd(vpn);
  if (old !== undefined && old.kind !== "migration") throw new IllegalTransition(`mm ${mmId} vpn ${vpn}: PMD set over a live ${old.kind} leaf`);
  if (old === undefined && ptes.nextVpn(vpn, vpn + PTRS_PER_PTE) !== -1) throw new IllegalTransition(`mm ${mmId} vpn ${vpn}: PMD set over a block with PTEs`);
  if (old !== undefined) dropMigrationSite(state, old.folio, mmId, vpn);
  ptes.setPmd(vpn, kind, folio);
  if (kind === "migration") return addMigrationSite(state, folio, mmId, vpn);
  // One mapping for the folio; each page's mapcount counts it (the kernel's entire mapcount).
  folios.addMapping(folio, mmId, vpn);
  folios.setMapcount(folio, folios.mapcount(folio) + 1);
  for (let i = 0; i < PTRS_PER_PTE; i++) folios.setPageMapcount(folio, i, folios.pageMapcount(folio, i) + 1);
}

export function unmapPmd(state: KernelState, mm: number, vpn: number, folio: number): void {
  const folios = state.folios;
  assertLive(state, folio);
  if (folios.mapcount(folio) === 0) throw new IllegalTransition(`folio ${folio}: unmapped more often than mapped`);
  if (!folios.removeMapping(folio, mm, vpn)) throw new IllegalTransition(`folio ${folio}: the rmap has no mapping at mm ${mm} vpn ${vpn}`);
  folios.setMapcount(folio, folios.mapcount(folio) - 1);
  for (let i = 0; i < PTRS_PER_PTE; i++) folios.setPageMapcount(folio, i, folios.pageMapcount(folio, i) - 1);
}

/** __split_huge_pmd_locked: see the pmd.split event. The folio keeps its order. */
export function splitPmd(state: KernelState, mmId: number, vpn: number, freeze: boolean): void {
  const ptes = getMm(state, mmId).ptes;
  const leaf = ptes.pmd(vpn);
  if (leaf === undefined || vpn % PTRS_PER_PTE !== 0) throw new IllegalTransition(`mm ${mmId} vpn ${vpn}: split of a PMD leaf that is not there`);
  const folios = state.folios;
  const { kind, folio } = leaf;
  if (kind === "migration") dropMigrationSite(state, folio, mmId, vpn);
  else unmapPmd(state, mmId, vpn, folio);
  ptes.clearPmd(vpn);
  const pteKind: PteKind = kind === "migration" || freeze ? "migration" : kind;
  for (let i = 0; i < PTRS_PER_PTE; i++) {
    ptes.set(vpn + i, pteKind, folio, i);
    if (pteKind === "migration") {
      addMigrationSite(state, folio, mmId, vpn + i);
      continue;
    }
    folios.addMapping(folio, mmId, vpn + i);
    folios.setPageMapcount(folio, i, folios.pageMapcount(folio, i) + 1);
  }
  if (pteKind === "migration") {
    if (kind !== "migration") folios.setRefcount(folio, folios.refcount(folio) - 1); // freeze drops the leaf's reference
    return;
  }
  folios.setMapcount(folio, folios.mapcount(folio) + PTRS_PER_PTE);
  folios.setRefcount(folio, folios.refcount(folio) + PTRS_PER_PTE - 1);
}
