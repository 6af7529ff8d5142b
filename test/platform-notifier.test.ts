import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadWorkload, parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";

/** Runs a workload on the default platform; returns its report and the platform events by kind and thread. */
function run(cpuSteps: string, gpuSteps: string, size = "2MiB") {
  const text =
    `description: notifier test\nplatform: xe-pcie4x8-iommu\nmappings:\n  - { addr: 0x40000000, size: ${size} }\nthreads:\n` +
    `  - name: cpu0\n    steps:\n      - { op: write, addr: 0x40000000, pages: 512 }\n${cpuSteps}` +
    `  - name: gpu0\n    ctx: gpu\n    steps:\n${gpuSteps}`;
  const events: { kind: string; thread: string; range?: number; size?: number }[] = [];
  const names = new Map<number, string>();
  const { report, world } = runWorkload(parseWorkload(text, "workloads/inline.yaml"), undefined, {
    onLog: (log) =>
      log.subscribe({
        onSpawn: (uid, name) => void names.set(uid, name),
        onModelEvent: (_s, _t, thread, _c, ev) => {
          if (ev.kind === "svm_range.invalidate" || ev.kind === "svm_range.remove") events.push({ kind: ev.kind, thread: names.get(thread) ?? "?", range: ev.range });
          if (ev.kind === "migrate_to_ram.begin") events.push({ kind: ev.kind, thread: names.get(thread) ?? "?" });
          if (ev.kind === "svm_range.insert") events.push({ kind: ev.kind, thread: names.get(thread) ?? "?", range: ev.range, size: ev.end - ev.start });
        },
      }),
  });
  return { report, world, events };
}

describe("the GPU's MMU notifier", () => {
  it("a CPU fault migrating the range back invalidates the GPU mapping in the CPU thread; the GPU then faults again", () => {
    const { report, events } = run(
      "      - { op: read, addr: 0x40000000, at: 3ms }\n",
      "      - { op: write, addr: 0x40000000, at: 1ms }\n      - { op: read, addr: 0x40001000, at: 5ms }\n",
    );
    expect(report.invariants).toEqual([]);
    expect(report.lostWrites).toEqual([]);
    expect(events.filter((e) => e.kind === "svm_range.invalidate")).toEqual([{ kind: "svm_range.invalidate", thread: "cpu0", range: 0 }]);
    expect(events.filter((e) => e.kind === "migrate_to_ram.begin").map((e) => e.thread)).toEqual(["cpu0"]);
    expect(report.gpuFaults).toHaveLength(2);
    // The second fault found the pages in system memory; non-atomic faults migrate them again.
    expect(report.gpuFaults[1]!.migrateNs).toBeGreaterThan(0);
  });

  it("mprotect and fork invalidate too, and nothing the GPU uses is ever stale", () => {
    const { report, events } = run(
      "      - { op: mprotect, addr: 0x40000000, size: 2MiB, read: true, write: true, at: 3ms }\n      - { op: fork, at: 6ms }\n",
      "      - { op: read, addr: 0x40000000, at: 1ms }\n      - { op: read, addr: 0x40000000, at: 4ms }\n      - { op: read, addr: 0x40000000, at: 7ms }\n",
    );
    expect(report.invariants).toEqual([]);
    expect(events.filter((e) => e.kind === "svm_range.invalidate").map((e) => e.thread)).toEqual(["cpu0", "cpu0"]);
    expect(report.gpuFaults).toHaveLength(3);
  });

  it("a partial munmap invalidates the range; the next GPU fault's garbage collector evicts what is left of it to RAM, destroys it, and a smaller range takes its place", () => {
    const { report, events } = run(
      "      - { op: munmap, addr: 0x40100000, size: 64KiB, at: 3ms }\n",
      "      - { op: write, addr: 0x40000000, at: 1ms }\n      - { op: write, addr: 0x40000000, at: 5ms }\n",
    );
    expect(report.invariants).toEqual([]);
    expect(events.map((e) => `${e.kind}:${e.thread}${e.size === undefined ? "" : `:${e.size}`}`)).toEqual([
      "svm_range.insert:gpu0:2097152",
      "svm_range.invalidate:cpu0",
      // migrate_to_ram's window is clamped to the faulting VMA: the munmap split the range in
      // two VMAs, so each half takes its own CPU-fault-path migration.
      "migrate_to_ram.begin:gpu0",
      "migrate_to_ram.begin:gpu0",
      "svm_range.remove:gpu0",
      "svm_range.insert:gpu0:65536",
    ]);
  });
});

