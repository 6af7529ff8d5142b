import { Engine, type ExecContext, type Hz, type ProcessBody } from "../../src/engine/index.ts";
import { EventLog } from "../../src/kernel/event-log.ts";
import { Kernel } from "../../src/kernel/kernel.ts";
import { mmap, mmCreate } from "../../src/kernel/mm.ts";
import { FaultInjector, type FaultPlan } from "../../src/faults/injector.ts";
import { applyModelEvent } from "../../src/pagemap/apply.ts";
import { PagemapContext, type ModelVariant, type ZddReleaseMode } from "../../src/pagemap/context.ts";
import type { ModelEvent } from "../../src/pagemap/events.ts";
import { createModelState, type ModelState } from "../../src/pagemap/state.ts";
import { SimpleDevice } from "../../src/platform/simple-device.ts";
import { SimpleDma } from "../../src/platform/simple-dma.ts";

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
}

/** One process (mm) and one GPU on the seed model, with every event kept for assertions. */
export function pagemapWorld(options: WorldOptions = {}) {
  const engine = new Engine({ hz: options.hz ?? 250 });
  const log = new EventLog<ModelState, ModelEvent>(engine, createModelState(), applyModelEvent);
  const events: { seq: number; tNs: number; thread: number; ctx: string; ev: ModelEvent }[] = [];
  log.subscribe({ onModelEvent: (seq, tNs, thread, ctx, ev) => events.push({ seq, tNs, thread, ctx, ev }) });
  const k = new Kernel(engine, log);
  const faults = new FaultInjector(options.faults ?? {}, engine.random.stream("faults"));
  k.allocFailure = (_what, order) => faults.fail(order === 0 ? "folio_alloc_order0" : "folio_alloc_order9");
  const dma = new SimpleDma(faults);
  const p = new PagemapContext(k, log, dma, faults, {
    variant: options.variant ?? "seed",
    zddRelease: options.zddRelease ?? "inline",
  });
  const dev = new SimpleDevice(p, { release: options.release ?? "sync", vramPages: options.vramPages ?? 4096 });
  const mm = mmCreate(k);
  const kinds = (): string[] => events.map((e) => e.ev.kind);
  return { engine, log, k, p, dev, dma, faults, mm, events, kinds };
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
