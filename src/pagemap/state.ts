import { createKernelState, type KernelState } from "../kernel/state.ts";

/** struct drm_pagemap_zdd: ties a migration's device pages to their devmem allocation. */
export interface ZddState {
  id: number;
  /** kref: 1 for the migrating thread, plus one per device page whose zone_device_data is it. */
  refcount: number;
  /** The migrating thread still holds the reference zdd_alloc gave it. */
  creatorRef: boolean;
  /** The devmem allocation it owns, bound only when the migration succeeded (seed); -1 if none. */
  devmem: number;
  /** device_private_page_owner. */
  owner: number;
  destroyed: boolean;
}

/** struct drm_pagemap_devmem: one device-memory allocation (an Xe buffer object). */
export interface DevmemState {
  id: number;
  /** The drm_pagemap it was allocated from. */
  dpagemap: number;
  mm: number;
  sizeBytes: number;
  /** Device page frames backing it, in order (what populate_devmem_pfn hands out). */
  pfns: number[];
  /** jiffies_64 before which a CPU fault will not migrate its pages back; -1 until stamped. */
  timesliceExpiration: number;
  /** The `detached` completion: done once no device page of it is left. */
  detached: boolean;
  /** devmem_release has run (the allocation's VRAM is given back). */
  released: boolean;
}

/** struct drm_pagemap: a device's memory, as drm_pagemap users see it. */
export interface DpagemapState {
  id: number;
  /** The kernel dev_pagemap id registered for its device-private pages. */
  pagemap: number;
  /** The owner token its device-private pages carry. */
  owner: number;
  /** The device is unbound: new populations fail with -ENODEV. */
  unbound: boolean;
}

export interface PagemapState {
  dpagemaps: Map<number, DpagemapState>;
  zdds: Map<number, ZddState>;
  devmems: Map<number, DevmemState>;
  nextDpagemapId: number;
  nextZddId: number;
  nextDevmemId: number;
}

/** The whole model's state: the mm it stands on plus drm_pagemap's own objects. */
export type ModelState = KernelState & PagemapState;

export function createModelState(): ModelState {
  return {
    ...createKernelState(),
    dpagemaps: new Map(),
    zdds: new Map(),
    devmems: new Map(),
    nextDpagemapId: 0,
    nextZddId: 0,
    nextDevmemId: 0,
  };
}
