import { Engine, type Hz } from "../engine/index.ts";
import { EventLog } from "../kernel/event-log.ts";
import { Kernel } from "../kernel/kernel.ts";
import { mmCreate } from "../kernel/mm.ts";
import { FaultInjector, type FaultPlan } from "../faults/injector.ts";
import { PagemapContext, type ModelVariant, type ZddReleaseMode } from "../pagemap/context.ts";
import { createModelState, type ModelState } from "../pagemap/state.ts";
import { SimpleDevice, type SimpleDeviceOptions } from "../platform/simple-device.ts";
import { SimpleDma } from "../platform/simple-dma.ts";
import { applyRunEvent, type RunEvent } from "./events.ts";

export interface WorldOptions {
  seed?: number;
  variant?: ModelVariant;
  zddRelease?: ZddReleaseMode;
  hz?: Hz;
  /** Transparent huge pages for anonymous memory. Default "never". */
  thp?: "always" | "never";
  faults?: FaultPlan;
  device?: Partial<SimpleDeviceOptions>;
}

/**
 * One simulated machine: the engine, the event log over the model state, the kernel, fault
 * injection, a DMA layer, drm_pagemap, one GPU, and one process (mm). Everything a workload or a
 * test drives is reachable from here.
 */
export function createWorld(options: WorldOptions = {}, onLog?: (log: EventLog<ModelState, RunEvent>) => void) {
  const engine = new Engine({ seed: options.seed ?? 1, hz: options.hz ?? 250 });
  const log = new EventLog<ModelState, RunEvent>(engine, createModelState(), applyRunEvent);
  onLog?.(log); // listeners (the recorder) attach before the first event
  const k = new Kernel(engine, log);
  const faults = new FaultInjector(options.faults ?? {}, engine.random.stream("faults"));
  k.thp = options.thp ?? "never";
  k.allocFailure = (_what, order) => faults.fail(order === 0 ? "folio_alloc_order0" : "folio_alloc_order9");
  const dma = new SimpleDma(faults);
  const p = new PagemapContext(k, log, dma, faults, {
    variant: options.variant ?? "seed",
    zddRelease: options.zddRelease ?? "inline",
  });
  const dev = new SimpleDevice(p, options.device ?? {});
  const mm = mmCreate(k);
  return { engine, log, k, p, dev, dma, faults, mm };
}

export type World = ReturnType<typeof createWorld>;
