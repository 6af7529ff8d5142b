import type { ProcessBody } from "../engine/index.ts";

/**
 * struct drm_pagemap_addr: one DMA mapping of a system page (or folio) for a copy. `folio` -1
 * means "no page here" (the kernel's zero address); `order` says how many pages it covers.
 */
export interface PagemapAddr {
  folio: number;
  index: number;
  order: number;
  /** DMA_TO_DEVICE (system → device) or DMA_FROM_DEVICE (device → system). */
  dir: "to_device" | "from_device";
}

/** A device page handed to a copy: a device folio and the page index inside it, or none. */
export interface DevicePage {
  folio: number;
  index: number;
}

/**
 * struct drm_pagemap_devmem_ops: what a driver (Xe) provides for one kind of allocation. Each
 * op may be missing, as in C; drm_pagemap_migrate_to_devmem refuses with -EOPNOTSUPP when a
 * required one is.
 */
export interface DrmPagemapDevmemOps {
  /** devmem_release: drop the allocation's device memory (Xe: a deferred BO put). */
  devmemRelease?(devmem: number): ProcessBody<void>;
  /** populate_devmem_pfn: fill all `npages` entries of `pfns` with the allocation's device pfns. */
  populateDevmemPfn?(devmem: number, npages: number, pfns: number[]): ProcessBody<number>;
  /** copy_to_devmem: copy system pages (mapped in `addrs`) into `pages`; 0 or -errno. */
  copyToDevmem?(pages: DevicePage[], addrs: PagemapAddr[], npages: number): ProcessBody<number>;
  /** copy_to_ram: copy device `pages` into system pages mapped in `addrs`; 0 or -errno. */
  copyToRam?(pages: DevicePage[], addrs: PagemapAddr[], npages: number): ProcessBody<number>;
}

/** struct drm_pagemap_ops, the part the seed uses: populate_mm. */
export interface DrmPagemapOps {
  /** populate_mm: allocate device memory and migrate [start, end) of mm into it; 0 or -errno. */
  populateMm(dpagemap: number, start: number, end: number, mm: number, timesliceMs: number): ProcessBody<number>;
}

/**
 * struct drm_pagemap_iova_state (M. Brost's IOVA series, 2026): one migration's IOVA range
 * (struct dma_iova_state) and how far into it the pieces linked so far reach.
 */
export interface IovaState {
  /** dma_use_iova: dma_iova_try_alloc gave this migration an IOVA range. */
  used: boolean;
  /** The range's size, in bytes. */
  sizeBytes: number;
  /** Bytes linked so far (the offset of the next piece). */
  offsetBytes: number;
  /** Pieces linked so far. */
  links: number;
}

/** An IOVA state before dma_iova_try_alloc (`= {}` in C). */
export function newIovaState(): IovaState {
  return { used: false, sizeBytes: 0, offsetBytes: 0, links: 0 };
}

/** The DMA layer the pagemap maps pages through (a platform part; failures can be injected). */
export interface DmaOps {
  /** dma_map_page for a folio of `order`: true on success, false for dma_mapping_error. */
  mapPage(folio: number, order: number, dir: PagemapAddr["dir"]): ProcessBody<boolean>;
  unmapPage(folio: number, order: number, dir: PagemapAddr["dir"]): ProcessBody<void>;
  /** dma_iova_try_alloc: false (state unused) where the device does not translate through an IOVA range. */
  iovaTryAlloc(state: IovaState, sizeBytes: number): ProcessBody<boolean>;
  /** dma_iova_link of a folio of `order` at the state's offset: 0 or -errno. */
  iovaLink(state: IovaState, folio: number, order: number, dir: PagemapAddr["dir"]): ProcessBody<number>;
  /** dma_iova_sync over what is linked: 0 or -errno. */
  iovaSync(state: IovaState): ProcessBody<number>;
  /** dma_iova_unlink of [0, offset): the IOMMU entries go, with their IOTLB invalidation. */
  iovaUnlink(state: IovaState, dir: PagemapAddr["dir"]): ProcessBody<void>;
  /** dma_iova_free: the IOVA range goes back. */
  iovaFree(state: IovaState): ProcessBody<void>;
}
