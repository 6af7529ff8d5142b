import { copyHugePmd } from "./huge-memory.ts";
import { PTRS_PER_PTE } from "./page-table.ts";
import type { ProcessBody } from "../engine/index.ts";
import { folioGet } from "./folio.ts";
import { mmuNotifierInvalidate, mmuNotifierInvalidateEnd, type MmuNotifierRange } from "./mmu-notifier.ts";
import type { Kernel } from "./kernel.ts";
import { hasEntries, migratingEntry, mmCreate, mmOf } from "./mm.ts";
import type { PteState } from "./page-table.ts";
import { vmaInsert, vmaProps } from "./vma.ts";

/**
 * fork's dup_mmap under the parent's mmap write lock: the child gets a copy of every VMA and of
 * every entry, each copied entry taking its own folio reference. Private anonymous pages are
 * then shared copy-on-write (a write to a page mapped more than once copies it first, see
 * fault.ts); device-private entries are shared the same way, read-only (copy_nonpresent_pte), so
 * such a device page has two mappings until one side faults it back. Shared and file mappings stay
 * shared. Simplification: like mremap, the model waits for migration entries to resolve first,
 * where the kernel copies them. Returns the child's mm.
 */
export function* fork(k: Kernel, parent: number): ProcessBody<number> {
  const lock = k.mmapLock(parent);
  for (;;) {
    yield lock.downWrite();
    const vmas = mmOf(k, parent).vmas;
    let busy: number | null = null;
    for (const v of vmas) busy ??= migratingEntry(k, parent, v.startAddr, v.endAddr);
    if (busy === null) break;
    lock.upWrite();
    yield k.folioWaitQueue(busy).wait();
  }
  const child = mmCreate(k);
  const from = mmOf(k, parent);
  // copy_page_range write-protects private mappings for copy-on-write: secondary MMUs drop them first.
  const invalidated: MmuNotifierRange[] = [];
  for (const v of [...from.vmas]) {
    if (v.kind !== "anon-private") continue;
    const range: MmuNotifierRange = { mm: parent, start: v.startAddr, end: v.endAddr, event: "protection", owner: -1 };
    invalidated.push(range);
    yield* mmuNotifierInvalidate(k, range);
  }
  // An eviction takes no mmap lock: migration entries can have appeared during the notifier calls.
  for (;;) {
    let busy: number | null = null;
    for (const v of from.vmas) busy ??= migratingEntry(k, parent, v.startAddr, v.endAddr);
    if (busy === null) break;
    yield k.folioWaitQueue(busy).wait();
  }
  // From here to the unlock nothing yields: the child's view is the parent's at this event.
  k.commit({ kind: "mm.fork", mm: child, parent });
  // anon_vma_fork: a copied private anonymous VMA that has pages (the model's stand-in for having
  // an anon_vma) gets an anon_vma of its own, shared with nothing else in the child.
  for (const v of [...from.vmas]) {
    const ownAnonVma = v.kind === "anon-private" && hasEntries(k, parent, v.startAddr, v.endAddr);
    vmaInsert(k, child, { ...vmaProps(v), anonVma: ownAnonVma ? k.state.nextVmaId : v.anonVma });
  }
  // Entries in address order (keys() gives them so), so the event log follows the addresses.
  const vpns = from.ptes.keys();
  for (let at = 0; at < vpns.length; at++) {
    const vpn = vpns[at]!;
    if (from.ptes.pmd(vpn) !== undefined) {
      copyHugePmd(k, from, child, vpn); // a leaf's 512 pages are listed in a row
      at += PTRS_PER_PTE - 1;
      continue;
    }
    const pte = from.ptes.get(vpn)!;
    if (pte.kind === "present") copyPresentPte(k, child, vpn, pte);
    else copyNonpresentPte(k, child, vpn, pte);
  }
  // copy_page_range's invalidate_range_end: GPU faults waiting to read these ranges may go on.
  for (const range of invalidated) mmuNotifierInvalidateEnd(k, range);
  lock.upWrite();
  return child;
}

/**
 * copy_present_pte: the child maps the same page, with a reference and a mapping of its own
 * (folio_get, folio_try_dup_anon_rmap_pte). In a private mapping both entries become read-only
 * (ptep_set_wrprotect); the model's write-protect is the page being mapped twice
 * (pteWriteProtected in fault.ts), which the child's entry makes true.
 */
function copyPresentPte(k: Kernel, child: number, vpn: number, pte: PteState): void {
  folioGet(k, pte.folio);
  k.commit({ kind: "pte.set", mm: child, vpn, pteKind: "present", folio: pte.folio, index: pte.index });
}

/**
 * copy_nonpresent_pte for a device-private entry: a reference and a mapping for the child
 * (folio_get, folio_try_dup_anon_rmap_pte); a writable entry of a private (COW) mapping becomes
 * a read-only one in the parent too, and the child gets the read-only one. As for present pages,
 * the model's read-only is the second mapping itself: from here a write from either process,
 * CPU or GPU (HMM_PFN_REQ_WRITE), faults, brings the page back (migrate_to_ram) and copies it
 * (do_wp_page). Migration entries never get here: fork waited for them above.
 */
function copyNonpresentPte(k: Kernel, child: number, vpn: number, pte: PteState): void {
  if (pte.kind !== "device-private") throw new Error(`fork: a ${pte.kind} entry at vpn ${vpn} was not waited for`);
  folioGet(k, pte.folio);
  k.commit({ kind: "pte.set", mm: child, vpn, pteKind: "device-private", folio: pte.folio, index: pte.index });
}
