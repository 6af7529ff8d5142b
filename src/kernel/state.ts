import { FolioTable } from "./folio-table.ts";
import { PageTable } from "./page-table.ts";

/**
 * The state of simulated Linux memory management, as far as drm_pagemap touches it. It is plain
 * data, changed only by applyKernelEvent (apply.ts): model code reads it and commits events.
 * Ids are small integers handed out in order, so a run's ids are a function of its inputs.
 */
export type VmaKind = "anon-private" | "anon-shared" | "file";

export interface VmaState {
  id: number;
  mm: number;
  /** [startAddr, endAddr), page aligned, in bytes. */
  startAddr: number;
  endAddr: number;
  kind: VmaKind;
  read: boolean;
  write: boolean;
  /**
   * vm_pgoff, in pages: for private anonymous memory the page number of the address it was first
   * mapped at; for shared and file mappings the offset into the file. Merging needs it to follow on.
   */
  pgoff: number;
  /** vm_file: which file the pages belong to (a shared anonymous mapping's own shmem file); -1 for private anonymous. */
  file: number;
  /**
   * vma->anon_vma as far as merging tells them apart: -1 for every private anonymous VMA of a
   * process that did not get it from fork (the kernel makes pgoff-contiguous neighbours share one,
   * find_mergeable_anon_vma), or the id of the anon_vma fork gave a copied VMA (anon_vma_fork).
   */
  anonVma: number;
}

/** What a new VMA is made of: everything but its id and mm. */
export type VmaProps = Omit<VmaState, "id" | "mm">;

/**
 * What a page table entry holds (page-table.ts):
 * - present: a system page, readable by the CPU;
 * - device-private: a swap-like entry naming a device page; a CPU access faults to migrate_to_ram;
 * - migration: the page is being migrated; a CPU access waits for the migration to finish.
 */
export type { PteKind, PteState } from "./page-table.ts";

export interface MmState {
  id: number;
  /** mm_users: 0 once the process has exited; mmget_not_zero fails from then on. */
  users: number;
  /** Sorted by startAddr, never overlapping. */
  vmas: VmaState[];
  /** Virtual page number (Math.floor(addr / PAGE_SIZE)) to its entry; absent means none. */
  ptes: PageTable;
  /**
   * mm->notifier_subscriptions: invalidate_seq (odd while invalidations are in progress) and
   * active_invalidate_ranges, applied from mmu_notifier.begin / .end.
   */
  notifierSeq: number;
  activeInvalidations: number;
}

/** A folio as model code reads it (folio-table.ts): live, read-only. */
export type { MemoryKind, FolioView as FolioState } from "./folio-table.ts";

export interface KernelState {
  mms: Map<number, MmState>;
  vmas: Map<number, VmaState>;
  /** Live folios by id; freed ones are gone (ids below nextFolioId that are missing were freed). */
  folios: FolioTable;
  nextMmId: number;
  nextVmaId: number;
  nextFolioId: number;
  /** Device page frame in use to the folio that holds it (pfn_to_page for device memory). */
  devicePages: Map<number, number>;
  /** Pages of each memory kind currently allocated (not freed). */
  allocatedPages: { system: number; device: number };
  /**
   * Folio → where migration entries naming it are, in the order they were written: the model's
   * rmap for migration entries (the kernel finds them through anon_vma and the folio's index).
   * Kept by the apply of pte.set and pte.clear, so a replay rebuilds it.
   */
  migrationSites: Map<number, { mm: number; vpn: number }[]>;
  /**
   * Thread uid → the sleep a driver asked for while handling its fault (a migration policy's CPU
   * nap), taken once the fault handler has dropped its locks and before the access is retried.
   */
  napsNs: Map<number, number>;
}

export function createKernelState(): KernelState {
  return {
    mms: new Map(),
    vmas: new Map(),
    folios: new FolioTable(),
    devicePages: new Map(),
    nextMmId: 0,
    nextVmaId: 0,
    nextFolioId: 0,
    allocatedPages: { system: 0, device: 0 },
    migrationSites: new Map(),
    napsNs: new Map(),
  };
}

/** vma_lookup: the VMA containing `addr`, or undefined. */
export function vmaLookup(mm: MmState, addr: number): VmaState | undefined {
  // Binary search over the sorted VMAs.
  let lo = 0;
  let hi = mm.vmas.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const vma = mm.vmas[mid]!;
    if (addr < vma.startAddr) hi = mid - 1;
    else if (addr >= vma.endAddr) lo = mid + 1;
    else return vma;
  }
  return undefined;
}

/** vma_is_anonymous: drm_pagemap migrates only private anonymous memory. */
export function vmaIsAnonymous(vma: VmaState): boolean {
  return vma.kind === "anon-private";
}

