import { Engine, type Hz, type SchedulePerturbation } from "../engine/index.ts";
import { EventLog } from "../kernel/event-log.ts";
import { Kernel } from "../kernel/kernel.ts";
import { mmCreate } from "../kernel/mm.ts";
import { FaultInjector, type FaultPlan } from "../faults/injector.ts";
import { PagemapContext, type ModelVariant, type ZddReleaseMode } from "../pagemap/context.ts";
import { createModelState } from "../pagemap/state.ts";
import { CopyEngine } from "../platform/copy-engine.ts";
import { withPlatformState, type WorldState } from "../platform/events.ts";
import { GpuSvm, type IrqFrees } from "../platform/gpu-svm.ts";
import { IommuDma } from "../platform/iommu-dma.ts";
import type { PlatformProfile } from "../platform/profile.ts";
import { SimpleDevice, type SimpleDeviceOptions } from "../platform/simple-device.ts";
import { SimpleDma } from "../platform/simple-dma.ts";
import { XeDevice } from "../platform/xe-device.ts";
import { PAGE_SIZE } from "../kernel/constants.ts";
import { applyRunEvent, type RunEvent } from "./run-events.ts";
import type { MigrationNote, MigrationPolicy } from "../platform/policy.ts";
import { createPolicy, type PolicyChoice } from "../policies/registry.ts";
import { observeMigrations } from "./migration-observer.ts";

export interface WorldOptions {
  seed?: number;
  variant?: ModelVariant;
  zddRelease?: ZddReleaseMode;
  hz?: Hz;
  /** Transparent huge pages for anonymous memory. Default "never". */
  thp?: "always" | "never";
  /** drm_pagemap asks for device-private THP (MIGRATE_VMA_SELECT_COMPOUND); newest only. */
  deviceThp?: boolean;
  faults?: FaultPlan;
  device?: Partial<SimpleDeviceOptions>;
  /**
   * The calibrated machine (GPU with SVM fault handling, IOMMU DMA, copy engine, buddy VRAM).
   * Without one, the world has the minimal flat-cost device of the model's own tests.
   */
  platform?: PlatformProfile;
  /** Device-page references dropped from interrupt context (platform runs only). */
  irqFrees?: IrqFrees;
  /** The migration policy (platform runs only); default the kernel's own, xe. */
  policy?: PolicyChoice;
  /** Tie shuffling and latency jitter (the explorer's); default none. */
  schedule?: SchedulePerturbation;
}

/**
 * One simulated machine: the engine, the event log over the model state, the kernel, fault
 * injection, a DMA layer, drm_pagemap, one GPU, and one process (mm). Everything a workload or a
 * test drives is reachable from here.
 */
export function createWorld(options: WorldOptions = {}, onLog?: (log: EventLog<WorldState, RunEvent>) => void) {
  const engine = new Engine({ seed: options.seed ?? 1, hz: options.hz ?? 250, ...(options.schedule === undefined ? {} : { schedule: options.schedule }) });
  const log = new EventLog<WorldState, RunEvent>(engine, withPlatformState(createModelState()), applyRunEvent);
  onLog?.(log); // listeners (the recorder) attach before the first event
  const profile = options.platform;
  const k = new Kernel(engine, log, profile === undefined ? {} : { ...profile.cpu });
  const faults = new FaultInjector(options.faults ?? {}, engine.random.stream("faults"));
  k.thp = options.thp ?? "never";
  k.deviceThpMm = options.variant === "newest"; // the newest variant's mm is v6.19+
  // Bounded system RAM: an allocation that would exceed it fails, as an exhausted zone would.
  const ramPages = profile === undefined ? 0 : Math.floor(profile.cpu.systemRamBytes / PAGE_SIZE);
  k.allocFailure = (_what, order, memory) =>
    faults.fail(order === 0 ? "folio_alloc_order0" : "folio_alloc_order9") || (memory === "system" && ramPages > 0 && log.state.allocatedPages.system + 2 ** order > ramPages);
  const dma = profile === undefined ? new SimpleDma(faults) : new IommuDma(faults, profile.dma.iommu, profile.dma.costs);
  const p = new PagemapContext(k, log, dma, faults, {
    variant: options.variant ?? "seed",
    zddRelease: options.zddRelease ?? "inline",
    deviceThp: options.deviceThp ?? false,
  });
  let dev: SimpleDevice | XeDevice;
  let gpu: GpuSvm | null = null;
  let copyEngine: CopyEngine | null = null;
  let policy: MigrationPolicy | null = null;
  // One reader of the log's migrations per run for the policy (the run's metrics fold the same observer over the log: src/machine).
  const migrationListeners: ((note: MigrationNote) => void)[] = [];
  observeMigrations(log, (note) => {
    for (const listen of migrationListeners) listen(note);
  });
  if (profile === undefined) {
    dev = new SimpleDevice(p, options.device ?? {});
  } else {
    copyEngine = new CopyEngine(engine, profile.copy, (ev) => log.commit(ev), log.state);
    // drm_buddy's layout: one root as large as VRAM allows, blocks taken from the top.
    const vramPages = Math.floor(profile.vram.sizeBytes / PAGE_SIZE);
    const vram = { sizeBytes: vramPages * PAGE_SIZE, maxOrder: Math.floor(Math.log2(vramPages)), placement: "high" as const };
    const xe = new XeDevice(p, profile, vram, copyEngine, (ev) => log.commit(ev));
    dev = xe;
    policy = createPolicy(options.policy ?? { name: "xe", knobs: {} }, { engine, profile });
    const chosen = policy;
    migrationListeners.push((note) => chosen.migrated(note));
    p.cpuFaultPolicy = policy.cpuFault;
    gpu = new GpuSvm(p, xe, profile, (ev) => log.commit(ev), options.irqFrees, policy);
  }
  const mm = mmCreate(k);
  return { engine, log, k, p, dev, dma, faults, mm, gpu, copyEngine, policy, migrationListeners, profile: profile ?? null };
}

export type World = ReturnType<typeof createWorld>;
