import type { KernelState, MmState } from "./state.ts";

/**
 * What the kernel events' apply functions share (apply.ts, apply-pmd.ts): the error for an
 * impossible transition, lookups that refuse what is not there, and the migration-site records.
 */

/** An event that cannot happen to the state it is applied to: a model bug, or a corrupt log. */
export class IllegalTransition extends Error {
  override name = "IllegalTransition";
}

export function getMm(state: KernelState, id: number): MmState {
  const mm = state.mms.get(id);
  if (mm === undefined) throw new IllegalTransition(`no mm ${id}`);
  return mm;
}

/** Refuses an event naming a folio that is not live (never allocated, or freed). */
export function assertLive(state: KernelState, id: number): void {
  if (!state.folios.has(id)) throw new IllegalTransition(id >= 0 && id < state.nextFolioId ? `folio ${id} used after free` : `no folio ${id}`);
}

/** A migration entry now stands at mm/vpn for folio: where remove_migration_ptes will look. */
export function addMigrationSite(state: KernelState, folio: number, mm: number, vpn: number): void {
  const sites = state.migrationSites.get(folio);
  if (sites === undefined) state.migrationSites.set(folio, [{ mm, vpn }]);
  else sites.push({ mm, vpn });
}

export function dropMigrationSite(state: KernelState, folio: number, mm: number, vpn: number): void {
  const sites = state.migrationSites.get(folio);
  const at = sites?.findIndex((s) => s.mm === mm && s.vpn === vpn) ?? -1;
  if (sites === undefined || at < 0) throw new IllegalTransition(`mm ${mm} vpn ${vpn}: a migration entry for folio ${folio} that was never written`);
  if (sites.length === 1) state.migrationSites.delete(folio);
  else sites.splice(at, 1);
}
