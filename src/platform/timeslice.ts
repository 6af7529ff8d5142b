import * as z from "zod";

/**
 * The migration timeslice, defined once: the milliseconds a successful migration to VRAM is
 * stamped with (drm_pagemap_migrate_to_devmem's timeslice_ms, kept per allocation in jiffies),
 * during which a CPU fault on it returns without migrating. Everything that sets, passes, records
 * or reads a timeslice refers to this file:
 * - the platform profile's `gpu.atomicTimesliceMs` (Xe's atomic_svm_timeslice_ms) and its default;
 * - the `timesliceMs` knob of the policies that hold for it (xe, notifier-block), default that;
 * - a `populate` step's `timesliceMs` (a direct drm_pagemap_populate_mm call's own argument);
 * - the run parameter `timesliceMs` a run records (run.json `parameters`, results.sqlite
 *   `run_params`), which the report reads (src/workload/run-timeslice.ts resolves it);
 * - the event fields that say what was asked and what was stamped (gpu_fault.end, devmem.timeslice).
 */

/** Milliseconds, a whole number from 0: how every place that takes a timeslice validates it. */
export const timesliceMsSchema = z.number().int().nonnegative();

/** atomic_svm_timeslice_ms's default (xe_device.c: 5 ms): the profile's when it gives none. */
export const DEFAULT_ATOMIC_TIMESLICE_MS = 5;

/** No hold: what Xe stamps on faults that do not need VRAM, and a populate step's default. */
export const NO_TIMESLICE_MS = 0;

/** The knob, step field and run parameter that carry a timeslice are all named this. */
export const TIMESLICE_KEY = "timesliceMs";

/** __xe_svm_handle_pagefault doubles the timeslice after each VRAM allocation attempt and get_pages failure. */
export function xeRetryTimesliceMs(ms: number): number {
  return ms * 2;
}

/**
 * A run's timeslice as recorded: the one value its configuration asks migrations to be stamped
 * with; "unused" when nothing in it asks for one (a policy that holds by other means, and no
 * populate step); "mixed" when its parts ask for different ones.
 */
export type RunTimeslice = number | "unused" | "mixed";
