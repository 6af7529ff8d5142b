import * as z from "zod";
import { blockKey, ignore, definePolicy } from "./policy-spec.ts";
import { NO_TIMESLICE_MS } from "../platform/timeslice.ts";

/**
 * NUMA balancing's two-stage filter (policies-and-calibration.md §3): a block migrates towards a
 * side only when the previous fault on it came from the same side. A first GPU fault maps the
 * pages where they are (or, for an atomic that needs VRAM, is replayed after retryNs); a first CPU
 * fault on a device page returns and faults again. A second consecutive fault from a side moves it.
 */
export const twoFaultPolicy = definePolicy({
  name: "two-fault",
  summary: "migrate only on a second consecutive fault from the same side (NUMA balancing's filter)",
  knobs: z.strictObject({
    /** Replay delay of a first atomic GPU fault, which cannot be served from system memory. */
    retryNs: z.number().int().nonnegative().default(0),
  }),
  create(knobs) {
    const lastFaulter = new Map<number, "gpu" | "cpu">();
    const second = (key: number, side: "gpu" | "cpu"): boolean => {
      const same = lastFaulter.get(key) === side;
      lastFaulter.set(key, side);
      return same;
    };
    return {
      name: "two-fault",
      gpuFault: (q) => {
        if (second(blockKey(q.mm, q.addr), "gpu")) return { kind: "migrate", timesliceMs: NO_TIMESLICE_MS };
        return q.needVram ? { kind: "throttle", delayNs: knobs.retryNs } : { kind: "stay" };
      },
      cpuFault: (q) => (second(blockKey(q.mm, q.start), "cpu") ? { kind: "migrate" } : { kind: "refault" }),
      notifierBlockNs: () => 0,
      migrated: ignore,
    };
  },
});
