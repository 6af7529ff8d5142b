import * as z from "zod";
import { blockKey, definePolicy } from "./policy-spec.ts";
import { NO_TIMESLICE_MS } from "../platform/timeslice.ts";
import type { CpuFaultDecision, GpuFaultDecision } from "../platform/policy.ts";

type Side = "gpu" | "cpu";

/** uvm_perf_thrashing's tracking of one 2 MiB block (UVM tracks pages; here the block's pages move together). */
interface Thrashing {
  tracked: boolean;
  lastEventNs: number;
  lastSide: Side | null;
  /** Consecutive migrations each within lapse of the previous (a 3-bit saturating counter). */
  events: number;
  thrashing: boolean;
  lastThrashNs: number;
  resets: number;
  throttleEndNs: number;
  doNotThrottle: Side | null;
  previousDoNotThrottle: Side | null;
  throttlingCount: number;
  pinnedTo: Side | null;
  pinEndNs: number;
}

type Hint = { kind: "none" } | { kind: "throttle"; untilNs: number } | { kind: "remote" };

/**
 * NVIDIA UVM's thrashing detection and mitigation (uvm_perf_thrashing.c; policies-and-calibration.md
 * §1): a block thrashes after `threshold` migrations each within `lapse` of the previous; then in
 * each `nap` period one side (do_not_throttle, never the same twice running) may migrate and the
 * other is throttled — the CPU sleeps U[nap, 1.5 nap] in its fault, the GPU's fault is replayed
 * after the period — and after `pinThreshold` throttles the block is pinned to the favoured side
 * for `pin`: the other side maps it remotely where it can (the GPU, non-atomic, over the link) and
 * is throttled where it cannot (the CPU cannot reach device-private memory; a GPU atomic needs
 * VRAM). Tracking resets after an `epoch` without thrashing, at most `maxResets` times; evictions
 * reset it. nap, epoch and pin are multiples of the initial lapse, as UVM computes them. Not
 * modelled: the adaptive lapse (§1e) and prefetch.
 */
export const uvmPolicy = definePolicy({
  name: "uvm",
  summary: "NVIDIA UVM thrashing detection: 3 migrations within 500 µs, throttle for 500 µs naps, pin for 150 ms after 10 throttles",
  knobs: z.strictObject({
    threshold: z.number().int().min(1).max(7).default(3),
    pinThreshold: z.number().int().min(1).max(255).default(10),
    lapseUs: z.number().int().min(5).max(500_000).default(500),
    napLapses: z.number().int().min(1).max(100).default(1),
    epochLapses: z.number().int().positive().default(2000),
    pinLapses: z.number().int().nonnegative().default(300),
    maxResets: z.number().int().nonnegative().default(4),
  }),
  create(knobs, ctx) {
    const lapseNs = knobs.lapseUs * 1000;
    const napNs = knobs.napLapses * lapseNs;
    const epochNs = knobs.epochLapses * lapseNs;
    const pinNs = knobs.pinLapses === 0 ? Infinity : knobs.pinLapses * lapseNs;
    const random = ctx.engine.random.stream("policy:uvm");
    const blocks = new Map<number, Thrashing>();
    const block = (key: number): Thrashing => {
      let b = blocks.get(key);
      if (b === undefined) {
        b = { tracked: false, lastEventNs: -Infinity, lastSide: null, events: 0, thrashing: false, lastThrashNs: 0, resets: 0, throttleEndNs: 0, doNotThrottle: null, previousDoNotThrottle: null, throttlingCount: 0, pinnedTo: null, pinEndNs: 0 };
        blocks.set(key, b);
      }
      return b;
    };
    const resetPage = (b: Thrashing) => {
      b.events = 0;
      b.thrashing = false;
      b.throttleEndNs = 0;
      b.doNotThrottle = b.previousDoNotThrottle = null;
      b.throttlingCount = 0;
      b.pinnedTo = null;
    };
    // uvm_perf_thrashing_get_hint for a fault by `side` that would need the block on its side.
    const hint = (b: Thrashing, side: Side, canMapRemotely: boolean, nowNs: number): Hint => {
      if (!b.tracked) return { kind: "none" };
      if (b.thrashing && b.pinnedTo === null && nowNs - b.lastThrashNs > epochNs && b.resets < knobs.maxResets) {
        b.tracked = false; // epoch reset: the block starts over
        b.resets++;
        resetPage(b);
        return { kind: "none" };
      }
      if (b.pinnedTo !== null) {
        if (nowNs >= b.pinEndNs) resetPage(b); // the unpin work ran: the next fault may migrate again
        else if (b.pinnedTo === side) return { kind: "none" };
        else return canMapRemotely ? { kind: "remote" } : { kind: "throttle", untilNs: Math.min(b.pinEndNs, nowNs + napNs) };
      }
      if (!b.thrashing) return { kind: "none" };
      if (nowNs >= b.throttleEndNs) {
        // A new throttling period: the faulting side is favoured, unless it was last period too.
        b.throttleEndNs = nowNs + napNs;
        b.previousDoNotThrottle = b.doNotThrottle;
        b.doNotThrottle = b.previousDoNotThrottle === side ? null : side;
      }
      // The role left open goes to the next side to fault that did not hold it last period.
      if (b.doNotThrottle === null && side !== b.previousDoNotThrottle) b.doNotThrottle = side;
      if (b.doNotThrottle === side) {
        if (b.throttlingCount >= knobs.pinThreshold) {
          b.pinnedTo = side;
          b.pinEndNs = nowNs + pinNs;
        }
        return { kind: "none" };
      }
      b.throttlingCount++;
      return { kind: "throttle", untilNs: b.throttleEndNs };
    };
    return {
      name: "uvm",
      gpuFault: (q): GpuFaultDecision => {
        const h = hint(block(blockKey(q.mm, q.addr)), "gpu", !q.needVram, q.nowNs);
        if (h.kind === "none") return { kind: "migrate", timesliceMs: NO_TIMESLICE_MS };
        if (h.kind === "remote") return { kind: "stay" };
        return { kind: "throttle", delayNs: Math.max(1000, h.untilNs - q.nowNs) };
      },
      cpuFault: (q): CpuFaultDecision => {
        const h = hint(block(blockKey(q.mm, q.start)), "cpu", false, q.nowNs);
        if (h.kind === "none") return { kind: "migrate" };
        return { kind: "sleep", ns: Math.round(napNs * (1 + 0.5 * random.uniform())) }; // usleep_range(nap, 1.5 nap)
      },
      notifierBlockNs: () => 0,
      migrated: (m) => {
        const b = block(blockKey(m.mm, m.start));
        if (m.cause === "evict") {
          b.tracked = false; // migrations for other reasons reset the region's tracking
          resetPage(b);
          return;
        }
        const side: Side = m.direction === "to_device" ? "gpu" : "cpu";
        const withinLapse = m.startNs - b.lastEventNs <= lapseNs;
        if (!b.tracked) {
          // Tracking starts when two consecutive events from different sides fall within lapse.
          if (withinLapse && b.lastSide !== null && b.lastSide !== side) {
            b.tracked = true;
            b.events = 2;
          }
        } else if (withinLapse) b.events = Math.min(7, b.events + 1);
        else if (b.thrashing && b.pinnedTo === null) resetPage(b);
        else b.events = 1;
        if (b.tracked && b.events >= knobs.threshold) b.thrashing = true;
        if (b.thrashing) b.lastThrashNs = m.startNs;
        b.lastEventNs = m.startNs;
        b.lastSide = side;
      },
    };
  },
});
