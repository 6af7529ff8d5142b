import * as z from "zod";
import { blockKey, definePolicy } from "./policy-spec.ts";
import { NO_TIMESLICE_MS } from "../platform/timeslice.ts";

interface BlockHistory {
  /** Round trips (to the device and back) counted against this block; decays when quiet. */
  pingPongs: number;
  lastMigrationNs: number;
  wentBackNs: number;
  holdEndNs: number;
}

/**
 * An exponential hold per 2 MiB block (policies-and-calibration.md §5, P3): each migration to the
 * device holds the block there for initialHoldMs · 2^k, k the block's recent round trips (capped
 * at maxHoldMs), and k halves for every quiet period without a migration. A CPU fault during the
 * hold sleeps until it ends (cpuWait: sleep) or faults again at once (spin, as Xe's CPU does).
 */
export const backoffPolicy = definePolicy({
  name: "backoff",
  summary: "a per-block hold that doubles with each ping-pong and halves per quiet period; the CPU sleeps out the hold",
  knobs: z.strictObject({
    initialHoldMs: z.number().nonnegative().default(1),
    maxHoldMs: z.number().positive().default(64),
    quietMs: z.number().positive().default(50),
    cpuWait: z.enum(["sleep", "spin"]).default("sleep"),
  }),
  create(knobs, ctx) {
    const blocks = new Map<number, BlockHistory>();
    const history = (key: number, nowNs: number): BlockHistory => {
      let h = blocks.get(key);
      if (h === undefined) {
        h = { pingPongs: 0, lastMigrationNs: nowNs, wentBackNs: -1, holdEndNs: 0 };
        blocks.set(key, h);
      }
      // Decay: one halving per quiet period since the block last moved.
      const quietPeriods = Math.floor((nowNs - h.lastMigrationNs) / (knobs.quietMs * 1e6));
      if (quietPeriods > 0) h.pingPongs = Math.floor(h.pingPongs / 2 ** Math.min(quietPeriods, 30));
      return h;
    };
    return {
      name: "backoff",
      gpuFault: () => ({ kind: "migrate", timesliceMs: NO_TIMESLICE_MS }),
      cpuFault: (q) => {
        const h = blocks.get(blockKey(q.mm, q.start));
        const left = h === undefined ? 0 : h.holdEndNs - q.nowNs;
        if (left <= 0) return { kind: "migrate" };
        return knobs.cpuWait === "sleep" ? { kind: "sleep", ns: left } : { kind: "refault" };
      },
      notifierBlockNs: () => 0,
      migrated: (m) => {
        const h = history(blockKey(m.mm, m.start), m.nowNs);
        h.lastMigrationNs = m.nowNs;
        if (m.direction === "to_system") {
          h.wentBackNs = m.nowNs;
          h.holdEndNs = 0;
          return;
        }
        if (h.wentBackNs >= 0) h.pingPongs++; // it had come back from the device before: a round trip
        const holdMs = Math.min(knobs.maxHoldMs, knobs.initialHoldMs * 2 ** Math.min(h.pingPongs, 30));
        h.holdEndNs = m.nowNs + Math.round(holdMs * 1e6);
        void ctx;
      },
    };
  },
});
