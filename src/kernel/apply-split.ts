import { nrPages } from "./constants.ts";
import { addMigrationSite, assertLive, getMm, IllegalTransition } from "./apply-common.ts";
import type { KernelState } from "./state.ts";

/**
 * The apply of folio.split (__folio_split / folio_split_unmapped with their unmap and remap
 * folded in): a locked large folio, system or device, becomes order-0 folios. Page 0 keeps the
 * id, the lock and the splitter's reference; page i > 0 becomes folio firstNew + i - 1, unlocked,
 * holding its mappings' references plus one the splitter then puts (or, for an unmapped folio
 * under migration, keeps as the migration's). Entries naming a page, mappings and migration
 * entries alike, are rewritten to name its new folio. A device folio's pages keep their pfns
 * (pfn + i), its pagemap and no zone_device_data yet: the pagemap's folio_split callback gives
 * each new folio its own (a separate event).
 */
export function applyFolioSplit(state: KernelState, id: number, firstNew: number): void {
  const folios = state.folios;
  assertLive(state, id);
  const order = folios.order(id);
  if (order === 0) throw new IllegalTransition(`folio ${id}: split of an order-0 folio`);
  if (folios.lockOwner(id) === -1) throw new IllegalTransition(`folio ${id}: split while not locked`);
  const refcount = folios.refcount(id);
  const mapcount = folios.mapcount(id);
  const pins = folios.pincount(id);
  if (pins !== 0 || refcount !== mapcount + 1) {
    throw new IllegalTransition(`folio ${id}: split with refcount ${refcount}, mapcount ${mapcount}, pins ${pins}`);
  }
  if (firstNew !== state.nextFolioId) throw new IllegalTransition(`folio id ${firstNew} out of order: the next folio id is ${state.nextFolioId}`);
  const memory = folios.memory(id);
  const pagemap = folios.pagemap(id);
  const pfn = folios.pfn(id);
  const n = nrPages(order);
  const ids = Array.from({ length: n }, (_, i) => (i === 0 ? id : firstNew + i - 1));
  const mapcounts = new Array<number>(n).fill(0);
  const versions = Array.from({ length: n }, (_, i) => folios.version(id, i));
  const pendingMappings: [number, number, number][] = []; // the new folios' rmap, once they exist
  for (const { mm, vpn } of folios.mappings(id)) {
    const ptes = getMm(state, mm).ptes;
    if (ptes.pmd(vpn) !== undefined) throw new IllegalTransition(`folio ${id}: split while PMD-mapped at mm ${mm} vpn ${vpn}`);
    const kind = ptes.kind(vpn)!;
    const index = ptes.index(vpn);
    ptes.set(vpn, kind, ids[index]!, 0);
    mapcounts[index]!++;
    if (!folios.removeMapping(id, mm, vpn)) throw new IllegalTransition(`folio ${id}: the rmap has no mapping at mm ${mm} vpn ${vpn}`);
    pendingMappings.push([ids[index]!, mm, vpn]);
  }
  // Migration entries (a frozen folio split under migration): each now names its page's folio.
  const sites = state.migrationSites.get(id) ?? [];
  state.migrationSites.delete(id);
  for (const { mm, vpn } of sites) {
    const ptes = getMm(state, mm).ptes;
    if (ptes.pmd(vpn) !== undefined) throw new IllegalTransition(`folio ${id}: split under a PMD migration entry at mm ${mm} vpn ${vpn}`);
    const index = ptes.index(vpn);
    ptes.set(vpn, "migration", ids[index]!, 0);
    addMigrationSite(state, ids[index]!, mm, vpn);
  }
  for (let i = 1; i < n; i++) {
    folios.add(ids[i]!, 0, memory, pagemap, memory === "device" ? pfn + i : -1);
    if (memory === "device") state.devicePages.set(pfn + i, ids[i]!);
    folios.setRefcount(ids[i]!, mapcounts[i]! + 1);
    folios.setMapcount(ids[i]!, mapcounts[i]!);
    folios.setPageMapcount(ids[i]!, 0, mapcounts[i]!);
    folios.setVersion(ids[i]!, 0, versions[i]!);
  }
  state.nextFolioId += n - 1;
  for (const [folio, mm, vpn] of pendingMappings) folios.addMapping(folio, mm, vpn);
  folios.shrinkToOrder0(id, mapcounts[0]!);
  folios.setRefcount(id, mapcounts[0]! + 1);
  folios.setMapcount(id, mapcounts[0]!);
}
