import { PAGE_SIZE } from "../kernel/constants.ts";
import { observeMigrations } from "./migration-observer.ts";
import { blockKey } from "../policies/policy-spec.ts";
import type { MigrationNote } from "../platform/policy.ts";
import { BothStuckWatch, histogram, percentiles, ProgressWatch, ratePerSecond, type Percentiles } from "./progress.ts";
import type { MetricEvent } from "./events.ts";

/** What the two sides got done, what it cost them, and what moved between them (docs/metrics.md). */
export interface WorkStats {
  /** Page accesses (reads, writes, atomics) completed, and failed, by CPU threads and GPU threads. */
  cpuAccesses: number;
  cpuFailures: number;
  gpuAccesses: number;
  gpuFailures: number;
  /** CPU accesses that faulted: time from the access to its completion, re-faults included. */
  cpuFaultLatency: Percentiles;
  /** GPU fault handler service time (gpu_fault.begin to .end). */
  gpuFaultLatency: Percentiles;
  /**
   * CPU time busy in re-faults a hold turned away (Xe's timeslice, a policy's re-fault): from each
   * such fault's start to the next fault's; and time asleep in a policy's throttling nap.
   */
  cpuSpinNs: number;
  cpuSleepNs: number;
  /** Faults the accesses took, re-faults included (CPU: handle_mm_fault calls; GPU: fault handler runs). */
  accessFaults: number;
  migrationsToDevice: number;
  migrationsToSystem: number;
  bytesToDevice: number;
  bytesToSystem: number;
  /** Blocks migrated to the device and back with no GPU access completed in between. */
  pingPongs: number;
  /** Longest stretch with accesses in flight and none completing (any side; GPU side; CPU side). */
  noProgressNs: number;
  gpuNoProgressNs: number;
  cpuNoProgressNs: number;
  /** Longest stretch with both sides' accesses in flight and none completing: a livelock if long. */
  bothStuckNs: number;
  vramPeakBytes: number;
  /** Migrations per second each way over the run, in equal time buckets (at most 100). */
  series: { bucketNs: number; toDevicePerS: number[]; toSystemPerS: number[] };
}

/** One thread's page access in flight. */
interface OpenAccess {
  side: "cpu" | "gpu";
  startNs: number;
  mm: number;
  addr: number;
  faults: number;
  /** Throttling naps a policy asked of this access's CPU faults. */
  napNs: number;
  /** A GPU access logged as its page event alone: it ends, ok, at its thread's next event. */
  bare: boolean;
}

type Counts = Pick<WorkStats, "cpuAccesses" | "cpuFailures" | "gpuAccesses" | "gpuFailures" | "cpuSpinNs" | "cpuSleepNs" | "accessFaults" | "migrationsToDevice" | "migrationsToSystem" | "bytesToDevice" | "bytesToSystem" | "pingPongs" | "vramPeakBytes">;

/**
 * The work figures, folded from the log: accesses from access.begin / access.end, their faults
 * from the fault events between them on the same thread, and accesses that needed no fault from
 * their page.read / page.write alone (src/machine/events.ts); migrations as
 * src/machine/migration-observer.ts reads them, device memory from devmem.init / devmem.release.
 */
export class WorkFold {
  private readonly cpuFault = histogram();
  private readonly gpuFault = histogram();
  private readonly both = new ProgressWatch();
  private readonly gpu = new ProgressWatch();
  private readonly cpu = new ProgressWatch();
  private readonly bothStuck = new BothStuckWatch();
  private readonly open = new Map<number, OpenAccess>(); // thread → its access in flight
  private bareOpen = 0; // GPU accesses in `open` logged as their page event alone
  private readonly gpuWorkSinceToDevice = new Map<number, number>(); // block → GPU accesses since it moved to the device
  private readonly devmemBytes = new Map<number, number>();
  private vramBytes = 0;
  private readonly toDeviceAtNs: number[] = [];
  private readonly toSystemAtNs: number[] = [];
  private readonly faultStart = new Map<number, number>(); // thread → gpu_fault.begin time
  private readonly cpuFaultBegin = new Map<number, number>(); // thread → handle_mm_fault.begin time
  private readonly turnedAway = new Set<number>(); // threads whose last CPU fault a hold sent back at once
  private readonly c: Counts = {
    cpuAccesses: 0, cpuFailures: 0, gpuAccesses: 0, gpuFailures: 0, cpuSpinNs: 0, cpuSleepNs: 0, accessFaults: 0,
    migrationsToDevice: 0, migrationsToSystem: 0, bytesToDevice: 0, bytesToSystem: 0, pingPongs: 0, vramPeakBytes: 0,
  };
  private migrations: { onModelEvent(seq: number, tNs: number, thread: number, ctx: string, ev: { kind: string }): void } | null = null;

  constructor() {
    observeMigrations({ subscribe: (l) => void (this.migrations = l) }, (note) => this.migrated(note));
  }

