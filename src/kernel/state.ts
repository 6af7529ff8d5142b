import type { FolioOrder } from "./constants.ts";

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
}

/**
 * What a page table entry holds:
 * - present: a system page, readable by the CPU;
 * - device-private: a swap-like entry naming a device page; a CPU access faults to migrate_to_ram;
 * - migration: the page is being migrated; a CPU access waits for the migration to finish.
 */
export type PteKind = "present" | "device-private" | "migration";

export interface PteState {
  kind: PteKind;
  folio: number;
  /** Page index inside the folio. */
  index: number;
}

export interface MmState {
  id: number;
  /** mm_users: 0 once the process has exited; mmget_not_zero fails from then on. */
  users: number;
  /** Sorted by startAddr, never overlapping. */
  vmas: VmaState[];
  /** Virtual page number (Math.floor(addr / PAGE_SIZE)) to its entry; absent means none. */
  ptes: Map<number, PteState>;
}

export type MemoryKind = "system" | "device";

export interface FolioState {
  id: number;
  order: FolioOrder;
  memory: MemoryKind;
  /** The pagemap that owns a device folio; -1 for system memory. */
  pagemap: number;
  /** The device page frame of a device folio; -1 for system memory. */
  pfn: number;
  refcount: number;
  /** Long-term pins (FOLL_LONGTERM): a pinned folio is never collected for migration. */
  pincount: number;
  /** Page table entries pointing at this folio (present or device-private). */
  mapcount: number;
  /** The same per page: more than one means the page is shared (after fork: copy on write). */
  pageMapcount: number[];
  /** Process uid holding the folio lock, or -1. */
  lockOwner: number;
  /** zone_device_data of a device folio: the zdd id, or -1. */
  zdd: number;
  /** Data version of each page: each write bumps it, a copy carries it. */
  versions: number[];
  /** Returned to its allocator; a freed folio must never be touched again. */
  freed: boolean;
}

export interface KernelState {
  mms: Map<number, MmState>;
  vmas: Map<number, VmaState>;
  folios: Map<number, FolioState>;
  nextMmId: number;
  nextVmaId: number;
  nextFolioId: number;
  /** Device page frame in use to the folio that holds it (pfn_to_page for device memory). */
  devicePages: Map<number, number>;
  /** Pages of each memory kind currently allocated (not freed). */
  allocatedPages: { system: number; device: number };
}

export function createKernelState(): KernelState {
  return {
    mms: new Map(),
    vmas: new Map(),
    folios: new Map(),
    devicePages: new Map(),
    nextMmId: 0,
    nextVmaId: 0,
    nextFolioId: 0,
    allocatedPages: { system: 0, device: 0 },
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
