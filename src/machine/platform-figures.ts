import { errnoName } from "../kernel/constants.ts";
import type { MetricEvent } from "./events.ts";

/** One GPU fault's service, stage by stage (µs figures are derived from these ns). */
export interface GpuFaultReport {
  thread: string;
  startNs: number;
  access: string;
  ret: string;
  /** gpu_fault.begin to gpu_fault.end. */
  totalNs: number;
  /** Time in each stage, summed over the handler's retries. */
  migrateNs: number;
  /** Copy-engine time (waiting for a channel included) inside the migration. */
  copyNs: number;
  getPagesNs: number;
  bindNs: number;
  attempts: number;
  /** The timeslice the fault asked for, and the one its successful migration stamped (-1: none). */
  askedTimesliceMs: number;
  stampedTimesliceMs: number;
}

/** What the platform's parts did over the run (platform runs only), from the log (docs/metrics.md). */
export interface PlatformStats {
  dmaMaps: number;
  /** Mapping time: dma_map_page, or (iova mode) dma_iova_try_alloc, _link and _sync. */
  dmaMapNs: number;
  /** Unmapping time: dma_unmap_page, or (iova mode) dma_iova_unlink and _free. */
  dmaUnmapNs: number;
  /** iova mode: IOVA ranges allocated (one per migration) and pieces linked into them. */
  dmaIovaAllocs: number;
  dmaIovaLinks: number;
  copyJobs: number;
  copyBytes: number;
  /** Copy-engine busy time over the run's length, per channel. */
  copyUtilisation: number;
  vramEvictions: number;
  /** GPU accesses that took effect (a page.read or page.write by a GPU thread). */
  gpuAccesses: number;
  /** Device-page references dropped from interrupt context. */
  irqPuts: number;
  /** For each released allocation: from its last device page going (detach) to its VRAM returned. */
  releaseDelaysNs: number[];
  /** GPU time in accesses that faulted, from the first fault to the access done. */
  gpuStallNs: number;
  /** GPU faults the policy throttled, and the replay delays they cost. */
  gpuThrottles: number;
  gpuThrottleNs: number;
  /** Time migrations back waited in the GPU's MMU notifier (notifier-block). */
  notifierBlockNs: number;
}

type Counts = Omit<PlatformStats, "copyUtilisation" | "releaseDelaysNs">;

/** The platform figures and the GPU fault table, folded from the log. */
export class PlatformFold {
  readonly gpuFaults: GpuFaultReport[] = [];
  private readonly openFaults = new Map<number, GpuFaultReport>(); // thread → its GPU fault in service
  private readonly detachedAt = new Map<number, number>(); // devmem → devmem.detach time
  private readonly releaseDelaysNs: number[] = [];
  private copyBusyNs = 0;
  /** The copy engine's channels, from copy.init (a run without a platform has none: no platform figures). */
  private copyChannels: number | null = null;
  private readonly c: Counts = {
    dmaMaps: 0, dmaMapNs: 0, dmaUnmapNs: 0, dmaIovaAllocs: 0, dmaIovaLinks: 0, copyJobs: 0, copyBytes: 0, vramEvictions: 0, gpuAccesses: 0,
    irqPuts: 0, gpuStallNs: 0, gpuThrottles: 0, gpuThrottleNs: 0, notifierBlockNs: 0,
  };

  constructor(private readonly threadName: (uid: number) => string) {}

  event(tNs: number, thread: number, ctx: string, ev: MetricEvent): void {
    switch (ev.kind) {
      case "copy.init":
        this.copyChannels = ev.channels;
        return;
      case "page.read":
      case "page.write":
        if (ctx === "gpu") this.c.gpuAccesses++;
        return;
      case "access.end":
        this.c.gpuStallNs += ev.stallNs;
        return;
      case "dma.map":
        this.c.dmaMaps++;
        this.c.dmaMapNs += ev.durationNs;
        return;
      case "dma.unmap":
        this.c.dmaUnmapNs += ev.durationNs;
        return;
      case "dma.iova_alloc":
        this.c.dmaIovaAllocs++;
        this.c.dmaMapNs += ev.durationNs;
        return;
      case "dma.iova_link":
        this.c.dmaIovaLinks++;
        this.c.dmaMapNs += ev.durationNs;
        return;
      case "dma.iova_sync":
        this.c.dmaMapNs += ev.durationNs;
        return;
      case "dma.iova_unlink":
      case "dma.iova_free":
        this.c.dmaUnmapNs += ev.durationNs;
        return;
      case "copy.job": {
        this.c.copyJobs++;
        this.c.copyBytes += ev.bytes;
        this.copyBusyNs += ev.durationNs;
        const f = this.openFaults.get(thread);
        if (f !== undefined) f.copyNs += ev.queuedNs + ev.durationNs;
        return;
      }
      case "vram.evict":
        // TTM chose the least recently used allocation to evict, to make room for a new one.
        this.c.vramEvictions++;
        return;
      case "gpu.irq_put":
        this.c.irqPuts++;
        return;
      case "gpu_fault.throttle":
        this.c.gpuThrottles++;
        this.c.gpuThrottleNs += ev.durationNs;
        return;
      case "mmu_notifier.block":
        this.c.notifierBlockNs += ev.durationNs;
        return;
      case "devmem.detach":
        this.detachedAt.set(ev.devmem, tNs);
        return;
      case "devmem.release": {
        const at = this.detachedAt.get(ev.devmem);
        if (at !== undefined) this.releaseDelaysNs.push(tNs - at);
        this.detachedAt.delete(ev.devmem);
        return;
      }
      default:
        return this.gpuFaultEvent(tNs, thread, ev);
    }
  }

  /** The GPU fault table: each fault's stages, from gpu_fault.begin to gpu_fault.end. */
  private gpuFaultEvent(tNs: number, thread: number, ev: MetricEvent): void {
    if (ev.kind === "gpu_fault.begin") {
      this.openFaults.set(thread, { thread: this.threadName(thread), startNs: tNs, access: ev.access, ret: "", totalNs: 0, migrateNs: 0, copyNs: 0, getPagesNs: 0, bindNs: 0, attempts: 0, askedTimesliceMs: 0, stampedTimesliceMs: -1 });
    } else if (ev.kind === "gpu_fault.stage") {
      const f = this.openFaults.get(thread);
      if (f === undefined) return;
      if (ev.stage === "migrate") f.migrateNs += ev.durationNs;
      else if (ev.stage === "get_pages") f.getPagesNs += ev.durationNs;
      else if (ev.stage === "bind") f.bindNs += ev.durationNs;
      f.attempts = Math.max(f.attempts, ev.attempt + 1);
    } else if (ev.kind === "gpu_fault.end") {
      const f = this.openFaults.get(thread);
      if (f === undefined) return;
      this.openFaults.delete(thread);
      f.totalNs = tNs - f.startNs;
      f.ret = errnoName(ev.ret);
      f.askedTimesliceMs = ev.askedTimesliceMs;
      f.stampedTimesliceMs = ev.stampedTimesliceMs;
      this.gpuFaults.push(f);
    }
  }

  /**
   * The figures at `endNs`, or null for a run without a platform (no copy.init in its log);
   * copy-engine utilisation is busy time over the run's length per channel.
   */
  result(endNs: number): PlatformStats | null {
    const channels = this.copyChannels;
    if (channels === null) return null;
    return { ...this.c, copyUtilisation: endNs === 0 ? 0 : this.copyBusyNs / (endNs * channels), releaseDelaysNs: this.releaseDelaysNs };
  }
}
