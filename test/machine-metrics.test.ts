import { describe, expect, it } from "vitest";
import { RunMetrics, type MetricEvent } from "../src/machine/run-metrics.ts";
import { metricTable } from "../src/machine/metric-table.ts";

const MiB2 = 2 * 1024 * 1024;
const base = 0x40000000;
const CPU = 1;
const GPU = 2;
const noChecks = { contextViolations: 0, invariantsBroken: 0, failedSteps: 0 };

/** A log written by hand: each event with its time, thread and context, folded in order. */
function log() {
  const events: [number, number, string, MetricEvent][] = [];
  const add = (tNs: number, thread: number, ev: MetricEvent) => void events.push([tNs, thread, thread === GPU ? "gpu" : "process", ev]);
  const fold = (endNs: number, keep: (ev: MetricEvent, i: number) => boolean = () => true) => {
    const m = new RunMetrics({ threadName: (uid) => `t${uid}` });
    m.event(-1, 0, -1, "process", { kind: "copy.init", channels: 1 }); // a platform run: its copy engine comes first
    events.forEach(([t, thread, ctx, ev], seq) => {
      if (keep(ev, seq)) m.event(seq, t, thread, ctx, ev);
    });
    return m.result(endNs, events.length);
  };
  return { add, fold, events };
}

function access(l: ReturnType<typeof log>, thread: number, fromNs: number, toNs: number, ok = true, addr = base) {
  l.add(fromNs, thread, { kind: "access.begin", mm: 0, addr, access: "write" });
  l.add(toNs, thread, { kind: "access.end", ok, stallNs: 0 });
}
function toDevice(l: ReturnType<typeof log>, t: number) {
  l.add(t, 9, { kind: "migrate_to_devmem.begin", mm: 0, start: base, end: base + MiB2 });
  l.add(t + 500, 9, { kind: "devmem.timeslice", devmem: 1, expiration: 0, timesliceMs: 5 });
  l.add(t + 900, 9, { kind: "migrate_to_devmem.end", ret: 0, exit: "ok" });
}
function toSystem(l: ReturnType<typeof log>, t: number, ret = 0) {
  l.add(t, CPU, { kind: "migrate_to_ram.begin", mm: 0, start: base, end: base + MiB2 });
  l.add(t + 900, CPU, { kind: "migrate_to_ram.end", ret, exit: ret === 0 ? "ok" : "err_finalize:copy_to_ram" });
}

