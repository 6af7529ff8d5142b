import { Completion, Work, Workqueue, type ProcessBody } from "../engine/index.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { FaultInjector, FaultPoint } from "../faults/injector.ts";
import type { ModelEvent } from "./events.ts";
import type { DmaOps, DrmPagemapDevmemOps, DrmPagemapOps } from "./ops.ts";
import type { ModelState } from "./state.ts";

/**
 * Which drm_pagemap the model runs: the seed (mid-2025 mainline, the default), or the newest
 * public behaviour where kernel-fidelity.md a.2 says it differs (#4 devmem reference consumed on
 * error, #5 -EBUSY for an empty collection, #7 the post-finalize race check).
 */
export type ModelVariant = "seed" | "newest";

/**
 * Where drm_pagemap_zdd_destroy runs once the last reference goes:
 * - "inline": in whatever context dropped it, IRQ included (what the seed's code does);
 * - "deferred": from a workqueue (what the seed's kerneldoc describes).
 */
export type ZddReleaseMode = "inline" | "deferred";

export interface PagemapOptions {
  variant: ModelVariant;
  zddRelease: ZddReleaseMode;
  /** model.deviceThp: migrate_vma calls add MIGRATE_VMA_SELECT_COMPOUND (newest only). */
  deviceThp?: boolean;
  /** Queue-to-execute latency of the deferred release's workqueue. */
  releaseQueueLatencyNs: number;
}

/** A CPU fault on a device page, as a migration policy sees it (the allocation's chunk). */
export interface CpuFaultQuery {
  devmem: number;
  mm: number;
  addr: number;
  /** The allocation-sized chunk around the fault that would migrate back. */
  start: number;
  end: number;
  nowNs: number;
}

/**
 * A migration policy's answer to a CPU fault on a device page: migrate back, or not yet — the
 * CPU faults again at once (as the kernel's own timeslice makes it), or sleeps first.
 */
export type CpuFaultDecision = { kind: "migrate" } | { kind: "refault" } | { kind: "sleep"; ns: number };

export const DEFAULT_PAGEMAP_OPTIONS: PagemapOptions = { variant: "seed", zddRelease: "inline", releaseQueueLatencyNs: 5_000 };

/**
 * drm_pagemap's shared context: the kernel it stands on, the event log, the per-allocation
 * `detached` completions and ops tables (driver-provided), and the fault injector.
 */
export class PagemapContext {
  readonly options: PagemapOptions;
  readonly releaseWq: Workqueue;
  private readonly detachedCompletions = new Map<number, Completion>();
  private readonly devmemOpsTable = new Map<number, DrmPagemapDevmemOps>();
  private readonly dpagemapOpsTable = new Map<number, DrmPagemapOps>();
  /**
   * A migration policy's say on CPU faults to device pages (src/policies), consulted after the
   * kernel's own timeslice check; null leaves the kernel's behaviour alone.
   */
  cpuFaultPolicy: ((q: CpuFaultQuery) => CpuFaultDecision) | null = null;

  constructor(
    readonly k: Kernel,
    readonly log: { readonly state: ModelState; commit(ev: ModelEvent): void },
    readonly dma: DmaOps,
    readonly faults: FaultInjector,
    options: Partial<PagemapOptions> = {},
  ) {
    this.options = { ...DEFAULT_PAGEMAP_OPTIONS, ...options };
    this.releaseWq = new Workqueue(k.engine, "drm_pagemap_release", { maxActive: 1, queueLatencyNs: this.options.releaseQueueLatencyNs });
  }

  get state(): ModelState {
    return this.log.state;
  }

  commit(ev: ModelEvent): void {
    this.log.commit(ev);
  }

  fail(point: FaultPoint): boolean {
    return this.faults.fail(point);
  }

  /** devmem->detached. */
  detached(devmem: number): Completion {
    let c = this.detachedCompletions.get(devmem);
    if (c === undefined) {
      c = new Completion(this.k.engine, `detached:devmem${devmem}`);
      this.detachedCompletions.set(devmem, c);
    }
    return c;
  }

  setDevmemOps(devmem: number, ops: DrmPagemapDevmemOps): void {
    this.devmemOpsTable.set(devmem, ops);
  }

  devmemOps(devmem: number): DrmPagemapDevmemOps {
    const ops = this.devmemOpsTable.get(devmem);
    if (ops === undefined) throw new Error(`devmem ${devmem} has no ops`);
    return ops;
  }

  setDpagemapOps(dpagemap: number, ops: DrmPagemapOps): void {
    this.dpagemapOpsTable.set(dpagemap, ops);
  }

  dpagemapOps(dpagemap: number): DrmPagemapOps {
    const ops = this.dpagemapOpsTable.get(dpagemap);
    if (ops === undefined) throw new Error(`dpagemap ${dpagemap} has no ops`);
    return ops;
  }

  /** Runs `body` later on the release workqueue (the deferred zdd destroy). */
  defer(name: string, body: () => ProcessBody<void>): void {
    this.releaseWq.queueWork(new Work(name, body));
  }
}
