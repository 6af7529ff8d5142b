import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { RunEvent } from "../src/machine/run-events.ts";
import type { World } from "../src/machine/world.ts";
import { generateWorkload } from "../src/explore/generate.ts";
import { exploreRun, type ExploreRunResult } from "../src/explore/run-one.ts";
import type { RunHooks } from "../src/workload/run.ts";
import type { ProblemCheck, WorkloadInput } from "../src/explore/types.ts";

/**
 * The per-run harness of `pagesim explore` (issue #18, docs/design/explore.md §2.4): the five
 * scenarios the property test's soaks found, ported to workload files, pass it; and every class
 * of check it makes can report a problem.
 */

const FOUND_DIR = new URL("./found/", import.meta.url);
const found = readdirSync(FOUND_DIR).filter((f) => f.endsWith(".yaml")).sort();
const load = (file: string): WorkloadInput => parse(readFileSync(new URL(file, FOUND_DIR), "utf8")) as WorkloadInput;

const BASE = "{ addr: 0x4000000, size: 4MiB }";
/** A workload on the explorer's platform from its threads' YAML (and any other top-level keys). */
function workload(threads: string, top = ""): WorkloadInput {
  return parse(`description: explore-run test
seed: 1
platform: xe-pcie4x8-iommu-vram16m
${top}
mappings: [${BASE}]
threads:
${threads}`) as WorkloadInput;
}
/** The CPU writes 2 MiB, the GPU migrates it to VRAM at 1 ms, then `after` (on the CPU thread) at 3 ms. */
const migrated = (after: string, top = ""): WorkloadInput =>
  workload(
    `  - name: cpu0
    steps:
      - { op: write, addr: 0x4000000, pages: 512 }
${after}
  - name: gpu0
    ctx: gpu
    steps:
      - { op: populate, start: 0x4000000, end: 0x4200000, at: 1ms }`,
    top,
  );

/** A test-only log hook: the first event `drop` picks is never committed (the model's apply and every listener miss it). */
function dropFirst(drop: (ev: RunEvent) => boolean): RunHooks {
  return {
    onLog: (log: World["log"]) => {
      const commit = log.commit.bind(log);
      let dropped = false;
      log.commit = (ev: RunEvent) => {
        if (!dropped && drop(ev)) {
          dropped = true;
          return;
        }
        commit(ev);
      };
    },
  };
}
const checksOf = (r: ExploreRunResult): ProblemCheck[] => [...new Set(r.problems.map((p) => p.check))];
const stepEnds = (r: ExploreRunResult) => r.log!.flatMap((e) => (e.ev.kind === "step.end" ? [{ thread: r.threadNames.get(e.thread)!, op: e.ev.op, result: e.ev.result }] : []));

describe("the five scenarios the property test's soaks found, as workload files (test/found/)", () => {
  it("are all there", () => {
    expect(found).toHaveLength(5);
  });

  it.each(found)("%s passes the harness with no problem", (file) => {
    const r = exploreRun(load(file), { capture: true });
    expect(r.problems).toEqual([]);
    const ends = stepEnds(r);
    // Every op of the scenario ran: none lost to a process that did not exist yet.
    expect(ends.filter((e) => e.result.startsWith("no process"))).toEqual([]);
    // The harness's own phases ran after the workload: a read-back per process, every exit, the unbind.
    expect(ends.filter((e) => e.thread === "teardown" && e.op === "unbind")).toHaveLength(1);
    expect(ends.some((e) => e.thread === "final-read")).toBe(true);
  });

  it("take the paths their bugs needed: fork with a device THP mapped, and the child's split of it", () => {
    for (const file of found.filter((f) => f.includes("device-thp"))) {
      const r = exploreRun(load(file), { capture: true });
      const ends = stepEnds(r);
      expect(ends.find((e) => e.op === "fork")?.result).toBe("process 1");
      // The child's VMA change succeeded (mremap or munmap of one page inside the shared THP).
      expect(ends.find((e) => e.op === "mremap" || e.op === "munmap")?.result).toBe("0");
      expect(r.log!.some((e) => e.ev.kind === "folio.alloc" && e.ev.memory === "device" && e.ev.order === 9)).toBe(true);
      expect(r.log!.some((e) => e.ev.kind === "pmd.split")).toBe(true);
    }
    // Scenario 1's child read (after the fork) ran in the child and saw data.
    const r = exploreRun(load(found.find((f) => f.startsWith("2-"))!), { capture: true });
    expect(stepEnds(r).find((e) => e.thread === "op5-cpu" && e.op === "read")?.result).toMatch(/^ok/);
  });
});

