import { splitHugePmd } from "./huge-memory.ts";
import { sleep, spin, type ProcessBody } from "../engine/index.ts";
import { alignDown, HPAGE_PMD_ORDER, HPAGE_PMD_NR, PAGE_SIZE } from "./constants.ts";
import { folioAlloc, folioGet, folioOf, folioPut, folioTrylock, folioUnlock } from "./folio.ts";
import { VM_FAULT_SIGBUS, type Kernel } from "./kernel.ts";
import { mmOf } from "./mm.ts";
import { vmaLookup } from "./state.ts";
import type { FaultOutcome } from "./events.ts";
import { mmuNotifierInvalidate, mmuNotifierInvalidateEnd, type MmuNotifierRange } from "./mmu-notifier.ts";

export type AccessKind = "read" | "write";

/** How an access ended: it completed, or the thread got a signal. */
export type AccessOutcome = FaultOutcome;

export interface AccessResult {
  outcome: AccessOutcome;
  /** The data version read, or written (a write bumps the page's version by one). */
  version: number;
  /** Page faults the access took; more than one means it re-faulted (e.g. a timeslice spin). */
  faults: number;
  /** Time asleep between faults: a throttling driver's naps (spinning re-faults are read from the log). */
  napNs: number;
}


/**
 * A CPU load or store by the running thread: it completes through a present entry, or faults
 * and tries again, exactly as the hardware re-executes a faulting instruction, for as long as it
 * takes. An access that can never complete is the run's to notice (src/check/hung-fault.ts).
 */
export function* cpuAccess(k: Kernel, mm: number, addr: number, access: AccessKind): ProcessBody<AccessResult> {
  let napNs = 0;
  for (let faults = 0; ; faults++) {
    const version = accessPresent(k, mm, addr, access);
    if (version >= 0) return { outcome: "ok", version, faults, napNs };
    const outcome = yield* handleMmFault(k, mm, addr, access);
    if (outcome !== "ok") return { outcome, version: -1, faults: faults + 1, napNs };
    // A driver that throttled this fault sleeps now, its locks dropped, before the retry.
    const nap = k.takeNap();
    if (nap > 0) {
      napNs += nap;
      yield sleep(nap);
    }
  }
}

/**
 * The access as the MMU completes it without a fault, through a present entry that permits it
 * (a write, one that needs no copy-on-write): it takes effect at once and returns the data version
 * read or written. -1 when it must fault, with nothing done, so that a caller may ask first and
 * only then go through cpuAccess (the workload marks only accesses that fault: src/machine/events.ts).
 */
export function accessPresent(k: Kernel, mm: number, addr: number, access: AccessKind): number {
  const vpn = Math.floor(addr / PAGE_SIZE);
  const state = mmOf(k, mm);
  const vma = vmaLookup(state, addr);
  // The entry read field by field in place: every access of every thread comes through here.
  const folio = state.ptes.folio(vpn);
  const index = state.ptes.index(vpn);
  if (state.ptes.kind(vpn) !== "present" || vma === undefined || !(access === "read" ? vma.read : vma.write) || (access === "write" && mustCopyOnWrite(k, vma.kind, folio, index))) return -1;
  const current = k.state.folios.version(folio, index);
  if (access === "read") {
    k.commit({ kind: "page.read", mm, vpn, folio, index, version: current });
    return current;
  }
  k.commit({ kind: "page.write", mm, vpn, folio, index, version: current + 1 });
  return current + 1;
}

/**
 * handle_mm_fault under mmap_read_lock. Returns "ok" when the access should simply be retried
 * (the entry is now present, or another thread is still migrating it, or the device page's
 * timeslice has not expired), or the signal the thread gets.
 */
export function* handleMmFault(k: Kernel, mm: number, addr: number, access: AccessKind): ProcessBody<FaultOutcome> {
  yield spin(k.costs.faultEntryNs);
  k.commit({ kind: "handle_mm_fault.begin", mm, addr, access });
  const lock = k.mmapLock(mm);
  yield lock.downRead();
  const outcome = yield* handlePteFault(k, mm, addr, access);
  lock.upRead();
  k.commit({ kind: "handle_mm_fault.end", outcome });
  return outcome;
}

