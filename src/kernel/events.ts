import type { FolioOrder } from "./constants.ts";
import type { MemoryKind, PteKind, VmaKind } from "./state.ts";

/**
 * Every change to KernelState is one of these events, applied by applyKernelEvent. Kinds are
 * named after the kernel function or step that makes the change. The recorder adds seq, time,
 * thread and context to each; here is only what the change itself needs.
 */
export type KernelEvent =
  /** A process's address space comes to exist, with mm_users = 1. */
  | { kind: "mm.create"; mm: number }
  /** mmget / mmget_not_zero succeeded: one more user. */
  | { kind: "mmget"; mm: number }
  /** mmput: one user fewer; at 0 the address space is torn down. */
  | { kind: "mmput"; mm: number }
  /** mmap (or a VMA made by a split or a merge in munmap/mprotect/mremap). */
  | { kind: "vma.insert"; mm: number; vma: number; startAddr: number; endAddr: number; vmaKind: VmaKind; read: boolean; write: boolean; pgoff: number; file: number; anonVma: number }
  /** The VMA is gone (munmap, or replaced by its pieces). */
  | { kind: "vma.remove"; mm: number; vma: number }
  /**
   * A folio is allocated with one reference held by the allocating code. A device folio is the
   * ZONE_DEVICE page at `pfn` coming into use (zone_device_page_init); system folios have pfn -1.
   */
  | { kind: "folio.alloc"; folio: number; order: FolioOrder; memory: MemoryKind; pagemap: number; pfn: number }
  /** folio_get / get_page. */
  | { kind: "folio.get"; folio: number }
  /** folio_put / put_page; reaching 0 is followed by folio.free (system) or page_free (device). */
  | { kind: "folio.put"; folio: number }
  /** The folio returns to its allocator (refcount must be 0). */
  | { kind: "folio.free"; folio: number }
  /** folio_lock / folio_trylock succeeded, by the event's thread. */
  | { kind: "folio.lock"; folio: number; owner: number }
  /** folio_unlock. */
  | { kind: "folio.unlock"; folio: number }
  /** pin_user_pages(FOLL_LONGTERM): a reference plus a pin. */
  | { kind: "folio.pin"; folio: number }
  /** unpin_user_page: drops the pin and its reference. */
  | { kind: "folio.unpin"; folio: number }
  /**
   * split_folio of a locked large folio, system or device (__folio_split with its unmap and
   * remap folded in; folio_split_unmapped for one under migration): page i becomes an order-0
   * folio, page 0 keeping the id and the lock, page i > 0 becoming folio firstNew + i - 1 (a
   * device page keeps its pfn and pagemap; its zdd comes from the folio_split callback). Entries
   * naming a page, migration entries too, are rewritten to name its folio. Needs exactly one
   * reference beyond the mappings (the splitter's); afterwards page 0 holds that one plus its
   * mappings' and every other page holds its mappings' plus one the splitter puts or keeps.
   */
  | { kind: "folio.split"; folio: number; firstNew: number }
  /** zone_device_data set on a device folio (drm_pagemap_get_devmem_page). */
  | { kind: "folio.set_zdd"; folio: number; zdd: number }
  /** A page table entry is written; a present or device-private entry holds a folio reference. */
  | { kind: "pte.set"; mm: number; vpn: number; pteKind: PteKind; folio: number; index: number }
  /** A page table entry is cleared. */
  | { kind: "pte.clear"; mm: number; vpn: number }
  /**
   * A PMD leaf is written over the empty (or PMD-migration) 2 MiB block whose first page is `vpn`:
   * one entry for the whole order-9 folio. A present or device-private leaf is one mapping and
   * holds one reference (the caller's, taken separately); a migration leaf holds none.
   */
  | { kind: "pmd.set"; mm: number; vpn: number; pteKind: PteKind; folio: number }
  /** The PMD leaf of the block at `vpn` is cleared (its mapping goes; the reference is put separately). */
  | { kind: "pmd.clear"; mm: number; vpn: number }
  /**
   * __split_huge_pmd_locked: the PMD leaf at `vpn` becomes 512 PTEs naming pages 0..511 of its
   * folio. Without freeze a mapped leaf's one mapping and reference become 512 of each (+511
   * references); with freeze the PTEs are migration entries and the leaf's reference is dropped.
   */
  | { kind: "pmd.split"; mm: number; vpn: number; freeze: boolean }
  /**
   * A write through a mapping by process `mm` at page `vpn`: the page's data version becomes
   * `version`. mm and vpn say whose view the write belongs to (src/check/write-versions.ts).
   */
  | { kind: "page.write"; mm: number; vpn: number; folio: number; index: number; version: number }
  /** A read through a mapping by process `mm` at page `vpn` saw data version `version`. Changes nothing. */
  | { kind: "page.read"; mm: number; vpn: number; folio: number; index: number; version: number }
  /**
   * dup_mmap copies the parent's entries into the child `mm`: from here the child sees what the
   * parent saw, and afterwards each sees its own writes (shared mappings excepted). Changes nothing.
   */
  | { kind: "mm.fork"; mm: number; parent: number }
  /**
   * mmu_notifier_invalidate_range_start (mn_itree_inv_start_range): one more invalidation of mm in
   * progress; the mm's notifier sequence turns odd.
   */
  | { kind: "mmu_notifier.begin"; mm: number }
  /**
   * mmu_notifier_invalidate_range_end (mn_itree_inv_end): one invalidation fewer; when none is left
   * the sequence turns even again (and readers waiting to begin wake up).
   */
  | { kind: "mmu_notifier.end"; mm: number }
  /** [start, end) of mm is unmapped (do_vmi_munmap): whatever was there is gone. Changes nothing. */
  | { kind: "mm.unmap"; mm: number; start: number; end: number }
  /** mremap's move_page_tables: the data of [start, end) of mm is now at newStart. Changes nothing. */
  | { kind: "mm.move"; mm: number; start: number; end: number; newStart: number }
  /** A copy engine or CPU copy: the destination page takes the source page's data. */
  | { kind: "page.copy"; srcFolio: number; srcIndex: number; dstFolio: number; dstIndex: number }
  /** A CPU page fault enters handle_mm_fault (after the exception entry cost). Changes nothing. */
  | { kind: "handle_mm_fault.begin"; mm: number; addr: number; access: "read" | "write" }
  /** handle_mm_fault returns: "ok" means retry the access; otherwise the signal (or OOM). */
  | { kind: "handle_mm_fault.end"; outcome: FaultOutcome }
  /** After its fault, with the fault handler's locks dropped, thread sleeps the durationNs a driver asked for. */
  | { kind: "fault.nap"; thread: number; durationNs: number };

/** What handle_mm_fault tells the faulting thread. */
export type FaultOutcome = "ok" | "SIGSEGV" | "SIGBUS" | "OOM";

export type KernelEventKind = KernelEvent["kind"];
