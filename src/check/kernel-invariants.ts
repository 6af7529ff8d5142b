import { nrPages, PAGE_SIZE } from "../kernel/constants.ts";
import { vmaLookup, type KernelState } from "../kernel/state.ts";

/**
 * Invariants of the simulated mm, checked from outside the model (it only reads the state).
 * Returns one line per violation; empty means all hold. Meant to run after every step in tests
 * and at the end of every run.
 */
export function checkKernelInvariants(state: KernelState): string[] {
  const problems: string[] = [];
  // Entries mapping each folio, and each page of a large folio: counted in typed arrays, not a
  // Map keyed by a string per page (16 M pages would exceed a Map's size and cost ~100 B each).
  const mapped = new SparseCounter();
  const mappedPagesOfLarge = new Map<number, Int32Array>();
  let migrationEntries = 0;

  for (const mm of state.mms.values()) {
    for (let i = 1; i < mm.vmas.length; i++) {
      const prev = mm.vmas[i - 1]!;
      const vma = mm.vmas[i]!;
      if (prev.endAddr > vma.startAddr) problems.push(`mm ${mm.id}: vma ${prev.id} overlaps vma ${vma.id}`);
    }
    // A PMD leaf: one mapping of a whole order-9 folio, each of its pages mapped once through it.
    mm.ptes.forEachPmd((vpn, kind, folio) => {
      const where = `mm ${mm.id} PMD at vpn ${vpn}`;
      const vma = vmaLookup(mm, vpn * PAGE_SIZE);
      if (vma === undefined || vma.endAddr < (vpn + 512) * PAGE_SIZE) problems.push(`${where}: leaf not inside one VMA`);
      if (!state.folios.has(folio)) {
        problems.push(`${where}: ${kind} leaf points at ${folio >= 0 && folio < state.nextFolioId ? "a freed" : "no"} folio ${folio}`);
        return;
      }
      const memory = state.folios.memory(folio);
      if (state.folios.order(folio) !== 9) problems.push(`${where}: leaf maps folio ${folio} of order ${state.folios.order(folio)}`);
      if (kind === "present" && memory !== "system") problems.push(`${where}: present leaf maps device folio ${folio}`);
      if (kind === "device-private" && memory !== "device") problems.push(`${where}: device-private leaf names system folio ${folio}`);
      if (kind === "migration") return void migrationEntries++;
      mapped.add(folio);
      let perPage = mappedPagesOfLarge.get(folio);
      if (perPage === undefined) mappedPagesOfLarge.set(folio, (perPage = new Int32Array(512)));
      for (let i = 0; i < 512; i++) perPage[i]!++;
    });
    mm.ptes.forEachPte((vpn, kind, folio, index) => {
      const where = `mm ${mm.id} vpn ${vpn}`;
      if (vmaLookup(mm, vpn * PAGE_SIZE) === undefined) problems.push(`${where}: entry outside every VMA`);
      if (!state.folios.has(folio)) {
        problems.push(`${where}: ${kind} entry points at ${folio >= 0 && folio < state.nextFolioId ? "a freed" : "no"} folio ${folio}`);
        return;
      }
      const memory = state.folios.memory(folio);
      const pages = nrPages(state.folios.order(folio));
      if (index < 0 || index >= pages) problems.push(`${where}: page index ${index} outside folio ${folio}`);
      if (kind === "present" && memory !== "system") problems.push(`${where}: present entry maps device folio ${folio}`);
      if (kind === "device-private" && memory !== "device") problems.push(`${where}: device-private entry names system folio ${folio}`);
      if (kind === "migration") migrationEntries++;
      else {
        mapped.add(folio);
        if (pages > 1 && index < pages) {
          let perPage = mappedPagesOfLarge.get(folio);
          if (perPage === undefined) mappedPagesOfLarge.set(folio, (perPage = new Int32Array(pages)));
          perPage[index]!++;
        }
      }
    });
  }

  const allocated = { system: 0, device: 0 };
  for (const folio of state.folios.values()) {
    allocated[folio.memory] += folio.nrPages;
    const where = `folio ${folio.id}`;
    const mapcount = mapped.get(folio.id);
    if (folio.mapcount !== mapcount) problems.push(`${where}: mapcount ${folio.mapcount}, but ${mapcount} entries map it`);
    const perPage = mappedPagesOfLarge.get(folio.id);
    for (let index = 0; index < folio.nrPages; index++) {
      const count = folio.pageMapcount(index);
      const entries = perPage === undefined ? (folio.nrPages === 1 ? mapcount : 0) : perPage[index]!;
      if (count !== entries) problems.push(`${where}: page ${index} mapcount ${count}, but ${entries} entries map it`);
    }
    const sites = state.folios.mappings(folio.id);
    if (sites.length !== folio.mapcount) problems.push(`${where}: the rmap holds ${sites.length} mappings, mapcount is ${folio.mapcount}`);
    sites.forEach((site, i) => {
      const ptes = state.mms.get(site.mm)?.ptes;
      const kind = ptes?.kind(site.vpn);
      if (kind === undefined || kind === "migration" || ptes!.folio(site.vpn) !== folio.id) problems.push(`${where}: the rmap names mm ${site.mm} vpn ${site.vpn}, which does not map it`);
      const prev = sites[i - 1];
      if (prev !== undefined && prev.mm === site.mm && prev.vpn === site.vpn) problems.push(`${where}: the rmap names mm ${site.mm} vpn ${site.vpn} twice`);
    });
    if (folio.refcount < folio.mapcount + folio.pincount) {
      problems.push(`${where}: refcount ${folio.refcount} below mappings ${folio.mapcount} + pins ${folio.pincount}`);
    }
    if (folio.refcount === 0) problems.push(`${where}: refcount 0 but not freed (leaked)`);
    if (folio.memory === "device" && folio.pagemap < 0) problems.push(`${where}: device folio without a pagemap`);
    if (folio.memory === "device") {
      // An order-n device folio owns 2^n contiguous pfns from an aligned first one.
      if (folio.pfn % folio.nrPages !== 0) problems.push(`${where}: order ${folio.order} device folio at unaligned pfn ${folio.pfn}`);
      for (let i = 0; i < folio.nrPages; i++) {
        if (state.devicePages.get(folio.pfn + i) !== folio.id) problems.push(`${where}: device pfn ${folio.pfn + i} is not recorded as held by it`);
      }
    }
  }
  for (const [pfn, id] of state.devicePages) {
    const holds = state.folios.has(id) && pfn >= state.folios.pfn(id) && pfn < state.folios.pfn(id) + nrPages(state.folios.order(id));
    if (!holds) problems.push(`device pfn ${pfn}: recorded for folio ${id}, which does not hold it`);
  }
  for (const memory of ["system", "device"] as const) {
    if (allocated[memory] !== state.allocatedPages[memory]) {
      problems.push(`${memory} pages: counter says ${state.allocatedPages[memory]}, live folios hold ${allocated[memory]}`);
    }
  }
  // Every migration entry is recorded where it is, once: what remove_migration_ptes walks.
  let sites = 0;
  for (const [folio, list] of state.migrationSites) {
    for (const { mm, vpn } of list) {
      sites++;
      const ptes = state.mms.get(mm)?.ptes;
      if (ptes?.kind(vpn) !== "migration" || ptes.folio(vpn) !== folio) problems.push(`folio ${folio}: a migration site at mm ${mm} vpn ${vpn} holds no migration entry for it`);
    }
  }
  if (sites !== migrationEntries) problems.push(`${migrationEntries} migration entries, ${sites} migration sites recorded`);
  return problems;
}

/** Counts per folio id, in blocks of a typed array (ids are dense: handed out in order). */
class SparseCounter {
  private readonly blocks = new Map<number, Int32Array>();

  add(id: number): void {
    let block = this.blocks.get(id >>> 12);
    if (block === undefined) this.blocks.set(id >>> 12, (block = new Int32Array(4096)));
    block[id & 4095]!++;
  }

  get(id: number): number {
    return this.blocks.get(id >>> 12)?.[id & 4095] ?? 0;
  }
}
