import { describe, expect, it } from "vitest";
import { observeMigrations } from "../src/policies/observer.ts";
import { RunStats as Stats } from "../src/workload/run-stats.ts";
import type { MigrationNote } from "../src/platform/policy.ts";

/** Run statistics over a log, hearing of its migrations as a world's one observer tells them. */
class RunStats extends Stats {
  constructor(log: { subscribe(l: Listener): void }) {
    const listeners: ((note: MigrationNote) => void)[] = [];
    observeMigrations(log, (note) => listeners.forEach((l) => l(note)));
    super(log, listeners);
  }
}

type Listener = { onModelEvent(seq: number, tNs: number, thread: number, ctx: string, ev: { kind: string }): void };

/** A log that the test writes by hand: each event goes to every listener. */
function fakeLog() {
  const listeners: Listener[] = [];
  let seq = 0;
  return {
    subscribe: (l: Listener) => void listeners.push(l),
    emit: (tNs: number, thread: number, ev: { kind: string } & Record<string, unknown>) => listeners.forEach((l) => l.onModelEvent(seq++, tNs, thread, "process", ev)),
  };
}

const MiB2 = 2 * 1024 * 1024;
const base = 0x40000000;

/** A migration of the 2 MiB block at `base` of mm 0, as the log shows one. */
function toDevice(log: ReturnType<typeof fakeLog>, t: number) {
  log.emit(t, 9, { kind: "migrate_to_devmem.begin", mm: 0, start: base, end: base + MiB2 });
  log.emit(t + 500, 9, { kind: "devmem.timeslice", devmem: 1, expiration: 0, timesliceMs: 5 });
  log.emit(t + 900, 9, { kind: "migrate_to_devmem.end", ret: 0 });
}
function toSystem(log: ReturnType<typeof fakeLog>, t: number, ret = 0) {
  log.emit(t, 1, { kind: "migrate_to_ram.begin", mm: 0, start: base, end: base + MiB2 });
  log.emit(t + 900, 1, { kind: "migrate_to_ram.end", ret });
}

describe("run statistics", () => {
  it("a ping-pong is a block moved to the device and back with no GPU access completed between", () => {
    const log = fakeLog();
    const stats = new RunStats(log);
    toDevice(log, 0);
    toSystem(log, 2000); // nothing done on the GPU: a ping-pong
    toDevice(log, 4000);
    stats.accessBegin("gpu", 5000);
    stats.gpuAccessEnd(true, 0, base + 4096, 5100);
    toSystem(log, 6000); // the GPU did work in between: not one
    toDevice(log, 8000);
    toSystem(log, 9000, -16); // a failed migration back counts as nothing
    const w = stats.result(10_000);
    expect(w.migrationsToDevice).toBe(3);
    expect(w.migrationsToSystem).toBe(2);
    expect(w.bytesToDevice).toBe(3 * MiB2);
    expect(w.pingPongs).toBe(1);
    expect(w.gpuAccesses).toBe(1);
  });

  it("the livelock window counts only stretches where both sides wait and neither completes", () => {
    const stats = new RunStats(fakeLog());
    stats.accessBegin("cpu", 0);
    stats.accessBegin("gpu", 1_000);
    stats.gpuAccessEnd(false, 0, base, 30_000_000); // the GPU gives up: no progress from 1 µs to 30 ms
    stats.cpuAccessEnd(true, 0, 31_000_000, 2, 0);
    stats.accessBegin("cpu", 40_000_000); // alone: waiting, but not both sides
    stats.cpuAccessEnd(true, 40_000_000, 80_000_000, 1, 0);
    const w = stats.result(90_000_000);
    expect(w.bothStuckNs).toBe(30_000_000 - 1_000);
    expect(w.noProgressNs).toBe(40_000_000); // the lone CPU access, 40 ms without anything completing
    expect(w.gpuFailures).toBe(1);
    expect(w.cpuAccesses).toBe(2);
  });

  it("a side that fails and tries again at once is still trying: the livelock stretch goes on", () => {
    const stats = new RunStats(fakeLog());
    stats.accessBegin("cpu", 0);
    for (let t = 0; t < 40; t++) {
      stats.accessBegin("gpu", t * 5_000_000);
      stats.gpuAccessEnd(false, 0, base, (t + 1) * 5_000_000); // each GPU atomic fails after 5 ms; the next starts at once
    }
    stats.cpuAccessEnd(true, 0, 200_000_000, 240, 0);
    const w = stats.result(200_000_000);
    expect(w.bothStuckNs).toBe(200_000_000);
    expect(w.gpuFailures).toBe(40);
  });

  it("CPU fault latency counts faulting accesses only; time spinning is re-fault to re-fault", () => {
    const log = fakeLog();
    const stats = new RunStats(log);
    for (let i = 0; i < 99; i++) {
      stats.accessBegin("cpu", i * 10);
      stats.cpuAccessEnd(true, i * 10, i * 10 + 5, 0, 0); // no fault: not in the histogram
    }
    log.emit(1_000, 1, { kind: "handle_mm_fault.begin", mm: 0, addr: base, access: "write" });
    log.emit(1_100, 1, { kind: "cpu_fault.timeslice_spin", devmem: 1, jiffies: 0, expiration: 1 });
    log.emit(3_000, 1, { kind: "handle_mm_fault.begin", mm: 0, addr: base, access: "write" });
    log.emit(3_050, 1, { kind: "cpu_fault.timeslice_spin", devmem: 1, jiffies: 0, expiration: 1 });
    log.emit(5_500, 1, { kind: "handle_mm_fault.begin", mm: 0, addr: base, access: "write" }); // gets through
    stats.accessBegin("cpu", 1_000);
    stats.cpuAccessEnd(true, 1_000, 7_000, 3, 0);
    const w = stats.result(10_000);
    expect(w.cpuSpinNs).toBe(4_500);
    expect(w.cpuFaultLatency.count).toBe(1);
    expect(Math.abs(w.cpuFaultLatency.p50 - 6_000)).toBeLessThanOrEqual(6); // HdrHistogram: 3 significant digits
  });
});