describe("IRQ-context frees", () => {
  /** The GPU writes 2 MiB (one access holds a page reference for 2 ms); the CPU unmaps it meanwhile. */
  function irqRun(release: "sync" | "async", zddRelease: "inline" | "deferred") {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-irq-"));
    mkdirSync(join(dir, "platforms"));
    writeFileSync(join(dir, "platforms", "p.yaml"), readFileSync("workloads/platforms/xe-pcie4x8-iommu.yaml", "utf8").replace(/release: async.*/, `release: ${release}`));
    const file = join(dir, "w.yaml");
    writeFileSync(
      file,
      `description: irq free\nplatform: p\nmodel: { zddRelease: ${zddRelease} }\nirqFrees: { probability: 1, delay: 2ms }\nmappings:\n  - { addr: 0x40000000, size: 2MiB }\nthreads:\n` +
        "  - name: cpu0\n    steps:\n      - { op: write, addr: 0x40000000, pages: 512 }\n      - { op: munmap, addr: 0x40000000, size: 2MiB, at: 3ms }\n" +
        "  - name: gpu0\n    ctx: gpu\n    steps:\n      - { op: write, addr: 0x40000000, at: 1ms }\n",
    );
    return runWorkload(loadWorkload(file));
  }

  it("the last device-page reference dropped by an interrupt: a context violation with inline release and a synchronous BO put", () => {
    const { report } = irqRun("sync", "inline");
    expect(report.platformStats!.irqPuts).toBe(1);
    expect(report.contextViolations.map((v) => [v.op, v.ctx])).toEqual([["xe_bo_put", "irq"]]);
    expect(report.invariants).toEqual([]);
  });

  it("none with deferred release (zdd destroyed from a worker), nor with Xe's asynchronous BO put", () => {
    for (const [release, zdd] of [["sync", "deferred"], ["async", "inline"]] as const) {
      const { report, world } = irqRun(release, zdd);
      expect(report.platformStats!.irqPuts, `${release}/${zdd}`).toBe(1);
      expect(report.contextViolations, `${release}/${zdd}`).toEqual([]);
      expect(report.invariants, `${release}/${zdd}`).toEqual([]);
      expect([...world.p.state.devmems.values()].every((d) => d.released), `${release}/${zdd}: VRAM returned`).toBe(true);
    }
  });
});

describe("GPU writes respect the CPU's protections", () => {
  const wl = (mapping: string, threads: string) =>
    runWorkload(parseWorkload(`description: t\nplatform: xe-pcie4x8-iommu\nmappings:\n  - ${mapping}\nthreads:\n${threads}`, "workloads/inline.yaml"));

  it("a GPU write to a copy-on-write page after fork breaks the sharing first (HMM_PFN_REQ_WRITE): the child keeps its data", () => {
    const { report } = wl(
      "{ addr: 0x40000000, size: 2MiB }",
      "  - name: parent\n    steps:\n      - { op: write, addr: 0x40000000, pages: 2 }\n      - { op: pin, addr: 0x40001000 }\n      - { op: fork }\n" +
        "  - name: gpu\n    ctx: gpu\n    steps:\n      - { op: write, addr: 0x40000000, at: 1ms }\n" +
        "  - name: child\n    process: 1\n    steps:\n      - { op: read, addr: 0x40000000, at: 4ms }\n",
    );
    expect(report.lostWrites).toEqual([]);
    expect(report.invariants).toEqual([]);
    expect(report.steps.find((s) => s.thread === "child")!.ret).toBe("ok v1");
  });

  it("a GPU write after mprotect(PROT_READ) fails with -EPERM instead of writing", () => {
    const { report } = wl(
      "{ addr: 0x40000000, size: 64KiB, kind: anon-shared }",
      "  - name: cpu0\n    steps:\n      - { op: write, addr: 0x40000000, pages: 16 }\n      - { op: mprotect, addr: 0x40000000, size: 64KiB, read: true, write: false, at: 2ms }\n" +
        "  - name: gpu0\n    ctx: gpu\n    steps:\n      - { op: write, addr: 0x40000000, at: 1ms }\n      - { op: write, addr: 0x40000000, at: 3ms }\n",
    );
    expect(report.steps.filter((s) => s.thread === "gpu0").map((s) => s.ret)).toEqual(["ok v2", "-EPERM"]);
    expect(report.invariants).toEqual([]);
  });

  it("an unpin without a pin is a step error, not a crash", () => {
    const { report } = wl("{ addr: 0x40000000, size: 64KiB }", "  - name: cpu0\n    steps:\n      - { op: write, addr: 0x40000000 }\n      - { op: unpin, addr: 0x40000000 }\n");
    expect(report.steps[1]!.ret).toMatch(/no pin held/);
  });
});
