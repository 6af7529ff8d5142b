import type { CpuFaultDecision, CpuFaultQuery } from "../pagemap/context.ts";
import type { GpuAccess } from "./events.ts";

export type { CpuFaultDecision, CpuFaultQuery } from "../pagemap/context.ts";

/** A GPU fault before the handler migrates anything, as a migration policy sees it. */
export interface GpuFaultQuery {
  mm: number;
  addr: number;
  access: GpuAccess;
  /** Xe's need_vram: an atomic on a discrete GPU, which only device memory can serve. */
  needVram: boolean;
  nowNs: number;
}

/**
 * A migration policy's answer to a GPU fault:
 * - migrate: the handler runs as Xe's does, stamping a successful migration with this hold
 *   (`timesliceMs`, doubled by the handler on each retry as Xe doubles it);
 * - stay: no migration; the GPU maps the pages where they are (system memory, over the link);
 *   not possible when the fault needs VRAM;
 * - throttle: the fault is not serviced now; the GPU replays the access `delayNs` later.
 */
export type GpuFaultDecision = { kind: "migrate"; timesliceMs: number } | { kind: "stay" } | { kind: "throttle"; delayNs: number };

/** A completed migration of [start, end) of an mm, in either direction. */
export interface MigrationNote {
  direction: "to_device" | "to_system";
  mm: number;
  start: number;
  end: number;
  /** When the migration started and ended. */
  startNs: number;
  nowNs: number;
  /** What asked for it: a GPU fault (or a populate step), a CPU fault, or an eviction. */
  cause: "gpu" | "cpu" | "evict";
}

/**
 * Decides, for each GPU fault and each CPU fault on a device page, whether to migrate, hold
 * (and for how long), throttle, or map remotely (src/policies holds the implementations; the
 * platform and drm_pagemap only ask). One per simulated machine.
 */
export interface MigrationPolicy {
  readonly name: string;
  gpuFault(q: GpuFaultQuery): GpuFaultDecision;
  /** Consulted in migrate_to_ram after the kernel's own timeslice check has let the fault through. */
  cpuFault(q: CpuFaultQuery): CpuFaultDecision;
  /**
   * How long the GPU's MMU notifier blocks a migration of a device-resident range [start, end)
   * back to system memory (0: it does not). Only notifier-block blocks.
   */
  notifierBlockNs(q: { mm: number; start: number; end: number; nowNs: number }): number;
  /** Told of every completed migration, for policies that learn from history. */
  migrated(note: MigrationNote): void;
}
