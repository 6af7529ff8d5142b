import type { ProcessBody } from "../engine/index.ts";
import { HPAGE_PMD_SIZE, PAGE_SIZE } from "./constants.ts";
import { folioGet, folioPut } from "./folio.ts";
import type { Kernel } from "./kernel.ts";
import { PTRS_PER_PTE } from "./page-table.ts";
import type { MmState } from "./state.ts";

/**
 * PMD-level operations on a PMD leaf (mm/huge_memory.c): split, zap, fork's copy, mremap's move.
 * A leaf maps a whole order-9 folio with one entry, one mapping and one reference
 * (src/kernel/page-table.ts); splitting it gives 512 PTEs and 511 more references.
 */

/**
 * __split_huge_pmd_locked (via split_huge_pmd): the leaf becomes 512 PTEs of the same folio,
 * which keeps its order. Without freeze each PTE is a mapping with its own reference (+511);
 * with freeze they are migration entries. The MMU notifier the kernel raises around it is left
 * out: the pages each address reaches do not change. Returns whether there was a leaf.
 */
export function splitHugePmd(k: Kernel, mm: number, vpn: number, freeze: boolean): boolean {
  const head = vpn - (vpn % PTRS_PER_PTE);
  if (k.state.mms.get(mm)?.ptes.pmd(head) === undefined) return false;
  k.commit({ kind: "pmd.split", mm, vpn: head, freeze });
  return true;
}

/**
 * split_huge_pmd_if_needed (vma_adjust_trans_huge): a VMA boundary moving to `addr`, not
 * 2 MiB-aligned, inside a PMD leaf splits that leaf (no freeze): munmap, mprotect and mremap of
 * part of a THP all begin here.
 */
export function splitHugePmdIfNeeded(k: Kernel, mm: number, addr: number): void {
  if (addr % HPAGE_PMD_SIZE === 0) return;
  splitHugePmd(k, mm, Math.floor(addr / PAGE_SIZE), false);
}

/**
 * zap_huge_pmd: a leaf wholly inside the range is cleared, its one mapping removed and its one
 * reference put (the last put frees the folio: folio_free once, for a device folio).
 */
export function* zapHugePmd(k: Kernel, mm: number, vpn: number): ProcessBody<void> {
  const leaf = k.state.mms.get(mm)!.ptes.pmd(vpn)!;
  k.commit({ kind: "pmd.clear", mm, vpn });
  if (leaf.kind !== "migration") yield* folioPut(k, leaf.folio);
}

/**
 * copy_huge_pmd / copy_huge_non_present_pmd (fork): the child maps the same folio with one PMD
 * leaf, one reference and one mapping of its own (folio_get, folio_try_dup_anon_rmap_pmd); the
 * model's write-protect is the second mapping itself, as for PTEs (pteWriteProtected).
 */
export function copyHugePmd(k: Kernel, from: MmState, child: number, vpn: number): void {
  const leaf = from.ptes.pmd(vpn)!;
  if (leaf.kind === "migration") throw new Error(`fork: a PMD migration entry at vpn ${vpn} was not waited for`);
  folioGet(k, leaf.folio);
  k.commit({ kind: "pmd.set", mm: child, vpn, pteKind: leaf.kind, folio: leaf.folio });
}

/** move_huge_pmd (mremap): the leaf moves as is, with its mapping and reference, to `newVpn`. */
export function moveHugePmd(k: Kernel, mm: number, vpn: number, newVpn: number): void {
  const leaf = k.state.mms.get(mm)!.ptes.pmd(vpn)!;
  k.commit({ kind: "pmd.clear", mm, vpn });
  k.commit({ kind: "pmd.set", mm, vpn: newVpn, pteKind: leaf.kind, folio: leaf.folio });
}
