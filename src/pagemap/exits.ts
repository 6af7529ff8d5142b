import { errnoName } from "../kernel/constants.ts";
import type { ModelVariant } from "./context.ts";
import type { PagemapFunction } from "./events.ts";

/**
 * The exits of the four logged drm_pagemap functions: the label each `<fn>.end` event's `exit`
 * names. A label is the kernel's goto label and the reason it was taken (`err_out:no_vma`); a
 * return that takes no label is the reason alone (`eopnotsupp`, `mmget_failed`), success `ok`.
 * Labels follow reference/drm_pagemap.c (seed) and torvalds HEAD (newest), so one exit may have
 * a different label per variant (newest's `err_aborted_migration`). Exploration's coverage
 * (src/explore/coverage.ts) lists every label here that a run never reached.
 */
export interface ExitLabelDef {
  readonly label: string;
  /** The variants whose code has this exit. */
  readonly variants: readonly ModelVariant[];
  /** The return value and the condition, briefly. */
  readonly doc: string;
  /**
   * "exit": the `.end` event's exit (evict_to_ram: its final outcome); "attempt": one of
   * evict_to_ram's attempts, before the outcome in its exit; "early": a return logged by
   * another event before `.begin` (migrate_to_ram's timeslice and policy returns).
   */
  readonly kind: "exit" | "attempt" | "early";
  /** For kind "early": the event kind that records it. */
  readonly event?: string;
}

const BOTH = ["seed", "newest"] as const;
const SEED = ["seed"] as const;
const NEWEST = ["newest"] as const;

/** drm_pagemap_migrate_to_devmem. */
export const MIGRATE_TO_DEVMEM_EXITS = [
  { label: "eopnotsupp", variants: BOTH, kind: "exit", doc: "-EOPNOTSUPP: the driver lacks populate_devmem_pfn, copy_to_devmem or copy_to_ram" },
  { label: "err_out:no_vma", variants: BOTH, kind: "exit", doc: "-ENOENT: no VMA at start" },
  { label: "err_out:outside_vma", variants: BOTH, kind: "exit", doc: "-EINVAL: [start, end) is not inside the VMA" },
  { label: "err_out:not_anonymous", variants: BOTH, kind: "exit", doc: "-EBUSY: a file or shared mapping" },
  { label: "err_out:kvcalloc", variants: BOTH, kind: "exit", doc: "-ENOMEM: the migration's arrays" },
  { label: "err_free:zdd_alloc", variants: SEED, kind: "exit", doc: "-ENOMEM: drm_pagemap_zdd_alloc" },
  { label: "err_out:zdd_alloc", variants: NEWEST, kind: "exit", doc: "-ENOMEM: drm_pagemap_zdd_alloc (kvfree, then err_out)" },
  { label: "err_free:setup", variants: BOTH, kind: "exit", doc: "migrate_vma_setup's error (-EINVAL)" },
  { label: "err_free:no_cpages", variants: BOTH, kind: "exit", doc: "nothing collected: -EFAULT (seed), -EBUSY (newest)" },
  { label: "err_finalize:cpages_short", variants: SEED, kind: "exit", doc: "-EBUSY: not every page collected (all or nothing)" },
  { label: "err_aborted_migration:cpages_short", variants: NEWEST, kind: "exit", doc: "-EBUSY: not every page collected (all or nothing)" },
  { label: "err_finalize:populate_devmem_pfn", variants: SEED, kind: "exit", doc: "the driver's populate_devmem_pfn failed" },
  { label: "err_aborted_migration:populate_devmem_pfn", variants: NEWEST, kind: "exit", doc: "the driver's populate_devmem_pfn failed" },
  { label: "err_finalize:map_pages", variants: BOTH, kind: "exit", doc: "-EFAULT or the IOVA link's error: DMA-mapping the system pages" },
  { label: "err_finalize:devmem_pages", variants: NEWEST, kind: "exit", doc: "-ENOMEM, not the kernel's: an order-9 device folio over VRAM that is not one aligned block (kernel.bug; model.deviceThp)" },
  { label: "err_finalize:copy_to_devmem", variants: BOTH, kind: "exit", doc: "the driver's copy_to_devmem failed (-EIO)" },
  { label: "raced_finalizing", variants: NEWEST, kind: "exit", doc: "-EBUSY: migrate_vma_pages dropped a page after the copy" },
  { label: "ok", variants: BOTH, kind: "exit", doc: "0: migrated" },
] as const satisfies readonly ExitLabelDef[];

/** __drm_pagemap_migrate_to_ram (the CPU fault path). */
export const MIGRATE_TO_RAM_EXITS = [
  { label: "timeslice_spin", variants: BOTH, kind: "early", event: "cpu_fault.timeslice_spin", doc: "0 before .begin: the timeslice has not expired; the CPU faults again" },
  { label: "policy_hold", variants: BOTH, kind: "early", event: "cpu_fault.policy_hold", doc: "0 before .begin, not the kernel's: the simulated migration policy held the fault off" },
  { label: "err_out:kvcalloc", variants: BOTH, kind: "exit", doc: "-ENOMEM: the migration's arrays" },
  { label: "err_free:setup", variants: BOTH, kind: "exit", doc: "migrate_vma_setup's error (-EINVAL)" },
  { label: "err_free:no_cpages", variants: BOTH, kind: "exit", doc: "0: nothing collected (the fault page is held elsewhere)" },
  { label: "err_finalize:populate_ram_pfn", variants: BOTH, kind: "exit", doc: "-ENOMEM: a system folio of the device folio's order" },
  { label: "err_finalize:map_pages", variants: BOTH, kind: "exit", doc: "-EFAULT or the IOVA link's error: DMA-mapping the system pages" },
  { label: "err_finalize:copy_to_ram", variants: BOTH, kind: "exit", doc: "the driver's copy_to_ram failed (-EIO)" },
  { label: "ok", variants: BOTH, kind: "exit", doc: "0: migrated back" },
] as const satisfies readonly ExitLabelDef[];

