import * as z from "zod";
import { definePolicy } from "./policy-spec.ts";
import { NO_TIMESLICE_MS } from "../platform/timeslice.ts";

/** A token bucket of bytes: refills at a rate up to a depth; completed migrations are charged. */
class ByteBucket {
  private tokens: number;
  private lastNs = 0;
  constructor(private readonly bytesPerNs: number, private readonly burstBytes: number) {
    this.tokens = burstBytes;
  }
  private refill(nowNs: number): void {
    this.tokens = Math.min(this.burstBytes, this.tokens + (nowNs - this.lastNs) * this.bytesPerNs);
    this.lastNs = nowNs;
  }
  /** A migration may start while the bucket is not in debt: 0, or the ns until it is not. */
  waitNs(nowNs: number): number {
    this.refill(nowNs);
    return this.tokens > 0 ? 0 : Math.ceil((1 - this.tokens) / this.bytesPerNs);
  }
  charge(bytes: number, nowNs: number): void {
    this.refill(nowNs);
    this.tokens -= bytes;
  }
}

/**
 * A rate limit on migrated bytes per direction (legacy NUMA balancing: 128 MB per 100 ms per
 * node, policies-and-calibration.md §3): a token bucket each way, charged with every completed
migration's bytes; a migration may start while its direction is not in debt. A GPU fault over the limit maps
 * the pages where they are, or, needing VRAM, is replayed when the bucket has refilled; a CPU
 * fault over the limit sleeps until it has (the CPU cannot reach device memory).
 */
export const rateLimitPolicy = definePolicy({
  name: "rate-limit",
  summary: "a token bucket on migrated bytes per direction (legacy NUMA: 128 MB per 100 ms)",
  knobs: z.strictObject({
    bytesPerWindow: z.number().int().positive().default(128 * 1024 * 1024),
    windowMs: z.number().positive().default(100),
    /** Bucket depth; default one window's worth. */
    burstBytes: z.number().int().positive().optional(),
  }),
  create(knobs) {
    const rate = knobs.bytesPerWindow / (knobs.windowMs * 1e6);
    const burst = knobs.burstBytes ?? knobs.bytesPerWindow;
    const toDevice = new ByteBucket(rate, burst);
    const toSystem = new ByteBucket(rate, burst);
    return {
      name: "rate-limit",
      gpuFault: (q) => {
        const waitNs = toDevice.waitNs(q.nowNs);
        if (waitNs === 0) return { kind: "migrate", timesliceMs: NO_TIMESLICE_MS };
        return q.needVram ? { kind: "throttle", delayNs: waitNs } : { kind: "stay" };
      },
      cpuFault: (q) => {
        const waitNs = toSystem.waitNs(q.nowNs);
        return waitNs === 0 ? { kind: "migrate" } : { kind: "sleep", ns: waitNs };
      },
      notifierBlockNs: () => 0,
      migrated: (m) => (m.direction === "to_device" ? toDevice : toSystem).charge(m.end - m.start, m.nowNs),
    };
  },
});
