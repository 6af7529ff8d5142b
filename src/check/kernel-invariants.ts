import { nrPages, PAGE_SIZE } from "../kernel/constants.ts";
import { vmaLookup, type KernelState } from "../kernel/state.ts";

/**
 * Invariants of the simulated mm, checked from outside the model (it only reads the state).
 * Returns one line per violation; empty means all hold. Meant to run after every step in tests
 * and at the end of every run.
 */
export function checkKernelInvariants(state: KernelState): string[] {
  const problems: string[] = [];
  const mapped = new Map<number, number>();
  const mappedPages = new Map<string, number>();

  for (const mm of state.mms.values()) {
    for (let i = 1; i < mm.vmas.length; i++) {
      const prev = mm.vmas[i - 1]!;
      const vma = mm.vmas[i]!;
      if (prev.endAddr > vma.startAddr) problems.push(`mm ${mm.id}: vma ${prev.id} overlaps vma ${vma.id}`);
    }
    for (const [vpn, pte] of mm.ptes) {
      const where = `mm ${mm.id} vpn ${vpn}`;
      if (vmaLookup(mm, vpn * PAGE_SIZE) === undefined) problems.push(`${where}: entry outside every VMA`);
      const folio = state.folios.get(pte.folio);
      if (folio === undefined || folio.freed) {
        problems.push(`${where}: ${pte.kind} entry points at ${folio === undefined ? "no" : "a freed"} folio ${pte.folio}`);
        continue;
      }
      if (pte.index < 0 || pte.index >= nrPages(folio.order)) problems.push(`${where}: page index ${pte.index} outside folio ${folio.id}`);
      if (pte.kind === "present" && folio.memory !== "system") problems.push(`${where}: present entry maps device folio ${folio.id}`);
      if (pte.kind === "device-private" && folio.memory !== "device") problems.push(`${where}: device-private entry names system folio ${folio.id}`);
      if (pte.kind !== "migration") {
        mapped.set(folio.id, (mapped.get(folio.id) ?? 0) + 1);
        const key = `${folio.id}:${pte.index}`;
        mappedPages.set(key, (mappedPages.get(key) ?? 0) + 1);
      }
    }
  }

  const allocated = { system: 0, device: 0 };
  for (const folio of state.folios.values()) {
    if (folio.freed) continue;
    allocated[folio.memory] += nrPages(folio.order);
    const where = `folio ${folio.id}`;
    const mapcount = mapped.get(folio.id) ?? 0;
    if (folio.mapcount !== mapcount) problems.push(`${where}: mapcount ${folio.mapcount}, but ${mapcount} entries map it`);
    for (let index = 0; index < folio.nrPages; index++) {
      const count = folio.pageMapcount(index);
      const entries = mappedPages.get(`${folio.id}:${index}`) ?? 0;
      if (count !== entries) problems.push(`${where}: page ${index} mapcount ${count}, but ${entries} entries map it`);
    }
    const sites = state.folios.mappings(folio.id);
    if (sites.length !== folio.mapcount) problems.push(`${where}: the rmap holds ${sites.length} mappings, mapcount is ${folio.mapcount}`);
    sites.forEach((site, i) => {
      const pte = state.mms.get(site.mm)?.ptes.get(site.vpn);
      if (pte === undefined || pte.kind === "migration" || pte.folio !== folio.id) problems.push(`${where}: the rmap names mm ${site.mm} vpn ${site.vpn}, which does not map it`);
      const prev = sites[i - 1];
      if (prev !== undefined && prev.mm === site.mm && prev.vpn === site.vpn) problems.push(`${where}: the rmap names mm ${site.mm} vpn ${site.vpn} twice`);
    });
    if (folio.refcount < folio.mapcount + folio.pincount) {
      problems.push(`${where}: refcount ${folio.refcount} below mappings ${folio.mapcount} + pins ${folio.pincount}`);
    }
    if (folio.refcount === 0) problems.push(`${where}: refcount 0 but not freed (leaked)`);
    if (folio.memory === "device" && folio.pagemap < 0) problems.push(`${where}: device folio without a pagemap`);
    if (folio.memory === "device" && state.devicePages.get(folio.pfn) !== folio.id) {
      problems.push(`${where}: device pfn ${folio.pfn} is not recorded as held by it`);
    }
  }
  for (const [pfn, id] of state.devicePages) {
    const folio = state.folios.get(id);
    if (folio === undefined || folio.freed || folio.pfn !== pfn) problems.push(`device pfn ${pfn}: recorded for folio ${id}, which does not hold it`);
  }
  for (const memory of ["system", "device"] as const) {
    if (allocated[memory] !== state.allocatedPages[memory]) {
      problems.push(`${memory} pages: counter says ${state.allocatedPages[memory]}, live folios hold ${allocated[memory]}`);
    }
  }
  return problems;
}
