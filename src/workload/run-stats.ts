import * as hdr from "hdr-histogram-js";
import type { ObservableLog } from "../policies/observer.ts";
import { blockKey } from "../policies/policy-spec.ts";
import type { MigrationNote } from "../platform/policy.ts";
import type { ModelEvent } from "../pagemap/events.ts";

/** Latency percentiles in ns, from an HdrHistogram (3 significant digits). */
export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

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

/** Longest interval during which some access was in flight and none completed. */
class ProgressWatch {
  private inFlight = 0;
  private sinceNs = 0;
  longestNs = 0;
  begin(nowNs: number): void {
    if (this.inFlight++ === 0) this.sinceNs = nowNs;
  }
  end(nowNs: number, done: boolean): void {
    this.inFlight--;
    this.longestNs = Math.max(this.longestNs, nowNs - this.sinceNs);
    if (done) this.sinceNs = nowNs;
  }
  finish(nowNs: number): void {
    if (this.inFlight > 0) this.longestNs = Math.max(this.longestNs, nowNs - this.sinceNs);
  }
}

/**
 * Longest interval during which both sides were trying — an access in flight, or a failed one
 * retried at once by the next — and neither completed one.
 */
class BothStuckWatch {
  private readonly inFlight = { cpu: 0, gpu: 0 };
  /** When a side's last access failed with nothing else of it in flight (it may try again at once). */
  private readonly failedAtNs = { cpu: -1, gpu: -1 };
  private sinceNs = -1;
  longestNs = 0;
  private trying(side: "cpu" | "gpu", nowNs: number): boolean {
    return this.inFlight[side] > 0 || this.failedAtNs[side] === nowNs;
  }
  begin(side: "cpu" | "gpu", nowNs: number): void {
    this.inFlight[side]++;
    const other = side === "cpu" ? "gpu" : "cpu";
    if (!this.trying(other, nowNs)) this.sinceNs = -1; // the other side went idle since
    else if (this.sinceNs < 0) this.sinceNs = nowNs;
  }
  end(side: "cpu" | "gpu", nowNs: number, done: boolean): void {
    const other = side === "cpu" ? "gpu" : "cpu";
    if (this.sinceNs >= 0) {
      // If the other side gave up and did not try again, the stretch ended when it gave up.
      const until = this.trying(other, nowNs) ? nowNs : this.failedAtNs[other];
      this.longestNs = Math.max(this.longestNs, until - this.sinceNs);
      if (until !== nowNs) this.sinceNs = -1;
    }
    this.inFlight[side]--;
    if (!done && this.inFlight[side] === 0) this.failedAtNs[side] = nowNs;
    if (done) this.sinceNs = this.inFlight.cpu > 0 && this.inFlight.gpu > 0 ? nowNs : -1;
  }
  finish(nowNs: number): void {
    if (this.sinceNs >= 0 && this.inFlight.cpu > 0 && this.inFlight.gpu > 0) this.longestNs = Math.max(this.longestNs, nowNs - this.sinceNs);
  }
}

function histogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

function percentiles(h: ReturnType<typeof histogram>): Percentiles {
  if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  return { count: h.totalCount, p50: h.getValueAtPercentile(50), p90: h.getValueAtPercentile(90), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9), max: h.maxValue };
}

/**
 * Collects a run's work and migration figures as it runs: the workload's threads report each
 * access; migrations, GPU faults and device allocations are read from the event log.
 */
export class RunStats {
  private readonly cpuFault = histogram();
  private readonly gpuFault = histogram();
  private readonly both = new ProgressWatch();
  private readonly gpu = new ProgressWatch();
  private readonly cpu = new ProgressWatch();
  private readonly bothStuck = new BothStuckWatch();
  private readonly gpuWorkSinceToDevice = new Map<number, number>(); // block → GPU accesses since it moved to the device
  private readonly devmemBytes = new Map<number, number>();
  private vramBytes = 0;
  private readonly toDeviceAtNs: number[] = [];
  private readonly toSystemAtNs: number[] = [];
  private readonly stats: Omit<WorkStats, "cpuFaultLatency" | "gpuFaultLatency" | "noProgressNs" | "gpuNoProgressNs" | "cpuNoProgressNs" | "bothStuckNs" | "series"> = {
    cpuAccesses: 0, cpuFailures: 0, gpuAccesses: 0, gpuFailures: 0, cpuSpinNs: 0, cpuSleepNs: 0,
    migrationsToDevice: 0, migrationsToSystem: 0, bytesToDevice: 0, bytesToSystem: 0, pingPongs: 0, vramPeakBytes: 0,
  };

