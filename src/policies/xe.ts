import * as z from "zod";
import type { PlatformProfile } from "../platform/profile.ts";
import { NO_TIMESLICE_MS, timesliceMsSchema } from "../platform/timeslice.ts";
import { ignore, definePolicy } from "./policy-spec.ts";

/** The knobs of a timeslice hold (xe's, and notifier-block's, which holds the same time). */
export const timesliceKnobs = z.strictObject({
  /** The timeslice (src/platform/timeslice.ts); default: the platform profile's atomic_svm_timeslice_ms. */
  timesliceMs: timesliceMsSchema.optional(),
  /** Which GPU faults get the timeslice: atomic ones needing VRAM (Xe), or every migrating fault. */
  faults: z.enum(["atomic", "all"]).default("atomic"),
});

/** The timeslice knob defaults to the profile's atomic_svm_timeslice_ms (xe and notifier-block). */
export const timesliceProfileDefaults = { timesliceMs: "gpu.atomicTimesliceMs" } as const;

/** The timeslice a timeslice-hold policy uses: its knob, else the profile's atomic_svm_timeslice_ms. */
export function holdTimesliceMs(knobs: { timesliceMs?: number | undefined }, profile: PlatformProfile): number {
  return knobs.timesliceMs ?? profile.gpu.atomicTimesliceMs;
}

/**
 * The kernel's behaviour (Xe on drm_pagemap): a successful migration to VRAM is stamped with a
 * timeslice in jiffies — atomic_svm_timeslice_ms for atomic faults that need VRAM, 0 for the rest
 * — which the handler doubles on each retry (up to atomicMigrateTries attempts); a CPU fault on a
 * device page before the stamp expires returns 0 and the CPU faults again and again (spins) until
 * it does. Everything here is the kernel's own code path: the policy only picks the timeslice.
 */
export const xePolicy = definePolicy({
  name: "xe",
  summary: "the kernel: a jiffies timeslice stamped per allocation on atomic GPU faults (5 ms, doubled per retry); the CPU spins in re-faults until it expires",
  knobs: timesliceKnobs,
  profileDefaults: timesliceProfileDefaults,
  timesliceMs: holdTimesliceMs,
  create(knobs, ctx) {
    const timesliceMs = holdTimesliceMs(knobs, ctx.profile);
    return {
      name: "xe",
      gpuFault: (q) => ({ kind: "migrate", timesliceMs: q.needVram || knobs.faults === "all" ? timesliceMs : NO_TIMESLICE_MS }),
      cpuFault: () => ({ kind: "migrate" }), // the kernel's own timeslice check has run already
      notifierBlockNs: () => 0,
      migrated: ignore,
    };
  },
});
