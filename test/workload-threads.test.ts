import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";

// The platform profile resolves relative to the workload file, so name the file inside workloads/.
const file = join("workloads", "threads-test.yaml");

/** A CPU thread writes a page, a GPU thread (replicated by `count`) waits for that, then writes it. */
const handover = (gpuCount: number) =>
  [
    "description: hand-over",
    "platform: xe-pcie4x8-iommu",
    "mappings:",
    "  - { addr: 0x40000000, size: 2MiB }",
    "threads:",
    "  - name: cpu",
    "    steps:",
    "      - { op: write, addr: 0x40000000, pages: 4 }",
    "      - { op: wait, thread: gpu }",
    "      - { op: read, addr: 0x40000000 }",
    "  - name: gpu",
    "    ctx: gpu",
    `    count: ${gpuCount}`,
    "    steps:",
    "      - { op: wait, thread: cpu, step: 0 }",
    "      - { op: write, addr: 0x40000000 }",
    "    pattern: { kind: random, access: read, addr: 0x40000000, size: 2MiB, count: 8 }",
    "",
  ].join("\n");

describe("thread replicas (count) and waits", () => {
  it("a count of N runs N copies named NAME#i, each drawing its own pattern pages", () => {
    const w = parseWorkload(handover(3), file);
    expect(w.threads.map((t) => t.name)).toEqual(["cpu", "gpu#0", "gpu#1", "gpu#2"]);
    expect(w.threadGroups).toEqual({ cpu: ["cpu"], gpu: ["gpu#0", "gpu#1", "gpu#2"] });
    const pages = w.threads.slice(1).map((t) => t.steps.slice(2).map((s) => (s.op === "read" ? s.addr : -1)).join(","));
    expect(new Set(pages).size, "each replica's random pattern differs").toBe(3);
    for (const t of w.threads.slice(1)) expect(t.steps).toHaveLength(2 + 8);
  });

  it("a count of 1 keeps the thread's name and its pattern pages", () => {
    const one = parseWorkload(handover(1), file);
    expect(one.threads.map((t) => t.name)).toEqual(["cpu", "gpu"]);
  });

  it("--set threads.NAME.count scales a thread by name", () => {
    const w = parseWorkload(handover(1), file, { "threads.gpu.count": 4 });
    expect(w.threadGroups!.gpu).toHaveLength(4);
  });

  it("a waiting step starts only after the step it waits for has ended, in every replica", () => {
    const { report } = runWorkload(parseWorkload(handover(3), file));
    const step = (thread: string, index: number) => report.steps.find((s) => s.thread === thread && s.step === index)!;
    const cpuWrite = step("cpu", 0);
    for (const g of ["gpu#0", "gpu#1", "gpu#2"]) {
      expect(step(g, 1).startNs, `${g} writes after the CPU's write`).toBeGreaterThanOrEqual(cpuWrite.endNs);
      // The CPU's read (step 2) waits for every replica to finish all its steps.
      const last = report.steps.filter((s) => s.thread === g).at(-1)!;
      expect(step("cpu", 2).startNs).toBeGreaterThanOrEqual(last.endNs);
    }
    expect(step("cpu", 1).ret).toBe("0");
    // The GPU writes moved the page to VRAM; the CPU's read brings it back and sees the last write.
    expect(report.lostWrites).toEqual([]);
    expect(report.invariants).toEqual([]);
    expect(step("cpu", 2).faults).toBeGreaterThan(0);
  });

  it("waits keep a run deterministic", () => {
    const a = runWorkload(parseWorkload(handover(3), file)).report;
    const b = runWorkload(parseWorkload(handover(3), file)).report;
    expect(b.steps).toEqual(a.steps);
    expect(b.events).toBe(a.events);
  });
});

describe("GPU step fault counts", () => {
  /** Two GPU threads fault two different 2 MiB ranges at the same instant: their faults overlap in time. */
  const twoGpus = [
    "description: two GPU threads, disjoint ranges",
    "platform: xe-pcie4x8-iommu",
    "mappings:",
    "  - { addr: 0x40000000, size: 4MiB }",
    "threads:",
    "  - name: gpu0",
    "    ctx: gpu",
    "    steps:",
    "      - { op: read, addr: 0x40000000, pages: 2 }",
    "  - name: gpu1",
    "    ctx: gpu",
    "    steps:",
    "      - { op: write, addr: 0x40200000 }",
    "",
  ].join("\n");

  it("a GPU step counts its own thread's faults only, not another GPU thread's that overlap it", () => {
    const { report } = runWorkload(parseWorkload(twoGpus, file));
    const [s0, s1] = ["gpu0", "gpu1"].map((t) => report.steps.find((s) => s.thread === t)!);
    // Ground truth from the log: gpu_fault.begin events per thread.
    const begins = new Map<string, number>();
    for (const f of report.gpuFaults) begins.set(f.thread, (begins.get(f.thread) ?? 0) + 1);
    expect(begins.get("gpu0"), "gpu0 faulted once (its range, bound then read twice)").toBe(1);
    expect(begins.get("gpu1")).toBe(1);
    // The two faults overlap in time, so a shared counter would give each step both.
    expect(s0!.startNs).toBe(s1!.startNs);
    expect(Math.max(s0!.startNs, s1!.startNs)).toBeLessThan(Math.min(s0!.endNs, s1!.endNs));
    expect(s0!.faults).toBe(1);
    expect(s1!.faults).toBe(1);
    expect(report.metrics.gpu_faults).toBe(2);
    expect(report.lostWrites).toEqual([]);
  });
});
