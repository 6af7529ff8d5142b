import { nrPages, PAGE_SIZE } from "./constants.ts";
import type { KernelEvent } from "./events.ts";
import type { FolioState, KernelState, MmState } from "./state.ts";

/** An event that cannot happen to the state it is applied to: a model bug, or a corrupt log. */
export class IllegalTransition extends Error {
  override name = "IllegalTransition";
}

/**
 * The one function that changes KernelState. The live run and replay both call it, so they
 * cannot drift apart. It refuses transitions the kernel could never make (a put below zero, a
 * double free, a second lock owner) instead of corrupting the state.
 */
export function applyKernelEvent(state: KernelState, ev: KernelEvent): void {
  switch (ev.kind) {
    case "mm.create": {
      expectId("mm", ev.mm, state.nextMmId);
      state.mms.set(ev.mm, { id: ev.mm, users: 1, vmas: [], ptes: new Map() });
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
      const vma = { id: ev.vma, mm: ev.mm, startAddr: ev.startAddr, endAddr: ev.endAddr, kind: ev.vmaKind, read: ev.read, write: ev.write };
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
        const holder = state.devicePages.get(ev.pfn);
        if (holder !== undefined) throw new IllegalTransition(`device pfn ${ev.pfn} already in use by folio ${holder}`);
        if (ev.order !== 0) throw new IllegalTransition(`device folio ${ev.folio}: the seed's device pages are order 0`);
        state.devicePages.set(ev.pfn, ev.folio);
      }
      state.folios.set(ev.folio, {
        id: ev.folio,
        order: ev.order,
        memory: ev.memory,
        pagemap: ev.pagemap,
        pfn: ev.memory === "device" ? ev.pfn : -1,
        refcount: 1,
        pincount: 0,
        mapcount: 0,
        pageMapcount: new Array<number>(nrPages(ev.order)).fill(0),
        lockOwner: -1,
        zdd: -1,
        versions: new Array<number>(nrPages(ev.order)).fill(0),
        freed: false,
      });
      state.allocatedPages[ev.memory] += nrPages(ev.order);
      state.nextFolioId++;
      return;
    }
    case "folio.get":
      getFolio(state, ev.folio).refcount++;
      return;
    case "folio.put": {
      const folio = getFolio(state, ev.folio);
      if (folio.refcount === 0) throw new IllegalTransition(`folio ${ev.folio}: put with refcount 0`);
      folio.refcount--;
      return;
    }
    case "folio.free": {
      const folio = getFolio(state, ev.folio);
      if (folio.refcount !== 0) throw new IllegalTransition(`folio ${ev.folio}: freed with refcount ${folio.refcount}`);
      if (folio.lockOwner !== -1) throw new IllegalTransition(`folio ${ev.folio}: freed while locked`);
      folio.freed = true;
      if (folio.memory === "device") state.devicePages.delete(folio.pfn);
      state.allocatedPages[folio.memory] -= nrPages(folio.order);
      // Forgotten, so a long run's state holds only live folios; ids below nextFolioId that are
      // missing are known to be freed (see getFolio).
      state.folios.delete(folio.id);
      return;
    }
    case "folio.lock": {
      const folio = getFolio(state, ev.folio);
      if (folio.lockOwner !== -1) throw new IllegalTransition(`folio ${ev.folio}: locked by ${ev.owner} while held by ${folio.lockOwner}`);
      folio.lockOwner = ev.owner;
      return;
    }
    case "folio.unlock": {
      const folio = getFolio(state, ev.folio);
      if (folio.lockOwner === -1) throw new IllegalTransition(`folio ${ev.folio}: unlocked while not locked`);
      folio.lockOwner = -1;
      return;
    }
    case "folio.pin": {
      const folio = getFolio(state, ev.folio);
      folio.refcount++;
      folio.pincount++;
      return;
    }
    case "folio.unpin": {
      const folio = getFolio(state, ev.folio);
      if (folio.pincount === 0) throw new IllegalTransition(`folio ${ev.folio}: unpin without a pin`);
      folio.pincount--;
      folio.refcount--;
      return;
    }
    case "folio.split": {
      splitFolio(state, ev.folio, ev.firstNew);
      return;
    }
    case "folio.set_zdd": {
      const folio = getFolio(state, ev.folio);
      if (folio.memory !== "device") throw new IllegalTransition(`folio ${ev.folio}: zone_device_data on a system folio`);
      folio.zdd = ev.zdd;
      return;
    }
    case "pte.set": {
      const mm = getMm(state, ev.mm);
      const folio = getFolio(state, ev.folio);
      checkIndex(folio, ev.index);
      const old = mm.ptes.get(ev.vpn);
      if (old !== undefined && old.kind !== "migration") {
        throw new IllegalTransition(`mm ${ev.mm} vpn ${ev.vpn}: set over a live ${old.kind} entry`);
      }
      if (old !== undefined) unmapEntry(state, old);
      mm.ptes.set(ev.vpn, { kind: ev.pteKind, folio: ev.folio, index: ev.index });
      if (ev.pteKind !== "migration") {
        folio.mapcount++;
        folio.pageMapcount[ev.index]!++;
      }
      return;
    }
    case "pte.clear": {
      const mm = getMm(state, ev.mm);
      const old = mm.ptes.get(ev.vpn);
      if (old === undefined) throw new IllegalTransition(`mm ${ev.mm} vpn ${ev.vpn}: clear of an empty entry`);
      unmapEntry(state, old);
      mm.ptes.delete(ev.vpn);
      return;
    }
    case "page.write": {
      const folio = getFolio(state, ev.folio);
      checkIndex(folio, ev.index);
      folio.versions[ev.index] = ev.version;
      return;
    }
    case "page.copy": {
      const src = getFolio(state, ev.srcFolio);
      const dst = getFolio(state, ev.dstFolio);
      checkIndex(src, ev.srcIndex);
      checkIndex(dst, ev.dstIndex);
      dst.versions[ev.dstIndex] = src.versions[ev.srcIndex]!;
      return;
    }
    case "handle_mm_fault.begin":
    case "handle_mm_fault.end":
      return; // a step's entry and outcome, recorded for analysis; no state changes
  }
}

