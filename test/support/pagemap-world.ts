import type { ExecContext, Hz, ProcessBody } from "../../src/engine/index.ts";
import { mmap } from "../../src/kernel/mm.ts";
import type { FaultPlan } from "../../src/faults/injector.ts";
import type { ModelVariant, ZddReleaseMode } from "../../src/pagemap/context.ts";
import type { PlatformProfile } from "../../src/platform/profile.ts";
import type { RunEvent } from "../../src/machine/run-events.ts";
import { createWorld } from "../../src/machine/world.ts";

export const MB = 1 << 20;
/** Where tests map their anonymous memory: 2 MiB aligned, as THP and Xe ranges like. */
export const BASE = 64 * MB;

export interface WorldOptions {
  variant?: ModelVariant;
  zddRelease?: ZddReleaseMode;
  release?: "sync" | "async";
  faults?: FaultPlan;
  hz?: Hz;
  vramPages?: number;
  thp?: "always" | "never";
  /** model.deviceThp (newest only). */
  deviceThp?: boolean;
  /** A platform profile: the Xe device, copy engine and GPU SVM (GPU accesses need one). */
  platform?: PlatformProfile;
}

/** The workload layer's world (one process, one GPU) with every event kept for assertions. */
export function pagemapWorld(options: WorldOptions = {}) {
  const world = createWorld({
    variant: options.variant ?? "seed",
    zddRelease: options.zddRelease ?? "inline",
    hz: options.hz ?? 250,
    thp: options.thp ?? "never",
    deviceThp: options.deviceThp ?? false,
    faults: options.faults ?? {},
    device: { release: options.release ?? "sync", vramPages: options.vramPages ?? 4096 },
    ...(options.platform === undefined ? {} : { platform: options.platform }),
  });
  const events: { seq: number; tNs: number; thread: number; ctx: string; ev: RunEvent }[] = [];
  world.log.subscribe({ onModelEvent: (seq, tNs, thread, ctx, ev) => events.push({ seq, tNs, thread, ctx, ev }) });
  const kinds = (): string[] => events.map((e) => e.ev.kind);
  return { ...world, events, kinds };
}

export type World = ReturnType<typeof pagemapWorld>;

/** Runs `body` as a thread to the end of the simulation and returns what it returned. */
export function runThread<T>(w: World, body: ProcessBody<T>, ctx: ExecContext = "process"): T {
  const proc = w.engine.spawn(`thread${w.engine.liveProcesses}`, body, ctx);
  w.engine.run();
  if (!proc.exited) throw new Error("thread did not finish (blocked?)");
  return proc.result as T;
}

/** mmap an anonymous private read-write range at BASE. */
export function* mapAnon(w: World, sizeBytes = 2 * MB, addr = BASE): ProcessBody<number> {
  return yield* mmap(w.k, w.mm, { addr, lengthBytes: sizeBytes, kind: "anon-private", read: true, write: true });
}