  event(seq: number, tNs: number, thread: number, ctx: string, ev: MetricEvent): void {
    // Where the unlogged access.end of a bare GPU access would have been: just before its thread's next event.
    if (this.bareOpen > 0 && this.open.get(thread)?.bare === true) this.accessEnd(thread, tNs, true);
    this.migrations!.onModelEvent(seq, tNs, thread, ctx, ev);
    switch (ev.kind) {
      case "access.begin":
        return this.accessBegin(thread, tNs, ctx, ev.mm, ev.addr, false);
      case "access.end":
        return this.accessEnd(thread, tNs, ev.ok);
      case "page.read":
      case "page.write": {
        if (this.open.has(thread)) return; // inside a marked access: the access it completes
        // An access that needed no fault, logged as its page event alone: a CPU one begins and
        // completes now; a GPU one began now and ends (ok) at its thread's next event.
        this.accessBegin(thread, tNs, ctx, ev.mm, ev.vpn * PAGE_SIZE, ctx === "gpu");
        if (ctx !== "gpu") this.accessEnd(thread, tNs, true);
        return;
      }
      case "handle_mm_fault.begin": {
        if (this.turnedAway.delete(thread)) this.c.cpuSpinNs += tNs - this.cpuFaultBegin.get(thread)!;
        this.cpuFaultBegin.set(thread, tNs);
        const a = this.open.get(thread);
        if (a?.side === "cpu") a.faults++;
        return;
      }
      case "cpu_fault.timeslice_spin":
        this.turnedAway.add(thread);
        return;
      case "cpu_fault.policy_hold": {
        if (ev.durationNs === 0) this.turnedAway.add(thread);
        const a = this.open.get(thread);
        if (a !== undefined) a.napNs += ev.durationNs; // the faulting thread sleeps it before its retry
        return;
      }
      case "gpu_fault.begin": {
        this.faultStart.set(thread, tNs);
        const a = this.open.get(thread);
        if (a?.side === "gpu") a.faults++;
        return;
      }
      case "gpu_fault.end": {
        const t0 = this.faultStart.get(thread);
        if (t0 !== undefined) this.gpuFault.recordValue(Math.max(1, tNs - t0));
        this.faultStart.delete(thread);
        return;
      }
      case "devmem.init":
        this.devmemBytes.set(ev.devmem, ev.sizeBytes);
        this.vramBytes += ev.sizeBytes;
        this.c.vramPeakBytes = Math.max(this.c.vramPeakBytes, this.vramBytes);
        return;
      case "devmem.release":
        this.vramBytes -= this.devmemBytes.get(ev.devmem) ?? 0;
        this.devmemBytes.delete(ev.devmem);
        return;
    }
  }

  private accessBegin(thread: number, nowNs: number, ctx: string, mm: number, addr: number, bare: boolean): void {
    const side = ctx === "gpu" ? "gpu" : "cpu";
    this.open.set(thread, { side, startNs: nowNs, mm, addr, faults: 0, napNs: 0, bare });
    if (bare) this.bareOpen++;
    this.both.begin(nowNs);
    this.bothStuck.begin(side, nowNs);
    (side === "gpu" ? this.gpu : this.cpu).begin(nowNs);
  }

  private accessEnd(thread: number, nowNs: number, ok: boolean): void {
    const a = this.open.get(thread);
    if (a === undefined) return;
    this.open.delete(thread);
    if (a.bare) this.bareOpen--;
    this.both.end(nowNs, ok);
    this.bothStuck.end(a.side, nowNs, ok);
    (a.side === "gpu" ? this.gpu : this.cpu).end(nowNs, ok);
    this.c.accessFaults += a.faults;
    if (a.side === "cpu") {
      if (ok) this.c.cpuAccesses++;
      else this.c.cpuFailures++;
      if (a.faults > 0) this.cpuFault.recordValue(Math.max(1, nowNs - a.startNs));
      this.c.cpuSleepNs += a.napNs;
      return;
    }
    if (!ok) {
      this.c.gpuFailures++;
      return;
    }
    this.c.gpuAccesses++;
    const block = blockKey(a.mm, a.addr);
    const since = this.gpuWorkSinceToDevice.get(block);
    if (since !== undefined) this.gpuWorkSinceToDevice.set(block, since + 1);
  }

  private migrated(note: MigrationNote): void {
    const bytes = note.end - note.start;
    const block = blockKey(note.mm, note.start);
    (note.direction === "to_device" ? this.toDeviceAtNs : this.toSystemAtNs).push(note.nowNs);
    if (note.direction === "to_device") {
      this.c.migrationsToDevice++;
      this.c.bytesToDevice += bytes;
      this.gpuWorkSinceToDevice.set(block, 0);
      return;
    }
    this.c.migrationsToSystem++;
    this.c.bytesToSystem += bytes;
    if (this.gpuWorkSinceToDevice.get(block) === 0) this.c.pingPongs++;
    this.gpuWorkSinceToDevice.delete(block);
  }

  result(endNs: number): WorkStats {
    for (const w of [this.both, this.gpu, this.cpu, this.bothStuck]) w.finish(endNs);
    const stepNs = 100_000; // buckets are whole multiples of 100 µs
    const bucketNs = Math.max(stepNs, Math.ceil(endNs / 100 / stepNs) * stepNs);
    const buckets = Math.max(1, Math.ceil(endNs / bucketNs));
    return {
      ...this.c,
      cpuFaultLatency: percentiles(this.cpuFault),
      gpuFaultLatency: percentiles(this.gpuFault),
      noProgressNs: this.both.longestNs,
      gpuNoProgressNs: this.gpu.longestNs,
      cpuNoProgressNs: this.cpu.longestNs,
      bothStuckNs: this.bothStuck.longestNs,
      series: { bucketNs, toDevicePerS: ratePerSecond(this.toDeviceAtNs, buckets, bucketNs), toSystemPerS: ratePerSecond(this.toSystemAtNs, buckets, bucketNs) },
    };
  }
}
