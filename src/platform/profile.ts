/**
 * A platform profile: every cost and size of the machine around drm_pagemap, each a parameter.
 * Profiles live in workloads/platforms/*.yaml with each value's source beside it; this is their
 * resolved shape. Times are nanoseconds, sizes bytes, bandwidths bytes per second.
 */
import type { PcieLink } from "./pcie.ts";

export type IommuMode = "strict" | "lazy" | "off" | "iova";
/** The modes where drm_pagemap maps page by page with dma_map_page / dma_unmap_page. */
export type PerPageIommuMode = Exclude<IommuMode, "iova">;

/**
 * dma_map_page / dma_unmap_page of one folio (drivers/iommu/dma-iommu.c): a fixed part per
 * mapping, whatever its size, and a part per 4 KiB IOMMU page-table entry it writes or clears.
 * A 4 KiB page costs the sum of the two; a 2 MiB THP one fixed part and 512 entries.
 */
export interface DmaCosts {
  /** dma_map_page, per mapping: the IOVA allocation and the one iotlb_sync_map. */
  mapNs: number;
  /** ... and per 4 KiB page: its IOMMU page-table entry (iommu_map). */
  mapNsPerPage: number;
  /** dma_unmap_page, per mapping: the IOTLB invalidation and its wait (strict) or the flush-queue entry (lazy), and the IOVA's free. */
  unmapNs: number;
  /** ... and per 4 KiB page: clearing its IOMMU page-table entry (iommu_unmap_fast). */
  unmapNsPerPage: number;
}

/**
 * The IOVA link API (kernel/dma/mapping.c, drivers/iommu/dma-iommu.c), which drm_pagemap uses
 * from M. Brost's series (2026) on: one IOVA range per migration, its pieces linked into it.
 */
export interface IovaCosts {
  /** dma_iova_try_alloc: one IOVA range for the whole migration. */
  allocNs: number;
  /** dma_iova_link of one physically contiguous piece (a folio): its IOMMU page-table entries. */
  linkNs: number;
  /** dma_iova_sync: one IOTLB sync for everything linked. */
  syncNs: number;
  /** dma_iova_unlink: fixed part (the one IOTLB invalidation) ... */
  unlinkNs: number;
  /** ... and per piece linked (clearing its IOMMU page-table entries). */
  unlinkNsPerLink: number;
  /** dma_iova_free: the IOVA range goes back to the allocator. */
  freeNs: number;
}

export interface PlatformProfile {
  name: string;
  description: string;
  cpu: {
    /** Exception entry, handle_mm_fault and return for a minor fault. */
    faultEntryNs: number;
    /** Clearing a 4 KiB page on first touch. */
    pageZeroNs: number;
    /** migrate_vma_setup per entry walked (a 4 KiB page, or one compound word for a 2 MiB folio): collect, lock, unmap (migration entry), rmap and TLB flush share. */
    migrateSetupNsPerEntry: number;
    /** migrate_vma_pages per entry walked: folio_migrate_mapping and the new entry. */
    migratePagesNsPerEntry: number;
    /** migrate_vma_finalize per entry walked: remove migration entries, unlock, put. */
    migrateFinalizeNsPerEntry: number;
    /** System RAM available to the workload, in bytes; 0 for unbounded. Allocations beyond it fail (OOM). */
    systemRamBytes: number;
  };
  dma: {
    iommu: IommuMode;
    /** `iova` may be missing from a profile whose mode is not iova (the schema checks it). */
    costs: Record<PerPageIommuMode, DmaCosts> & { iova?: IovaCosts | undefined };
  };
  /** The GPU's PCIe link, from which the copy's bandwidth follows (pcie.ts); absent in a profile that gives copy.bandwidthGBps instead. */
  pcie?: PcieLink | undefined;
  copy: {
    /** Copy-engine channels that run jobs in parallel. */
    channels: number;
    /** Per job: submission, ring and fence signalling. */
    latencyNs: number;
    /**
     * Per system-side descriptor of a job: xe_migrate_vram maps the system side into the migrate
     * VM with one PTE per 4 KiB page, or one 2 MiB entry per 2 MiB folio when every 2 MiB step of
     * the job is one (xe_migrate_vram_use_pde). Covers writing the entry and the copy's address
     * translation per entry.
     */
    descriptorNs: number;
    /** Bytes per second of the link: from `pcie` (pcieLinkBytesPerSec), or the profile's copy.bandwidthGBps override. */
    bandwidthBytesPerSec: number;
    /** Jobs are split at this size (XE_MIGRATE_CHUNK_SIZE). */
    maxJobBytes: number;
  };
  vram: {
    sizeBytes: number;
    /** Buffer-object creation and buddy allocation for one SVM allocation. */
    allocNs: number;
    /** On -ENOMEM: sleep this long between eviction retries ... */
    retrySleepNs: number;
    /** ... for at most this long (xe_vm_validate_should_retry). */
    retryTimeoutNs: number;
    /** "async": the BO is put from a worker (xe_bo_put_async); "sync": where the last page goes. */
    release: "sync" | "async";
  };
  gpu: {
    /** Fault delivery: the GPU's fault message to the driver's fault worker picking it up. */
    faultDeliveryNs: number;
    /** Replaying the faulting access once the fault is serviced. */
    faultReplayNs: number;
    /** Range lookup or insertion in the handler (drm_gpusvm_range_find_or_insert, notifier locks). */
    findRangeNs: number;
    /** drm_gpusvm_range_get_pages per entry hmm_range_fault returns (a 4 KiB page, or one PMD-mapped THP): the walk and the address lookup. */
    getPagesNsPerEntry: number;
    /** Binding: fixed part (job submission) ... */
    bindNs: number;
    /** ... and per GPU page-table entry written, at whatever level (a 4 KiB PTE, or one 2 MiB PTE for a 2 MiB entry). */
    bindNsPerPte: number;
    /** Zapping a range's GPU PTEs and invalidating the GPU TLB. */
    invalidateNs: number;
    /** One GPU access to a page that is mapped. */
    accessNs: number;
    /** Driver fault workers serving the GPU fault queue. */
    faultWorkers: number;
    /** Range chunk sizes, largest first; the last must be 4 KiB. */
    chunkSizes: number[];
    /** Ranges at or below this size need their CPU pages faulted in before they may be chosen. */
    checkPagesThresholdBytes: number;
    /** Timeslice given to atomic faults that need VRAM (atomic_svm_timeslice_ms; default and meaning: timeslice.ts). */
    atomicTimesliceMs: number;
    /** Migration attempts per fault for atomics (devmem_only); other faults get one. */
    atomicMigrateTries: number;
    /** Ordinary (non-atomic) faults migrate to VRAM too (Xe's default for faults on a dGPU). */
    migrateNonAtomic: boolean;
    /** Ranges smaller than this stay in system memory (XE_VRAM_FLAGS_NEED64K: 64 KiB). */
    minMigrateBytes: number;
  };
}

/** Bytes per page, and the chunk sizes Xe uses. */
export const KiB = 1024;
export const MiB = 1024 * KiB;
