import * as z from "zod";
import { ignore, definePolicy } from "./policy-spec.ts";
import { NO_TIMESLICE_MS } from "../platform/timeslice.ts";

/**
 * No hold at all: every migration to VRAM is stamped with a zero timeslice, so a CPU fault on a
 * device page migrates it back at once. What ordinary (non-atomic) migrations get from Xe, and
 * what AMD's SVM does (policies-and-calibration.md §2: no hold, no hysteresis).
 */
export const nonePolicy = definePolicy({
  name: "none",
  summary: "no hold: a CPU fault migrates a device page back at once (Xe's non-atomic faults; AMD SVM)",
  knobs: z.strictObject({}),
  create() {
    return {
      name: "none",
      gpuFault: () => ({ kind: "migrate", timesliceMs: NO_TIMESLICE_MS }),
      cpuFault: () => ({ kind: "migrate" }),
      notifierBlockNs: () => 0,
      migrated: ignore,
    };
  },
});