function* handlePteFault(k: Kernel, mm: number, addr: number, access: AccessKind): ProcessBody<FaultOutcome> {
  const state = mmOf(k, mm);
  const vma = vmaLookup(state, addr);
  if (vma === undefined || !(access === "read" ? vma.read : vma.write)) return "SIGSEGV";
  const vpn = Math.floor(addr / PAGE_SIZE);
  const pte = state.ptes.get(vpn);
  if (pte === undefined) {
    if (k.thp === "always" && vma.kind === "anon-private") {
      const done = yield* doHugePmdAnonymousPage(k, mm, vma.startAddr, vma.endAddr, addr);
      if (done !== "fallback") return done;
    }
    return yield* doAnonymousPage(k, mm, vpn);
  }
  if (pte.kind === "present") {
    if (access === "write" && mustCopyOnWrite(k, vma.kind, pte.folio, pte.index)) {
      // do_huge_pmd_wp_page: a shared THP is not reused; the PMD splits and the PTE fault copies.
      splitHugePmd(k, mm, vpn, false);
      return yield* doWpPage(k, mm, vpn, pte.folio, pte.index);
    }
    return "ok"; // raced with another fault that populated it
  }
  if (pte.kind === "migration") {
    yield* migrationEntryWait(k, mm, vpn, pte.folio);
    return "ok";
  }
  // Read or write alike: a device-private entry comes back to RAM first. A write to one that
  // fork made read-only then faults again on the (still shared) present page: do_wp_page copies.
  if (state.ptes.pmd(vpn) !== undefined) return yield* doHugePmdDevicePrivate(k, mm, vma.id, addr, pte.folio, pte.index);
  return yield* doSwapPageDevicePrivate(k, mm, vma.id, addr, pte.folio, pte.index);
}

/**
 * do_huge_pmd_device_private (__handle_mm_fault on a device-private PMD, Balbir Singh's series):
 * the PTE twin's steps for the whole folio. Trylock it (failure: return, the access faults
 * again); hold a reference across the pagemap's migrate_to_ram; unlock and put.
 */
function* doHugePmdDevicePrivate(k: Kernel, mm: number, vma: number, addr: number, folio: number, index: number): ProcessBody<FaultOutcome> {
  if (!folioTrylock(k, folio)) return "ok";
  folioGet(k, folio);
  const ops = k.pagemap(folioOf(k, folio).pagemap);
  const ret = yield* ops.migrateToRam({ mm, vma, addr, folio, index });
  folioUnlock(k, folio);
  yield* folioPut(k, folio);
  return ret === VM_FAULT_SIGBUS ? "SIGBUS" : "ok";
}

/**
 * do_huge_pmd_anonymous_page: the 2 MiB block around the fault, if it lies inside the VMA and is
 * still empty, gets one zeroed order-9 folio mapped by one PMD leaf (one reference, one mapping).
 * A failed THP allocation falls back to a 4 KiB page, as the kernel does.
 */
function* doHugePmdAnonymousPage(k: Kernel, mm: number, vmaStart: number, vmaEnd: number, addr: number): ProcessBody<FaultOutcome | "fallback"> {
  const pages = HPAGE_PMD_NR;
  const blockStart = alignDown(addr, pages * PAGE_SIZE);
  if (blockStart < vmaStart || blockStart + pages * PAGE_SIZE > vmaEnd || !blockEmpty(k, mm, Math.floor(blockStart / PAGE_SIZE), pages)) return "fallback";
  const folio = folioAlloc(k, HPAGE_PMD_ORDER, "system");
  if (folio === null) return "fallback";
  yield spin(pages * k.costs.pageZeroNs);
  if (!blockEmpty(k, mm, Math.floor(blockStart / PAGE_SIZE), pages)) {
    yield* folioPut(k, folio); // raced: someone populated part of the block meanwhile
    return "ok";
  }
  // One PMD leaf: the allocation's reference becomes the mapping's.
  k.commit({ kind: "pmd.set", mm, vpn: Math.floor(blockStart / PAGE_SIZE), pteKind: "present", folio });
  return "ok";
}

function blockEmpty(k: Kernel, mm: number, firstVpn: number, pages: number): boolean {
  const ptes = mmOf(k, mm).ptes;
  for (let vpn = firstVpn; vpn < firstVpn + pages; vpn++) if (ptes.has(vpn)) return false;
  return true;
}

/** A write to a private anonymous page that another mapping shares (after fork) must copy it. */
export function mustCopyOnWrite(k: Kernel, vmaKind: string, folio: number, index: number): boolean {
  return vmaKind === "anon-private" && k.state.folios.pageMapcount(folio, index) > 1;
}