describe("the run's metrics, folded from its events (src/machine)", () => {
  it("a ping-pong is a block moved to the device and back with no GPU access completed between", () => {
    const l = log();
    toDevice(l, 0);
    toSystem(l, 2000); // nothing done on the GPU: a ping-pong
    toDevice(l, 4000);
    access(l, GPU, 5000, 5100, true, base + 4096);
    toSystem(l, 6000); // the GPU did work in between: not one
    toDevice(l, 8000);
    toSystem(l, 9000, -16); // a failed migration back counts as nothing
    const w = l.fold(10_000).work;
    expect(w.migrationsToDevice).toBe(3);
    expect(w.migrationsToSystem).toBe(2);
    expect(w.bytesToDevice).toBe(3 * MiB2);
    expect(w.pingPongs).toBe(1);
    expect(w.gpuAccesses).toBe(1);
    // Without the GPU access's events, the second round trip is a ping-pong too.
    const without = l.fold(10_000, (ev) => !ev.kind.startsWith("access."));
    expect(without.work.pingPongs).toBe(2);
    expect(without.work.gpuAccesses).toBe(0);
  });

  it("accesses count per side from access.end; removing one GPU access's events drops the count by one", () => {
    const l = log();
    for (let i = 0; i < 3; i++) access(l, GPU, i * 100, i * 100 + 50);
    access(l, GPU, 400, 450, false);
    access(l, CPU, 0, 10);
    const m = metricTable(l.fold(1000), noChecks);
    expect([m.gpu_accesses, m.gpu_access_failures, m.cpu_accesses]).toEqual([3, 1, 1]);
    const dropped = metricTable(l.fold(1000, (_ev, seq) => seq !== 0 && seq !== 1), noChecks);
    expect(dropped.gpu_accesses).toBe(2);
    expect(dropped.cpu_accesses).toBe(1);
  });

  it("the livelock window counts only stretches where both sides wait and neither completes", () => {
    const l = log();
    l.add(0, CPU, { kind: "access.begin", mm: 0, addr: base, access: "write" });
    access(l, GPU, 1_000, 30_000_000, false); // the GPU gives up: no progress from 1 µs to 30 ms
    l.add(31_000_000, CPU, { kind: "access.end", ok: true, stallNs: 0 });
    access(l, CPU, 40_000_000, 80_000_000); // alone: waiting, but not both sides
    const r = l.fold(90_000_000);
    expect(r.work.bothStuckNs).toBe(30_000_000 - 1_000);
    expect(r.work.noProgressNs).toBe(40_000_000); // the lone CPU access, 40 ms without anything completing
    expect(metricTable(r, noChecks).livelock).toBe(1);
  });

  it("a side that fails and tries again at once is still trying: the livelock stretch goes on", () => {
    const l = log();
    l.add(0, CPU, { kind: "access.begin", mm: 0, addr: base, access: "atomic" });
    for (let t = 0; t < 40; t++) access(l, GPU, t * 5_000_000, (t + 1) * 5_000_000, false); // each GPU atomic fails after 5 ms; the next starts at once
    l.add(200_000_000, CPU, { kind: "access.end", ok: true, stallNs: 0 });
    const r = l.fold(200_000_000);
    expect(r.work.bothStuckNs).toBe(200_000_000);
    expect(r.work.gpuFailures).toBe(40);
  });

  it("CPU fault latency counts accesses with a handle_mm_fault; spinning is re-fault to re-fault; naps are the policy's holds", () => {
    const l = log();
    for (let i = 0; i < 99; i++) access(l, CPU, i * 10, i * 10 + 5); // no fault: not in the histogram
    l.add(1_000, CPU, { kind: "access.begin", mm: 0, addr: base, access: "write" });
    l.add(1_000, CPU, { kind: "handle_mm_fault.begin", mm: 0, addr: base, access: "write" });
    l.add(1_100, CPU, { kind: "cpu_fault.timeslice_spin", devmem: 1, jiffies: 0, expiration: 1 });
    l.add(3_000, CPU, { kind: "handle_mm_fault.begin", mm: 0, addr: base, access: "write" });
    l.add(3_050, CPU, { kind: "cpu_fault.policy_hold", devmem: 1, durationNs: 2_000, thread: CPU });
    l.add(5_500, CPU, { kind: "handle_mm_fault.begin", mm: 0, addr: base, access: "write" }); // gets through
    l.add(7_000, CPU, { kind: "access.end", ok: true, stallNs: 0 });
    const r = l.fold(10_000);
    expect(r.work.cpuSpinNs).toBe(2_000);
    expect(r.work.cpuSleepNs).toBe(2_000);
    expect(r.work.accessFaults).toBe(3);
    expect(r.work.cpuFaultLatency.count).toBe(1);
    expect(Math.abs(r.work.cpuFaultLatency.p50 - 6_000)).toBeLessThanOrEqual(6); // HdrHistogram: 3 significant digits
    const oneFaultLess = l.fold(10_000, (ev, seq) => !(ev.kind === "handle_mm_fault.begin" && l.events[seq]![0] === 5_500));
    expect(oneFaultLess.work.accessFaults).toBe(2);
  });

  it("platform figures follow their events: DMA maps and time, copy jobs, throttles, IRQ puts, GPU stall", () => {
    const l = log();
    l.add(10, CPU, { kind: "dma.map", folio: 1, order: 0, dir: "to_device", durationNs: 300 });
    l.add(20, CPU, { kind: "dma.map", folio: 2, order: 0, dir: "to_device", durationNs: 300 });
    l.add(30, CPU, { kind: "dma.unmap", folio: 1, order: 0, dir: "to_device", durationNs: 340 });
    l.add(500, CPU, { kind: "copy.job", job: 0, bytes: 4096, queuedNs: 0, durationNs: 250, dir: "to_device" });
    l.add(600, GPU, { kind: "gpu_fault.throttle", mm: 0, addr: base, durationNs: 1_000 });
    l.add(700, 5, { kind: "gpu.irq_put", folio: 3 });
    l.add(800, GPU, { kind: "access.begin", mm: 0, addr: base, access: "read" });
    l.add(900, GPU, { kind: "page.read", mm: 0, vpn: base / 4096, folio: 3, index: 0, version: 0 });
    l.add(1_000, GPU, { kind: "access.end", ok: true, stallNs: 150 });
    const p = l.fold(1_000).platformStats!;
    expect([p.dmaMaps, p.dmaMapNs, p.dmaUnmapNs, p.copyJobs, p.copyBytes, p.copyUtilisation]).toEqual([2, 600, 340, 1, 4096, 0.25]);
    expect([p.gpuThrottles, p.gpuThrottleNs, p.irqPuts, p.gpuAccesses, p.gpuStallNs]).toEqual([1, 1_000, 1, 1, 150]);
    const noMap = l.fold(1_000, (_ev, seq) => seq !== 1).platformStats!;
    expect([noMap.dmaMaps, noMap.dmaMapNs]).toEqual([1, 300]);
  });

  it("a page event outside an access is a whole ok access with no fault, at its time: a CPU one ends at once, a GPU one at its thread's next event", () => {
    const CPU2 = 3;
    const write = (vpn: number) => ({ kind: "page.write", mm: 0, vpn, folio: 1, index: 0, version: 1 }) as const;
    const l = log();
    l.add(0, CPU, { kind: "access.begin", mm: 0, addr: base, access: "write" }); // in flight until 10 µs
    l.add(0, CPU, { kind: "handle_mm_fault.begin", mm: 0, addr: base, access: "write" });
    l.add(4_000, CPU2, write(base / 4096 + 1)); // a bare CPU access: done at 4 µs
    l.add(10_000, CPU, write(base / 4096)); // inside the marked access: not another access
    l.add(10_000, CPU, { kind: "access.end", ok: true, stallNs: 0 });
    l.add(20_000, GPU, { kind: "page.read", mm: 0, vpn: base / 4096, folio: 1, index: 0, version: 1 }); // a bare GPU access...
    l.add(25_000, GPU, { kind: "step.end" }); // ...in flight until its thread's next event
    l.add(30_000, GPU, { kind: "page.read", mm: 0, vpn: base / 4096, folio: 1, index: 0, version: 1 }); // never ended: in flight at the end
    const r = l.fold(33_000);
    expect([r.work.cpuAccesses, r.work.gpuAccesses, r.work.accessFaults, r.work.cpuFaultLatency.count]).toEqual([2, 1, 1, 1]);
    expect(r.work.cpuNoProgressNs).toBe(6_000); // 0 → 4 µs → 10 µs: the bare access completed in between
    expect(r.work.gpuNoProgressNs).toBe(5_000); // 20 → 25 µs, then 30 → 33 µs (still in flight)
    expect(r.platformStats!.gpuAccesses).toBe(2); // the platform table counts GPU page events that took effect
  });

  it("a log whose no-fault accesses are their page events alone folds to the same metrics as one with every access marked", () => {
    const marked = log();
    const bare = log();
    const page = (vpn: number) => ({ kind: "page.write", mm: 0, vpn, folio: 1, index: 0, version: 1 }) as const;
    const both = (tNs: number, thread: number, ev: MetricEvent) => {
      marked.add(tNs, thread, ev);
      bare.add(tNs, thread, ev);
    };
    // A CPU access that faults for 50 µs, with no-fault CPU and GPU accesses (10 ns each on the GPU) around it.
    both(0, CPU, { kind: "access.begin", mm: 0, addr: base, access: "write" });
    both(0, CPU, { kind: "handle_mm_fault.begin", mm: 0, addr: base, access: "write" });
    for (let i = 0; i < 5; i++) {
      const t = 1_000 + i * 10;
      marked.add(t, GPU, { kind: "access.begin", mm: 0, addr: base + 4096, access: "write" });
      both(t, GPU, page(base / 4096 + 1));
      marked.add(t + 10, GPU, { kind: "access.end", ok: true, stallNs: 0 });
    }
    both(1_050, GPU, { kind: "step.end" });
    toSystem(marked, 2_000);
    toSystem(bare, 2_000);
    both(50_000, CPU, page(base / 4096));
    both(50_000, CPU, { kind: "access.end", ok: true, stallNs: 0 });
    for (const t of [60_000, 60_000, 70_000]) {
      marked.add(t, CPU, { kind: "access.begin", mm: 0, addr: base, access: "write" });
      both(t, CPU, page(base / 4096));
      marked.add(t, CPU, { kind: "access.end", ok: true, stallNs: 0 });
    }
    const fromMarked = metricTable(marked.fold(80_000), noChecks);
    const fromBare = metricTable(bare.fold(80_000), noChecks);
    expect(fromBare.events).toBe(fromMarked.events! - 16); // the only figure that moves: the log is shorter
    expect({ ...fromBare, events: fromMarked.events }).toEqual(fromMarked);
    expect([fromMarked.cpu_accesses, fromMarked.gpu_accesses, fromMarked.gpu_no_progress_ms]).toEqual([4, 5, 10 / 1e6]);
  });

  it("VRAM evictions are the allocations TTM chose to evict (vram.evict), not evict steps", () => {
    const l = log();
    l.add(0, GPU, { kind: "populate_mm.begin", mm: 0, start: base, end: base + MiB2 });
    l.add(5, GPU, { kind: "vram.evict", devmem: 0 });
    l.add(10, GPU, { kind: "evict_to_ram.begin", mm: 0, start: base + MiB2, end: base + 2 * MiB2 });
    l.add(20, GPU, { kind: "evict_to_ram.end", ret: 0, exit: "ok;detached" });
    l.add(30, GPU, { kind: "populate_mm.end", ret: 0, exit: "ok" });
    l.add(40, CPU, { kind: "evict_to_ram.begin", mm: 0, start: base, end: base + MiB2 }); // an evict step
    l.add(50, CPU, { kind: "evict_to_ram.end", ret: 0, exit: "ok;detached" });
    expect(l.fold(100).platformStats!.vramEvictions).toBe(1);
    const withoutIt = l.fold(100, (ev) => ev.kind !== "vram.evict");
    expect(withoutIt.platformStats!.vramEvictions).toBe(0);
  });

  it("the copy engine's channels come from the log's copy.init: no copy.init, no platform figures", () => {
    const job = { kind: "copy.job", job: 0, bytes: 4096, queuedNs: 0, durationNs: 500, dir: "to_device" } as const;
    const fold = (channels: number | null) => {
      const m = new RunMetrics({ threadName: (uid) => `t${uid}` });
      if (channels !== null) m.event(0, 0, -1, "process", { kind: "copy.init", channels });
      m.event(1, 500, CPU, "process", job);
      return m.result(1_000, 2).platformStats;
    };
    expect(fold(null)).toBeNull();
    expect(fold(1)!.copyUtilisation).toBe(0.5);
    expect(fold(2)!.copyUtilisation).toBe(0.25); // busy 500 ns of 1,000 ns on one of two channels
  });
});