describe("exploreRun", () => {
  it("gives the same result for the same input, run twice", () => {
    for (const seed of [3, 8, 21]) {
      const input = generateWorkload(seed, { variant: "seed" });
      const a = exploreRun(input);
      const b = exploreRun(structuredClone(input));
      expect({ ...b, threadNames: [...b.threadNames] }).toEqual({ ...a, threadNames: [...a.threadNames] });
      expect(a.engineSteps).toBeGreaterThan(0);
    }
  });

  it("keeps every model event with capture, and none without", () => {
    const input = generateWorkload(3, { variant: "newest" });
    const captured = exploreRun(input, { capture: true });
    expect(captured.log!.length).toBeGreaterThan(10);
    expect(captured.log!.map((e) => e.seq)).toEqual([...captured.log!.map((e) => e.seq)].sort((x, y) => x - y));
    expect(exploreRun(input).log).toBeUndefined();
  });

  it("hands the listeners every event", () => {
    const kinds: string[] = [];
    const r = exploreRun(generateWorkload(3, { variant: "newest" }), { capture: true, listeners: [{ onModelEvent: (_s, _t, _th, _c, ev) => kinds.push(ev.kind) }] });
    expect(kinds).toEqual(r.log!.map((e) => e.ev.kind));
  });

  it("refuses an input the workload schema refuses (a WorkloadError naming the place), not a finding", () => {
    const bad = workload(`  - name: t
    steps: [{ op: evict }]`);
    expect(() => exploreRun(bad, { path: "bad.yaml" })).toThrow(/bad\.yaml:\d+:\d+: threads\.0\.steps\.0: evict names one allocation/);
  });
});

describe("every class of check reports what it finds", () => {
  it("invariant: a page reference dropped without its get (a folio put one time too many)", () => {
    const r = exploreRun(workload(`  - name: cpu0
    steps:
      - { op: write, addr: 0x4000000 }
      - { op: get, addr: 0x4000000 }
      - { op: irq_put, addr: 0x4000000 }
      - { op: read, addr: 0x4000000 }`), { hooks: dropFirst((ev) => ev.kind === "folio.get") });
    expect(checksOf(r)).toContain("invariant");
  });

  it("platform-invariant: a GPU range left bound when its invalidation is dropped", () => {
    const r = exploreRun(workload(`  - name: gpu0
    ctx: gpu
    steps:
      - { op: read, addr: 0x4000000 }
  - name: cpu0
    steps:
      - { op: munmap, addr: 0x4000000, size: 4KiB, at: 1ms }`), { hooks: dropFirst((ev) => ev.kind === "svm_range.invalidate") });
    expect(r.problems.find((p) => p.check === "platform-invariant")?.message).toMatch(/svm range/);
  });

  it("lost-write: a migration whose page copy is dropped", () => {
    const r = exploreRun(migrated("      - { op: read, addr: 0x4000000, at: 3ms }"), { hooks: dropFirst((ev) => ev.kind === "page.copy") });
    expect(r.problems.filter((p) => p.check === "lost-write").length).toBeGreaterThan(0);
    // Without the hook the same workload is clean.
    expect(exploreRun(migrated("      - { op: read, addr: 0x4000000, at: 3ms }")).problems).toEqual([]);
  });

  it("context: an interrupt drops the last device-page reference, the seed's inline zdd release puts the BO synchronously (#2)", () => {
    const irqFree = (top: string) =>
      workload(
        `  - name: cpu0
    steps:
      - { op: write, addr: 0x4000000, pages: 16 }
  - name: gpu0
    ctx: gpu
    steps:
      - { op: populate, start: 0x4000000, end: 0x4010000, timesliceMs: 100, at: 100us }
      - { op: get, addr: 0x4000000 }
      - { op: munmap, addr: 0x4001000, size: 60KiB }
      - { op: munmap, addr: 0x4000000, size: 4KiB }
      - { op: irq_put, addr: 0x4000000, after: 10us }`,
        top,
      );
    const r = exploreRun(irqFree("platformOverrides: { vram.release: sync }"));
    expect(r.problems.map((p) => p.check)).toEqual(["context"]);
    expect(r.problems[0]!.message).toMatch(/^irq@0x4000000 \(irq context\) called xe_bo_put, which may sleep/);
    // The profile's own release (async, xe_bo_put_async) sleeps in no interrupt.
    expect(exploreRun(irqFree("")).problems).toEqual([]);
  });

  it("kernel-bug: a DMA-map failure on the seed variant (its raw-pfn hazard), not on newest", () => {
    const input = (variant: string) => migrated("", `faults: { dma_map: { nth: [1] } }\nmodel: { variant: ${variant} }`);
    expect(exploreRun(input("seed")).problems.find((p) => p.check === "kernel-bug")?.message).toMatch(/unlock_put_pages on raw device pfns/);
    expect(checksOf(exploreRun(input("newest")))).not.toContain("kernel-bug");
  });

  it("illegal-transition: a folio freed twice is a problem, not a crash", () => {
    const hooks: RunHooks = {
      onLog: (log) => {
        const commit = log.commit.bind(log);
        log.commit = (ev: RunEvent) => {
          commit(ev);
          if (ev.kind === "folio.free") commit(ev);
        };
      },
    };
    const r = exploreRun(migrated(""), { hooks });
    expect(checksOf(r)).toEqual(["illegal-transition"]);
    expect(r.problems[0]!.message).toMatch(/refuses an event/);
  });

  it("teardown: a page reference never dropped (a get with no put) keeps a device page after every exit and the unbind", () => {
    // The held page is one the CPU never wrote, so the read-back leaves it alone (reading it would hang).
    const held = (put: string) =>
      workload(`  - name: cpu0
    steps:
      - { op: write, addr: 0x4000000, pages: 16 }
      - { op: get, addr: 0x4100000, at: 2ms }
${put}
  - name: gpu0
    ctx: gpu
    steps:
      - { op: populate, start: 0x4000000, end: 0x4200000, at: 1ms }`);
    const r = exploreRun(held(""));
    expect(checksOf(r)).toEqual(["teardown"]);
    expect(r.problems.map((p) => p.message)).toEqual([
      "zdd 0: not destroyed after teardown (refcount 1)",
      "devmem 0: never released (device memory leaked)",
      "1 device pages still allocated after teardown",
      expect.stringMatching(/^folio \d+ \(device, order 0\): refcount 1 after teardown, held by cpu0\[1\] get$/),
    ]);
    expect(exploreRun(held("      - { op: irq_put, addr: 0x4100000 }")).problems).toEqual([]);
  });

  it("hung: the read-back of a written device page a get still holds", () => {
    const r = exploreRun(migrated("      - { op: get, addr: 0x4003000, at: 2ms }"), { capture: true });
    expect(checksOf(r)).toEqual(["hung"]);
    expect(r.problems[0]!.message).toMatch(/final-read/);
    // Stopped there: no teardown ran.
    expect([...r.threadNames.values()]).not.toContain("teardown");
  });

  it("hung: a workload's CPU read of a device page a get holds (HungFaultCheck)", () => {
    const r = exploreRun(
      migrated(`      - { op: get, addr: 0x4003000, at: 2ms }
  - name: cpu1
    steps:
      - { op: read, addr: 0x4003000, at: 3ms }`),
    );
    expect(checksOf(r)).toEqual(["hung"]);
  });

  it("no-progress: the step limit and the time limit", () => {
    const input = migrated("      - { op: read, addr: 0x4000000, at: 3ms }");
    const steps = exploreRun(input, { stepLimit: 100 });
    expect(steps.problems.map((p) => p.check)).toEqual(["no-progress"]);
    expect(steps.problems[0]!.message).toMatch(/engine steps with no workload step ending.*the last events: /);
    const time = exploreRun(input, { timeLimitNs: 500_000, sliceSteps: 10 });
    expect(time.problems.map((p) => p.check)).toEqual(["no-progress"]);
    expect(time.problems[0]!.message).toMatch(/simulated time \d+ ns is past 500000 ns/);
    expect(exploreRun(input).problems).toEqual([]);
  });

  it("signal: an OOM with no fault injected is a problem; the same OOM with a fault injected is not", () => {
    const tiny = (faults: string) =>
      workload(
        `  - name: cpu0
    steps:
      - { op: write, addr: 0x4000000, pages: 4 }`,
        `platformOverrides: { cpu.systemRamBytes: 8KiB }\n${faults}`,
      );
    const r = exploreRun(tiny(""));
    expect(r.problems.find((p) => p.check === "signal")?.message).toMatch(/cpu0\[0\] write: OOM/);
    const injected = exploreRun(tiny("faults: { folio_alloc_order0: { nth: [1] } }"));
    expect(checksOf(injected)).not.toContain("signal");
  });
});