/** drm_pagemap_evict_to_ram: each attempt's exit, then the outcome. */
export const EVICT_TO_RAM_EXITS = [
  { label: "err_out:kvcalloc", variants: BOTH, kind: "attempt", doc: "-ENOMEM: the attempt's arrays" },
  { label: "err_free:populate_devmem_pfn", variants: BOTH, kind: "attempt", doc: "the driver's populate_devmem_pfn failed" },
  { label: "err_free:migrate_device_pfns", variants: BOTH, kind: "attempt", doc: "migrate_device_pfns failed (it returns 0 in the kernel and the model)" },
  { label: "err_finalize:populate_ram_pfn", variants: BOTH, kind: "attempt", doc: "-ENOMEM: a system folio" },
  { label: "err_finalize:no_mpages", variants: BOTH, kind: "attempt", doc: "0: no device page could be migrated (none left, or all busy)" },
  { label: "err_finalize:map_pages", variants: BOTH, kind: "attempt", doc: "-EFAULT or the IOVA link's error: DMA-mapping the system pages" },
  { label: "err_finalize:copy_to_ram", variants: BOTH, kind: "attempt", doc: "the driver's copy_to_ram failed (-EIO)" },
  { label: "ok", variants: BOTH, kind: "attempt", doc: "0: the attempt copied what it collected" },
  { label: "mmget_failed", variants: BOTH, kind: "exit", doc: "-EFAULT: the process has exited (checked before every attempt)" },
  { label: "detached", variants: BOTH, kind: "exit", doc: "0: the allocation's last device page is gone" },
  { label: "retries_exhausted", variants: BOTH, kind: "exit", doc: "the last attempt's error, or -EBUSY: still attached after three attempts" },
] as const satisfies readonly ExitLabelDef[];

/**
 * drm_pagemap_populate_mm: its own return, or the driver's populate_mm's, by errno (the
 * driver's nested migrate_to_devmem.end says why). The errnos are those the bundled drivers
 * (src/platform xe-device, simple-device) can return.
 */
export const POPULATE_MM_EXITS = [
  { label: "mmget_failed", variants: BOTH, kind: "exit", doc: "-EFAULT: the process has exited" },
  { label: "driver:ENODEV", variants: BOTH, kind: "exit", doc: "the device is unbound (drm_dev_enter failed)" },
  { label: "driver:ENOMEM", variants: BOTH, kind: "exit", doc: "no VRAM (vram_alloc), or migrate_to_devmem's -ENOMEM" },
  { label: "driver:ENOENT", variants: BOTH, kind: "exit", doc: "migrate_to_devmem: no VMA" },
  { label: "driver:EINVAL", variants: BOTH, kind: "exit", doc: "migrate_to_devmem: outside the VMA, or migrate_vma_setup" },
  { label: "driver:EBUSY", variants: BOTH, kind: "exit", doc: "migrate_to_devmem: not anonymous, not all collected (newest: nothing collected, raced)" },
  { label: "driver:EFAULT", variants: BOTH, kind: "exit", doc: "migrate_to_devmem: DMA map (seed: nothing collected)" },
  { label: "driver:EIO", variants: BOTH, kind: "exit", doc: "migrate_to_devmem: the copy failed" },
  { label: "ok", variants: BOTH, kind: "exit", doc: "0: populated" },
] as const satisfies readonly ExitLabelDef[];

/** Every label of every logged function, in the order the code reaches them. */
export const PAGEMAP_EXITS: { readonly [F in PagemapFunction]: readonly ExitLabelDef[] } = {
  migrate_to_devmem: MIGRATE_TO_DEVMEM_EXITS,
  migrate_to_ram: MIGRATE_TO_RAM_EXITS,
  evict_to_ram: EVICT_TO_RAM_EXITS,
  populate_mm: POPULATE_MM_EXITS,
};

export type MigrateToDevmemExit = (typeof MIGRATE_TO_DEVMEM_EXITS)[number]["label"];
export type MigrateToRamExit = Extract<(typeof MIGRATE_TO_RAM_EXITS)[number], { kind: "exit" }>["label"];
export type EvictAttemptExit = Extract<(typeof EVICT_TO_RAM_EXITS)[number], { kind: "attempt" }>["label"];
export type EvictOutcome = Extract<(typeof EVICT_TO_RAM_EXITS)[number], { kind: "exit" }>["label"];

/** evict_to_ram's exit: every attempt's label, then the outcome, joined with ";". */
export const EXIT_SEPARATOR = ";";

export function evictExit(attempts: readonly EvictAttemptExit[], outcome: EvictOutcome): string {
  return [...attempts, outcome].join(EXIT_SEPARATOR);
}

/** populate_mm's label for what the driver returned. */
export function driverExit(ret: number): string {
  return ret === 0 ? "ok" : `driver:${errnoName(ret).replace(/^-/, "")}`;
}
