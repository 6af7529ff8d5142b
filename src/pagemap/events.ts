import type { KernelEvent } from "../kernel/events.ts";

/**
 * drm_pagemap's own state changes, and the steps whose outcome a reviewer needs to see
 * (a function's entry and return value, a timeslice honoured). Kinds name the kernel function.
 */
export type PagemapEvent =
  | { kind: "dpagemap.create"; dpagemap: number; pagemap: number; owner: number }
  | { kind: "dpagemap.unbind"; dpagemap: number }
  /** drm_pagemap_devmem_init. */
  | { kind: "devmem.init"; devmem: number; dpagemap: number; mm: number; sizeBytes: number; pfns: number[] }
  /** The success-only timeslice stamp in drm_pagemap_migrate_to_devmem: timesliceMs as passed, expiration in jiffies. */
  | { kind: "devmem.timeslice"; devmem: number; expiration: number; timesliceMs: number }
  /** complete_all(&devmem->detached), from drm_pagemap_zdd_destroy. */
  | { kind: "devmem.detach"; devmem: number }
  /** devmem_release: the allocation's device memory is given back. */
  | { kind: "devmem.release"; devmem: number }
  /** drm_pagemap_zdd_alloc: refcount 1. */
  | { kind: "zdd.alloc"; zdd: number; owner: number }
  /** A device page's zone_device_data takes a reference. */
  | { kind: "zdd.get"; zdd: number }
  /** A reference goes: the migrating thread's own ("creator") or a freed device page's ("page"). */
  | { kind: "zdd.put"; zdd: number; holder: ZddHolder }
  /** zdd->devmem_allocation = devmem: the zdd now owns the caller's devmem reference. */
  | { kind: "zdd.bind"; zdd: number; devmem: number }
  /** drm_pagemap_zdd_destroy ran (refcount reached 0). */
  | { kind: "zdd.destroy"; zdd: number }
  /**
   * Entry to and return from a drm_pagemap function: `ret` is 0 or a negative errno, `exit` the
   * label it left by (src/pagemap/exits.ts; evict_to_ram: each attempt's, then the outcome, ";"-joined).
   */
  | { kind: `${PagemapFunction}.begin`; mm: number; start: number; end: number }
  | { kind: `${PagemapFunction}.end`; ret: number; exit: string }
  /** dma_map_page / dma_unmap_page of a system folio for a migration copy. */
  | { kind: "dma.map"; folio: number; order: number; dir: "to_device" | "from_device"; durationNs: number }
  | { kind: "dma.unmap"; folio: number; order: number; dir: "to_device" | "from_device"; durationNs: number }
  /** The IOVA link API (iova mode): one range per migration, a link per folio, one sync; unlink and free at unmap. */
  | { kind: "dma.iova_alloc"; sizeBytes: number; dir: "to_device" | "from_device"; durationNs: number }
  | { kind: "dma.iova_link"; folio: number; order: number; dir: "to_device" | "from_device"; durationNs: number }
  | { kind: "dma.iova_sync"; sizeBytes: number; dir: "to_device" | "from_device"; durationNs: number }
  | { kind: "dma.iova_unlink"; sizeBytes: number; dir: "to_device" | "from_device"; durationNs: number }
  | { kind: "dma.iova_free"; sizeBytes: number; dir: "to_device" | "from_device"; durationNs: number }
  /**
   * The model reached a step where the modelled kernel would oops or corrupt memory (e.g. the
   * seed unlocking and putting raw pfns as pages). Recorded, then the run goes on as if it had not.
   */
  | { kind: "kernel.bug"; fn: PagemapFunction; what: string }
  /** __drm_pagemap_migrate_to_ram returned 0 early: the timeslice has not expired. */
  | { kind: "cpu_fault.timeslice_spin"; devmem: number; jiffies: number; expiration: number }
  /**
   * Not a kernel step: the simulated migration policy held a CPU fault off (migrate_to_ram
   * returned 0); the thread faults again at once, or after sleeping durationNs.
   */
  | { kind: "cpu_fault.policy_hold"; devmem: number; durationNs: number; thread: number };

export type ZddHolder = "creator" | "page";

/** The drm_pagemap functions whose entry and return the log records. */
export const PAGEMAP_FUNCTIONS = ["migrate_to_devmem", "migrate_to_ram", "evict_to_ram", "populate_mm"] as const;
export type PagemapFunction = (typeof PAGEMAP_FUNCTIONS)[number];

export type ModelEvent = KernelEvent | PagemapEvent;
export type ModelEventKind = ModelEvent["kind"];