/**
 * !pte_write / !is_writable_device_private_entry: whether a write through this entry must fault
 * first. The model keeps no write bit: fork write-protects a private mapping's entries, present
 * and device-private alike (copy_present_pte, copy_nonpresent_pte), exactly while the page is
 * mapped more than once, so "read-only" is "shared copy-on-write" (mustCopyOnWrite).
 */
export function pteWriteProtected(k: Kernel, vmaKind: string, folio: number, index: number): boolean {
  return mustCopyOnWrite(k, vmaKind, folio, index);
}

/**
 * do_wp_page's copy path (wp_page_copy): a new 4 KiB page with the shared page's data replaces
 * this mapping's entry, and the shared page loses this mapping's reference.
 */
function* doWpPage(k: Kernel, mm: number, vpn: number, oldFolio: number, oldIndex: number): ProcessBody<FaultOutcome> {
  const folio = folioAlloc(k, 0, "system");
  if (folio === null) return "OOM";
  yield spin(k.costs.pageZeroNs); // copying a page costs about what clearing one does
  const range: MmuNotifierRange = { mm, start: vpn * PAGE_SIZE, end: (vpn + 1) * PAGE_SIZE, event: "clear", owner: -1 };
  yield* mmuNotifierInvalidate(k, range);
  const now = mmOf(k, mm).ptes.get(vpn);
  if (now === undefined || now.kind !== "present" || now.folio !== oldFolio || now.index !== oldIndex) {
    mmuNotifierInvalidateEnd(k, range);
    yield* folioPut(k, folio); // the entry changed meanwhile: retry the access
    return "ok";
  }
  k.commit({ kind: "page.copy", srcFolio: oldFolio, srcIndex: oldIndex, dstFolio: folio, dstIndex: 0 });
  k.commit({ kind: "pte.clear", mm, vpn });
  k.commit({ kind: "pte.set", mm, vpn, pteKind: "present", folio, index: 0 });
  mmuNotifierInvalidateEnd(k, range);
  yield* folioPut(k, oldFolio);
  return "ok";
}

/** do_anonymous_page (and, simplified, a page-cache fill for file VMAs): a zeroed order-0 page. */
function* doAnonymousPage(k: Kernel, mm: number, vpn: number): ProcessBody<FaultOutcome> {
  const folio = folioAlloc(k, 0, "system");
  if (folio === null) return "OOM";
  yield spin(k.costs.pageZeroNs);
  // Under the page table lock the entry is checked again: another fault, or a migration
  // filling the hole, may have got there while the page was being cleared.
  if (mmOf(k, mm).ptes.has(vpn)) {
    yield* folioPut(k, folio);
    return "ok";
  }
  // The allocation's reference becomes the mapping's.
  k.commit({ kind: "pte.set", mm, vpn, pteKind: "present", folio, index: 0 });
  return "ok";
}

/**
 * do_swap_page on a device-private entry (kernels of the seed's vintage): trylock the device
 * page; on failure return and let the access fault again. Otherwise hold a reference across
 * dev_pagemap_ops.migrate_to_ram, then unlock and put the page's folio; that put can be its last
 * reference, so page_free may run here, in the faulting thread.
 */
function* doSwapPageDevicePrivate(k: Kernel, mm: number, vma: number, addr: number, folio: number, index: number): ProcessBody<FaultOutcome> {
  if (!folioTrylock(k, folio)) return "ok";
  folioGet(k, folio);
  const pfn = folioOf(k, folio).pfn + index; // vmf->page
  const ops = k.pagemap(folioOf(k, folio).pagemap);
  const ret = yield* ops.migrateToRam({ mm, vma, addr, folio, index });
  // page_folio(vmf->page): a device THP split during the migration moved the lock and the
  // reference onto the fault page's own folio (migrate_vma_split_folio).
  const now = k.state.devicePages.get(pfn) ?? folio;
  folioUnlock(k, now);
  yield* folioPut(k, now);
  return ret === VM_FAULT_SIGBUS ? "SIGBUS" : "ok";
}

/** migration_entry_wait: sleep until the migrating thread unlocks the page (or the entry goes). */
function* migrationEntryWait(k: Kernel, mm: number, vpn: number, folio: number): ProcessBody<void> {
  for (;;) {
    const pte = mmOf(k, mm).ptes.get(vpn);
    if (pte === undefined || pte.kind !== "migration" || pte.folio !== folio) return;
    const f = k.state.folios.get(folio);
    if (f === undefined || f.freed || f.lockOwner === -1) return;
    yield k.folioWaitQueue(folio).wait();
  }
}
