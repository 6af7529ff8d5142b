import { nrPages, PAGE_SIZE } from "./constants.ts";
import type { KernelEvent } from "./events.ts";
import type { FolioTable } from "./folio-table.ts";
import { addMigrationSite, assertLive, dropMigrationSite, getMm, IllegalTransition } from "./apply-common.ts";
import { setPmd, splitPmd, unmapPmd } from "./apply-pmd.ts";
import { applyFolioSplit } from "./apply-split.ts";
import { PageTable, PTRS_PER_PTE } from "./page-table.ts";
import type { KernelState } from "./state.ts";

export { IllegalTransition } from "./apply-common.ts";

/**
 * The one function that changes KernelState. The live run and replay both call it, so they
 * cannot drift apart. It refuses transitions the kernel could never make (a put below zero, a
 * double free, a second lock owner) instead of corrupting the state.
 */
export function applyKernelEvent(state: KernelState, ev: KernelEvent): void {
  switch (ev.kind) {
    case "mm.create": {
      expectId("mm", ev.mm, state.nextMmId);
      state.mms.set(ev.mm, { id: ev.mm, users: 1, vmas: [], ptes: new PageTable(), notifierSeq: 2, activeInvalidations: 0 });
      state.nextMmId++;
      return;
    }
    case "mmget": {
      const mm = getMm(state, ev.mm);
      if (mm.users === 0) throw new IllegalTransition(`mmget on mm ${ev.mm} with no users left`);
      mm.users++;
      return;
    }
    case "mmput": {
      const mm = getMm(state, ev.mm);
      if (mm.users === 0) throw new IllegalTransition(`mmput on mm ${ev.mm} with no users`);
      mm.users--;
      return;
    }
    case "vma.insert": {
      expectId("vma", ev.vma, state.nextVmaId);
      const mm = getMm(state, ev.mm);
      if (ev.startAddr % PAGE_SIZE !== 0 || ev.endAddr % PAGE_SIZE !== 0 || ev.endAddr <= ev.startAddr) {
        throw new IllegalTransition(`vma ${ev.vma}: [${ev.startAddr}, ${ev.endAddr}) is not a page-aligned range`);
      }
      for (const other of mm.vmas) {
        if (ev.startAddr < other.endAddr && other.startAddr < ev.endAddr) {
          throw new IllegalTransition(`vma ${ev.vma} overlaps vma ${other.id} in mm ${ev.mm}`);
        }
      }
      const vma = { id: ev.vma, mm: ev.mm, startAddr: ev.startAddr, endAddr: ev.endAddr, kind: ev.vmaKind, read: ev.read, write: ev.write, pgoff: ev.pgoff, file: ev.file, anonVma: ev.anonVma };
      mm.vmas.push(vma);
      mm.vmas.sort((a, b) => a.startAddr - b.startAddr);
      state.vmas.set(ev.vma, vma);
      state.nextVmaId++;
      return;
    }
    case "vma.remove": {
      const mm = getMm(state, ev.mm);
      const index = mm.vmas.findIndex((v) => v.id === ev.vma);
      if (index < 0) throw new IllegalTransition(`vma ${ev.vma} is not in mm ${ev.mm}`);
      mm.vmas.splice(index, 1);
      state.vmas.delete(ev.vma);
      return;
    }
    case "folio.alloc": {
      expectId("folio", ev.folio, state.nextFolioId);
      if (ev.memory === "device") {
        // zone_device_folio_init: an order-n folio takes 2^n contiguous pfns, the first aligned.
        const n = nrPages(ev.order);
        if (ev.pfn % n !== 0) throw new IllegalTransition(`device folio ${ev.folio}: order ${ev.order} at pfn ${ev.pfn}, not a multiple of ${n}`);
        for (let pfn = ev.pfn; pfn < ev.pfn + n; pfn++) {
          const holder = state.devicePages.get(pfn);
          if (holder !== undefined) throw new IllegalTransition(`device pfn ${pfn} already in use by folio ${holder}`);
        }
        for (let pfn = ev.pfn; pfn < ev.pfn + n; pfn++) state.devicePages.set(pfn, ev.folio);
      }
      state.folios.add(ev.folio, ev.order, ev.memory, ev.pagemap, ev.memory === "device" ? ev.pfn : -1);
      state.allocatedPages[ev.memory] += nrPages(ev.order);
      state.nextFolioId++;
      return;
    }
    case "folio.get": {
      const folios = state.folios;
      assertLive(state, ev.folio);
      folios.setRefcount(ev.folio, folios.refcount(ev.folio) + 1);
      return;
    }
    case "folio.put": {
      const folios = state.folios;
      assertLive(state, ev.folio);
      const refcount = folios.refcount(ev.folio);
      if (refcount === 0) throw new IllegalTransition(`folio ${ev.folio}: put with refcount 0`);
      folios.setRefcount(ev.folio, refcount - 1);
      return;
    }
    case "folio.free": {
      const folios = state.folios;
      assertLive(state, ev.folio);
      const refcount = folios.refcount(ev.folio);
      if (refcount !== 0) throw new IllegalTransition(`folio ${ev.folio}: freed with refcount ${refcount}`);
      if (folios.lockOwner(ev.folio) !== -1) throw new IllegalTransition(`folio ${ev.folio}: freed while locked`);
      const memory = folios.memory(ev.folio);
      // free_zone_device_folio_prepare: every pfn of the folio is free again, at any size.
      if (memory === "device") for (let i = 0, pfn = folios.pfn(ev.folio); i < nrPages(folios.order(ev.folio)); i++) state.devicePages.delete(pfn + i);
      state.allocatedPages[memory] -= nrPages(folios.order(ev.folio));
      // Forgotten, so a long run's state holds only live folios; ids below nextFolioId that are
      // missing are known to be freed (see assertLive).
      folios.remove(ev.folio);
      return;
    }
    case "folio.lock": {
      const folios = state.folios;
      assertLive(state, ev.folio);
      const holder = folios.lockOwner(ev.folio);
      if (holder !== -1) throw new IllegalTransition(`folio ${ev.folio}: locked by ${ev.owner} while held by ${holder}`);
      folios.setLockOwner(ev.folio, ev.owner);
      return;
    }
    case "folio.unlock": {
      const folios = state.folios;
      assertLive(state, ev.folio);
      if (folios.lockOwner(ev.folio) === -1) throw new IllegalTransition(`folio ${ev.folio}: unlocked while not locked`);
      folios.setLockOwner(ev.folio, -1);
      return;
    }
    case "folio.pin": {
      const folios = state.folios;
      assertLive(state, ev.folio);
      folios.setRefcount(ev.folio, folios.refcount(ev.folio) + 1);
      folios.setPincount(ev.folio, folios.pincount(ev.folio) + 1);
      return;
    }
    case "folio.unpin": {
      const folios = state.folios;
      assertLive(state, ev.folio);
      const pins = folios.pincount(ev.folio);
      if (pins === 0) throw new IllegalTransition(`folio ${ev.folio}: unpin without a pin`);
      folios.setPincount(ev.folio, pins - 1);
      folios.setRefcount(ev.folio, folios.refcount(ev.folio) - 1);
      return;
    }
    case "folio.split": {
      applyFolioSplit(state, ev.folio, ev.firstNew);
      return;
    }
    case "folio.set_zdd": {
      const folios = state.folios;
      assertLive(state, ev.folio);
      if (folios.memory(ev.folio) !== "device") throw new IllegalTransition(`folio ${ev.folio}: zone_device_data on a system folio`);
      folios.setZdd(ev.folio, ev.zdd);
      return;
    }
    case "pte.set": {
      const mm = getMm(state, ev.mm);
      const folios = state.folios;
      assertLive(state, ev.folio);
      checkIndex(folios, ev.folio, ev.index);
      const oldKind = mm.ptes.kind(ev.vpn);
      if (oldKind !== undefined && oldKind !== "migration") {
        throw new IllegalTransition(`mm ${ev.mm} vpn ${ev.vpn}: set over a live ${oldKind} entry`);
      }
      // An old entry here is a migration entry, which holds no mapping to undo.
      if (oldKind === "migration") dropMigrationSite(state, mm.ptes.folio(ev.vpn), ev.mm, ev.vpn);
      mm.ptes.set(ev.vpn, ev.pteKind, ev.folio, ev.index);
      if (ev.pteKind === "migration") addMigrationSite(state, ev.folio, ev.mm, ev.vpn);
      if (ev.pteKind !== "migration") {
        folios.addMapping(ev.folio, ev.mm, ev.vpn);
        folios.setMapcount(ev.folio, folios.mapcount(ev.folio) + 1);
        folios.setPageMapcount(ev.folio, ev.index, folios.pageMapcount(ev.folio, ev.index) + 1);
      }
      return;
    }
    case "pte.clear": {
      const mm = getMm(state, ev.mm);
      const kind = mm.ptes.kind(ev.vpn);
      if (kind === undefined) throw new IllegalTransition(`mm ${ev.mm} vpn ${ev.vpn}: clear of an empty entry`);
      unmapEntry(state, ev.mm, ev.vpn, kind, mm.ptes.folio(ev.vpn), mm.ptes.index(ev.vpn));
      if (kind === "migration") dropMigrationSite(state, mm.ptes.folio(ev.vpn), ev.mm, ev.vpn);
      mm.ptes.delete(ev.vpn);
      return;
    }
    case "pmd.set": {
      setPmd(state, ev.mm, ev.vpn, ev.pteKind, ev.folio);
      return;
    }
    case "pmd.clear": {
      const ptes = getMm(state, ev.mm).ptes;
      const leaf = ptes.pmd(ev.vpn);
      if (leaf === undefined || ev.vpn % PTRS_PER_PTE !== 0) throw new IllegalTransition(`mm ${ev.mm} vpn ${ev.vpn}: clear of a PMD leaf that is not there`);
      if (leaf.kind === "migration") dropMigrationSite(state, leaf.folio, ev.mm, ev.vpn);
      else unmapPmd(state, ev.mm, ev.vpn, leaf.folio);
      ptes.clearPmd(ev.vpn);
      return;
    }
    case "pmd.split": {
      splitPmd(state, ev.mm, ev.vpn, ev.freeze);
      return;
    }
    case "page.write": {
      const folios = state.folios;
      assertLive(state, ev.folio);
      checkIndex(folios, ev.folio, ev.index);
      folios.setVersion(ev.folio, ev.index, ev.version);
      return;
    }
    case "page.copy": {
      const folios = state.folios;
      assertLive(state, ev.srcFolio);
      assertLive(state, ev.dstFolio);
      checkIndex(folios, ev.srcFolio, ev.srcIndex);
      checkIndex(folios, ev.dstFolio, ev.dstIndex);
      folios.setVersion(ev.dstFolio, ev.dstIndex, folios.version(ev.srcFolio, ev.srcIndex));
      return;
    }
    case "page.read": {
      // Nothing changes; a read that names a version its page does not hold is a corrupt log.
      assertLive(state, ev.folio);
      checkIndex(state.folios, ev.folio, ev.index);
      const held = state.folios.version(ev.folio, ev.index);
      if (held !== ev.version) throw new IllegalTransition(`folio ${ev.folio} page ${ev.index}: a read saw version ${ev.version}, the page holds ${held}`);
      return;
    }
    case "fault.nap": {
      const asked = state.napsNs.get(ev.thread);
      if (asked !== ev.durationNs) throw new IllegalTransition(`thread ${ev.thread} naps ${ev.durationNs} ns, but ${asked === undefined ? "no nap was asked for" : `${asked} ns were asked for`}`);
      state.napsNs.delete(ev.thread);
      return;
    }
    case "mmu_notifier.begin": {
      const mm = getMm(state, ev.mm);
      mm.activeInvalidations++;
      mm.notifierSeq |= 1;
      return;
    }
    case "mmu_notifier.end": {
      const mm = getMm(state, ev.mm);
      if (mm.activeInvalidations === 0) throw new IllegalTransition(`mmu notifier: invalidate_range_end of mm ${ev.mm} without a start`);
      mm.activeInvalidations--;
      if (mm.activeInvalidations === 0 && (mm.notifierSeq & 1) === 1) mm.notifierSeq++;
      return;
    }
    case "handle_mm_fault.begin":
    case "handle_mm_fault.end":
    case "mm.fork":
    case "mm.unmap":
    case "mm.move":
      return; // recorded for analysis and the write-version check; no state changes
    default: {
      // Every kind is listed above (the compiler checks it); one from a corrupt log is an error.
      const unknown: never = ev;
      throw new IllegalTransition(`unknown kernel event kind ${(unknown as { kind: string }).kind}`);
    }
  }
}

function unmapEntry(state: KernelState, mm: number, vpn: number, kind: string, folio: number, index: number): void {
  if (kind === "migration") return;
  const folios = state.folios;
  assertLive(state, folio);
  const mapcount = folios.mapcount(folio);
  const pageMapcount = folios.pageMapcount(folio, index);
  if (mapcount === 0 || pageMapcount === 0) throw new IllegalTransition(`folio ${folio}: unmapped more often than mapped`);
  if (!folios.removeMapping(folio, mm, vpn)) throw new IllegalTransition(`folio ${folio}: the rmap has no mapping at mm ${mm} vpn ${vpn}`);
  folios.setMapcount(folio, mapcount - 1);
  folios.setPageMapcount(folio, index, pageMapcount - 1);
}

function expectId(what: string, got: number, next: number): void {
  if (got !== next) throw new IllegalTransition(`${what} id ${got} out of order: the next ${what} id is ${next}`);
}

function checkIndex(folios: FolioTable, id: number, index: number): void {
  const pages = nrPages(folios.order(id));
  if (!(index >= 0 && index < pages)) {
    throw new IllegalTransition(`folio ${id}: page index ${index} outside its ${pages} pages`);
  }
}