  /** Reads `log`, and hears of migrations through `migrationListeners` (the world's one observer). */
  constructor(log: ObservableLog, migrationListeners: ((note: MigrationNote) => void)[]) {
    migrationListeners.push((note) => this.migrated(note));
    const faultStart = new Map<number, number>(); // thread → gpu_fault.begin time
    const cpuFaultBegin = new Map<number, number>(); // thread → handle_mm_fault.begin time
    const turnedAway = new Set<number>(); // threads whose last CPU fault a hold sent back at once
    log.subscribe({
      onModelEvent: (_seq, tNs, thread, _ctx, e) => {
        const ev = e as ModelEvent | { kind: "gpu_fault.begin" | "gpu_fault.end" };
        if (ev.kind === "handle_mm_fault.begin") {
          if (turnedAway.delete(thread)) this.stats.cpuSpinNs += tNs - cpuFaultBegin.get(thread)!;
          cpuFaultBegin.set(thread, tNs);
        } else if (ev.kind === "cpu_fault.timeslice_spin" || (ev.kind === "cpu_fault.policy_hold" && ev.durationNs === 0)) turnedAway.add(thread);
        else if (ev.kind === "gpu_fault.begin") faultStart.set(thread, tNs);
        else if (ev.kind === "gpu_fault.end") {
          const t0 = faultStart.get(thread);
          if (t0 !== undefined) this.gpuFault.recordValue(Math.max(1, tNs - t0));
          faultStart.delete(thread);
        } else if (ev.kind === "devmem.init") {
          this.devmemBytes.set(ev.devmem, ev.sizeBytes);
          this.vramBytes += ev.sizeBytes;
          this.stats.vramPeakBytes = Math.max(this.stats.vramPeakBytes, this.vramBytes);
        } else if (ev.kind === "devmem.release") {
          this.vramBytes -= this.devmemBytes.get(ev.devmem) ?? 0;
          this.devmemBytes.delete(ev.devmem);
        }
      },
    });
  }

  private migrated(note: MigrationNote): void {
    const bytes = note.end - note.start;
    const block = blockKey(note.mm, note.start);
    (note.direction === "to_device" ? this.toDeviceAtNs : this.toSystemAtNs).push(note.nowNs);
    if (note.direction === "to_device") {
      this.stats.migrationsToDevice++;
      this.stats.bytesToDevice += bytes;
      this.gpuWorkSinceToDevice.set(block, 0);
      return;
    }
    this.stats.migrationsToSystem++;
    this.stats.bytesToSystem += bytes;
    if (this.gpuWorkSinceToDevice.get(block) === 0) this.stats.pingPongs++;
    this.gpuWorkSinceToDevice.delete(block);
  }

  /** A thread starts one page access. */
  accessBegin(side: "cpu" | "gpu", nowNs: number): void {
    this.both.begin(nowNs);
    this.bothStuck.begin(side, nowNs);
    (side === "gpu" ? this.gpu : this.cpu).begin(nowNs);
  }

  /** A CPU page access ended, after `faults` faults, `napNs` of its time asleep in throttling naps. */
  cpuAccessEnd(ok: boolean, startNs: number, nowNs: number, faults: number, napNs: number): void {
    this.both.end(nowNs, ok);
    this.bothStuck.end("cpu", nowNs, ok);
    this.cpu.end(nowNs, ok);
    if (ok) this.stats.cpuAccesses++;
    else this.stats.cpuFailures++;
    if (faults > 0) this.cpuFault.recordValue(Math.max(1, nowNs - startNs));
    this.stats.cpuSleepNs += napNs;
  }

  gpuAccessEnd(ok: boolean, mm: number, addr: number, nowNs: number): void {
    this.both.end(nowNs, ok);
    this.bothStuck.end("gpu", nowNs, ok);
    this.gpu.end(nowNs, ok);
    if (!ok) {
      this.stats.gpuFailures++;
      return;
    }
    this.stats.gpuAccesses++;
    const block = blockKey(mm, addr);
    const since = this.gpuWorkSinceToDevice.get(block);
    if (since !== undefined) this.gpuWorkSinceToDevice.set(block, since + 1);
  }

  result(endNs: number): WorkStats {
    for (const w of [this.both, this.gpu, this.cpu, this.bothStuck]) w.finish(endNs);
    return {
      ...this.stats,
      cpuFaultLatency: percentiles(this.cpuFault),
      gpuFaultLatency: percentiles(this.gpuFault),
      noProgressNs: this.both.longestNs,
      gpuNoProgressNs: this.gpu.longestNs,
      cpuNoProgressNs: this.cpu.longestNs,
      bothStuckNs: this.bothStuck.longestNs,
      series: this.series(endNs),
    };
  }

  private series(endNs: number): WorkStats["series"] {
    const stepNs = 100_000; // buckets are whole multiples of 100 µs
    const bucketNs = Math.max(stepNs, Math.ceil(endNs / 100 / stepNs) * stepNs);
    const buckets = Math.max(1, Math.ceil(endNs / bucketNs));
    const rate = (times: number[]) => {
      const counts = new Array<number>(buckets).fill(0);
      for (const t of times) counts[Math.min(buckets - 1, Math.floor(t / bucketNs))]!++;
      return counts.map((c) => c / (bucketNs / 1e9));
    };
    return { bucketNs, toDevicePerS: rate(this.toDeviceAtNs), toSystemPerS: rate(this.toSystemAtNs) };
  }
}