describe("the progress watchdog and timeslices", () => {
  // docs/findings.md: Xe doubles a retried atomic's timeslice (5 → 160 ms here, after injected
  // failures), and a CPU touching the range waits it out: ~10⁶ spin events, then progress.
  const heldOff: WorkloadInput = {
    description: "a CPU held off by a doubled timeslice (issue #18)",
    seed: 1,
    platform: "xe-pcie4x8-iommu-vram16m",
    model: { variant: "seed", thp: "never" },
    faults: { kvcalloc: { nth: [3] }, vram_alloc: { nth: [1] }, copy_to_devmem: { nth: [2] }, copy_to_ram: { nth: [1] } },
    mappings: [{ addr: "0x4000000", size: "4MiB" }],
    threads: [
      { name: "atomic", ctx: "gpu", steps: [{ op: "atomic", addr: "0x4000000", pages: 1 }] },
      { name: "forker", steps: [{ op: "fork", at: 12381 }] },
      { name: "populate", ctx: "gpu", steps: [{ op: "populate", start: "0x4000000", end: "0x4200000", timesliceMs: 5 }] },
    ],
  };

  it("counts a CPU spinning on an unexpired timeslice as waiting, not as no progress", () => {
    let spins = 0;
    let longest = 0;
    const r = exploreRun(heldOff, { listeners: [{ onModelEvent: (_s, _t, _th, _c, ev) => {
      if (ev.kind === "cpu_fault.timeslice_spin") spins++;
      if (ev.kind === "devmem.timeslice") longest = Math.max(longest, ev.timesliceMs);
    } }] });
    expect(longest).toBeGreaterThanOrEqual(80); // doubled at least four times
    expect(spins).toBeGreaterThan(100_000); // past the event limit's reach without the rule
    expect(r.problems.filter((p) => p.check === "no-progress")).toEqual([]);
  });
});
