import { blockKey, holdEndNs, definePolicy } from "./policy-spec.ts";
import { NO_TIMESLICE_MS } from "../platform/timeslice.ts";
import { holdTimesliceMs, timesliceKnobs, timesliceProfileDefaults } from "./xe.ts";

/**
 * The alternative the kernel's own comment names and rejected: instead of the CPU spinning in
 * re-faults, the GPU driver's MMU notifier blocks the invalidation of a device-resident range
 * until its timeslice ends. The CPU thread migrating the range back sleeps inside its fault —
 * holding mmap_lock for read and the pages' locks, which is why the kernel developers found it
 * less "nice to the system as a whole" — while other work proceeds. Evictions wait too.
 */
export const notifierBlockPolicy = definePolicy({
  name: "notifier-block",
  summary: "the GPU's MMU notifier blocks a migration back until the timeslice ends; the CPU sleeps inside its fault instead of spinning",
  knobs: timesliceKnobs,
  profileDefaults: timesliceProfileDefaults,
  timesliceMs: holdTimesliceMs,
  create(knobs, ctx) {
    const timesliceMs = holdTimesliceMs(knobs, ctx.profile);
    const holdEnds = new Map<number, number>(); // block → ns its hold ends
    const wantsHold = new Map<number, boolean>(); // block → the last GPU fault asked for a hold
    return {
      name: "notifier-block",
      gpuFault: (q) => {
        wantsHold.set(blockKey(q.mm, q.addr), q.needVram || knobs.faults === "all");
        return { kind: "migrate", timesliceMs: NO_TIMESLICE_MS }; // no kernel timeslice: the CPU is not held at the fault
      },
      cpuFault: () => ({ kind: "migrate" }),
      notifierBlockNs: (q) => Math.max(0, (holdEnds.get(blockKey(q.mm, q.start)) ?? 0) - q.nowNs),
      migrated: (m) => {
        const key = blockKey(m.mm, m.start);
        if (m.direction === "to_device" && wantsHold.get(key) === true) holdEnds.set(key, holdEndNs(ctx.engine, timesliceMs));
        if (m.direction === "to_system") holdEnds.delete(key);
      },
    };
  },
});