function splitFolio(state: KernelState, id: number, firstNew: number): void {
  const folio = getFolio(state, id);
  if (folio.order === 0 || folio.memory !== "system") throw new IllegalTransition(`folio ${id}: only a system THP splits`);
  if (folio.lockOwner === -1) throw new IllegalTransition(`folio ${id}: split while not locked`);
  if (folio.pincount !== 0 || folio.refcount !== folio.mapcount + 1) {
    throw new IllegalTransition(`folio ${id}: split with refcount ${folio.refcount}, mapcount ${folio.mapcount}, pins ${folio.pincount}`);
  }
  expectId("folio", firstNew, state.nextFolioId);
  const n = folio.versions.length;
  const ids = Array.from({ length: n }, (_, i) => (i === 0 ? id : firstNew + i - 1));
  const mapcounts = new Array<number>(n).fill(0);
  for (const mm of state.mms.values()) {
    for (const [vpn, pte] of mm.ptes) {
      if (pte.folio !== id) continue;
      if (pte.kind !== "migration") mapcounts[pte.index]!++;
      mm.ptes.set(vpn, { kind: pte.kind, folio: ids[pte.index]!, index: 0 });
    }
  }
  for (let i = 1; i < n; i++) {
    state.folios.set(ids[i]!, {
      id: ids[i]!,
      order: 0,
      memory: "system",
      pagemap: -1,
      pfn: -1,
      refcount: mapcounts[i]! + 1,
      pincount: 0,
      mapcount: mapcounts[i]!,
      pageMapcount: [mapcounts[i]!],
      lockOwner: -1,
      zdd: -1,
      versions: [folio.versions[i]!],
      freed: false,
    });
  }
  state.nextFolioId += n - 1;
  folio.order = 0;
  folio.refcount = mapcounts[0]! + 1;
  folio.mapcount = mapcounts[0]!;
  folio.pageMapcount = [mapcounts[0]!];
  folio.versions = [folio.versions[0]!];
}

function unmapEntry(state: KernelState, pte: { kind: string; folio: number; index: number }): void {
  if (pte.kind === "migration") return;
  const folio = getFolio(state, pte.folio);
  if (folio.mapcount === 0 || folio.pageMapcount[pte.index] === 0) throw new IllegalTransition(`folio ${pte.folio}: unmapped more often than mapped`);
  folio.mapcount--;
  folio.pageMapcount[pte.index]!--;
}

function expectId(what: string, got: number, next: number): void {
  if (got !== next) throw new IllegalTransition(`${what} id ${got} out of order: the next ${what} id is ${next}`);
}

function getMm(state: KernelState, id: number): MmState {
  const mm = state.mms.get(id);
  if (mm === undefined) throw new IllegalTransition(`no mm ${id}`);
  return mm;
}

function getFolio(state: KernelState, id: number): FolioState {
  const folio = state.folios.get(id);
  if (folio === undefined) throw new IllegalTransition(id >= 0 && id < state.nextFolioId ? `folio ${id} used after free` : `no folio ${id}`);
  if (folio.freed) throw new IllegalTransition(`folio ${id} used after free`);
  return folio;
}

function checkIndex(folio: FolioState, index: number): void {
  if (!(index >= 0 && index < folio.versions.length)) {
    throw new IllegalTransition(`folio ${folio.id}: page index ${index} outside its ${folio.versions.length} pages`);
  }
}
