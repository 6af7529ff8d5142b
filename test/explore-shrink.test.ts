import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { shrinkWorkload, workloadSize } from "../src/explore/shrink.ts";
import { removeSteps, removeThreads } from "../src/explore/shrink-refs.ts";
import { simplifications } from "../src/explore/shrink-edits.ts";
import type { WorkloadInput } from "../src/explore/types.ts";
import { parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";
import { parseAddress } from "../src/workload/units.ts";

const ROOT = join(import.meta.dirname, "..");
/** Where a candidate "lives", so that a platform name would resolve as for a bundled workload. */
const FILE = join(ROOT, "workloads", "shrink-candidate.yaml");

/** The candidate as pagesim loads a file: throws a WorkloadError when it is not a valid workload. */
const load = (c: WorkloadInput) => parseWorkload(stringify(c), FILE);

type Step = NonNullable<WorkloadInput["threads"][number]["steps"]>[number];
const PAGE_X = 0x40200000;

/** Twelve steps on three threads; the fork on t1 before its munmap of page X is the "bug". */
function twelveSteps(): WorkloadInput {
  return {
    description: "synthetic: fails iff some thread forks and later munmaps page X",
    seed: 3,
    faults: { dma_map: { probability: 0.25 }, kvcalloc: { nth: [2, 5] } },
    model: { thp: "always", zddRelease: "deferred" },
    mappings: [{ addr: "0x40000000", size: "4MiB" }],
    threads: [
      {
        name: "t0",
        steps: [
          { op: "write", addr: "0x40003000", pages: 8, at: "20us" },
          { op: "read", addr: "0x40005000", pages: 4 },
          { op: "munmap", addr: "0x40300000", size: "4KiB" },
          { op: "write", addr: "0x40001000", pages: 2, after: "3us" },
        ],
      },
      {
        name: "t1",
        steps: [
          { op: "write", addr: "0x40205000", pages: 3, at: "1ms" },
          { op: "fork" },
          { op: "read", addr: "0x40010000", pages: 16 },
          { op: "munmap", addr: "0x40200000", size: "8KiB", at: "2ms" },
        ],
      },
      {
        name: "t2",
        steps: [
          { op: "wait", thread: "t1", step: 2 },
          { op: "write", addr: "0x40100000", pages: 5 },
          { op: "wait", thread: "t0" },
          { op: "read", addr: "0x40004000" },
        ],
      },
    ],
  };
}

const covers = (s: Step, addr: number): boolean => {
  if (s.op !== "munmap") return false;
  const start = parseAddress(s.addr)!;
  return addr >= start && addr < start + (typeof s.size === "number" ? s.size : 8192);
};
const forkThenMunmapX = (c: WorkloadInput): boolean =>
  c.threads.some((t) => {
    const steps = t.steps ?? [];
    const fork = steps.findIndex((s) => s.op === "fork");
    return fork !== -1 && steps.slice(fork + 1).some((s) => covers(s, PAGE_X));
  });

describe("shrinkWorkload (design note §2.5)", () => {
  it("shrinks a 12-step synthetic failure to at most 3 steps that keep the property", () => {
    const input = twelveSteps();
    expect(workloadSize(input)).toEqual({ threads: 3, steps: 12 });
    expect(forkThenMunmapX(input)).toBe(true);
    const seen: WorkloadInput[] = [];
    const out = shrinkWorkload(input, (c) => {
      seen.push(c);
      return forkThenMunmapX(c);
    });
    expect(out.timedOut).toBe(false);
    expect(forkThenMunmapX(out.input)).toBe(true);
    expect(workloadSize(out.input).steps).toBeLessThanOrEqual(3);
    expect(workloadSize(out.input).threads).toBe(1);
    expect(out.runs).toBe(seen.length);
    expect(out.accepted).toBeGreaterThan(0);
    // Simplified as well as cut: fault rules and model features off, the start time dropped.
    expect(out.input.faults ?? {}).toEqual({});
    expect(out.input.model?.thp ?? "never").toBe("never");
    expect(out.input.model?.zddRelease ?? "inline").toBe("inline");
    expect(out.input.threads[0]!.steps!.every((s) => s.at === undefined)).toBe(true);
    // The input is not edited in place.
    expect(input).toEqual(twelveSteps());
  });

  it("passes the predicate only candidates pagesim would load, and keeps waits pointing at live steps", () => {
    const input = twelveSteps();
    // The failure needs t2's read, which comes after two waits: t1's step 2 and all of t0.
    const fails = (c: WorkloadInput): boolean => {
      expect(() => load(c)).not.toThrow();
      return c.threads.some((t) => (t.steps ?? []).some((s) => s.op === "read" && parseAddress(s.addr) === 0x40004000));
    };
    const out = shrinkWorkload(input, fails);
    expect(workloadSize(out.input)).toEqual({ threads: 1, steps: 1 });
    expect(out.input.threads[0]!.name).toBe("t2");
    expect(() => load(out.input)).not.toThrow();
  });

  it("renumbers waits past a removed step, drops waits on a removed step or thread, and re-homes a child whose fork went", () => {
    const input = twelveSteps();
    const waits = (w: WorkloadInput) => w.threads.find((t) => t.name === "t2")!.steps!.filter((s) => s.op === "wait");
    expect(waits(removeSteps(input, (ti, si) => ti === 1 && si === 0))).toEqual([{ op: "wait", thread: "t1", step: 1 }, { op: "wait", thread: "t0" }]);
    expect(waits(removeSteps(input, (ti, si) => ti === 1 && si === 2))).toEqual([{ op: "wait", thread: "t0" }]);
    expect(waits(removeThreads(input, (ti) => ti === 0))).toEqual([{ op: "wait", thread: "t1", step: 2 }]);
    // t2 without its first wait: its wait on t0 is now its step 1; a wait on that step goes with it.
    const chained: WorkloadInput = { ...input, threads: [...input.threads, { name: "t3", steps: [{ op: "wait", thread: "t2", step: 2 }, { op: "read", addr: "0x40000000" }] }] };
    const cut = removeThreads(chained, (ti) => ti === 0);
    expect(cut.threads.map((t) => t.name)).toEqual(["t1", "t2", "t3"]);
    expect(cut.threads[2]!.steps).toEqual([{ op: "read", addr: "0x40000000" }]);
    // A thread left with nothing to run goes; a child of a removed fork moves to the parent.
    const child: WorkloadInput = { ...input, threads: [...input.threads, { name: "child", process: 1, steps: [{ op: "read", addr: "0x40000000" }] }] };
    const noFork = removeSteps(child, (ti, si) => ti === 1 && si === 1);
    expect(noFork.threads.find((t) => t.name === "child")!.process).toBe(0);
    expect(removeSteps(input, (ti) => ti === 0).threads.map((t) => t.name)).toEqual(["t1", "t2"]);
    expect(() => load(cut)).not.toThrow();
    expect(() => load(noFork)).not.toThrow();
  });

  it("simplifies what it cannot remove: probability to a call number, replicas, pattern, pages, addresses, unused mappings", () => {
    const input: WorkloadInput = {
      description: "needs a dma_map fault rule and a write",
      faults: { dma_map: { probability: 0.5 }, copy_to_ram: { nth: [3, 4] } },
      model: { deviceThp: true, variant: "newest" },
      irqFrees: { probability: 0.5, delay: "10us" },
      mappings: [{ addr: "0x40000000", size: "4MiB" }, { addr: "0x50000000", size: "2MiB" }],
      threads: [
        {
          name: "w",
          count: 4,
          steps: [{ op: "write", addr: "0x40323000", pages: 16, at: "3ms" }, { op: "sleep", duration: "7us" }],
          pattern: { kind: "sequential", addr: "0x50000000", size: "1MiB", count: 8 },
        },
      ],
    };
    const fails = (c: WorkloadInput) => c.faults?.dma_map !== undefined && c.threads.some((t) => (t.steps ?? []).some((s) => s.op === "write"));
    const out = shrinkWorkload(input, fails);
    expect(out.input).toEqual({
      description: "needs a dma_map fault rule and a write",
      faults: { dma_map: { nth: [1] } },
      model: { deviceThp: false, variant: "newest" },
      mappings: [{ addr: "0x40000000", size: "4MiB" }],
      threads: [{ name: "w", count: 1, steps: [{ op: "write", addr: "0x40000000", pages: 1 }] }],
    });
    // A step the predicate needs keeps what it needs: a sleep's duration halves as far as it may.
    const sleepy = shrinkWorkload(input, (c) => c.threads.some((t) => (t.steps ?? []).some((s) => s.op === "sleep" && Number(s.duration) >= 1000)));
    expect(sleepy.input.threads[0]!.steps).toEqual([{ op: "sleep", duration: 1750 }]);
    // schedule: (slice 4) is edited where present: FIFO ties and no jitter.
    const scheduled = { ...input, schedule: { ties: "shuffle", jitter: 0.2 } } as WorkloadInput;
    const offered = simplifications(scheduled).filter((e) => e.what.startsWith("schedule.")).flatMap((e) => e.candidates(scheduled));
    expect(offered.map((c) => (c as unknown as { schedule: unknown }).schedule)).toEqual([{ ties: "shuffle", jitter: 0 }, { ties: "fifo", jitter: 0.2 }]);
  });

  it("stops at the run budget and at the time budget, and says so", () => {
    let calls = 0;
    const byRuns = shrinkWorkload(twelveSteps(), (c) => (calls++, forkThenMunmapX(c)), { maxRuns: 5 });
    expect(byRuns.runs).toBe(5);
    expect(calls).toBe(5);
    expect(byRuns.timedOut).toBe(true);
    expect(forkThenMunmapX(byRuns.input)).toBe(true);

    const slow = (c: WorkloadInput): boolean => {
      const until = Date.now() + 20;
      while (Date.now() < until);
      return forkThenMunmapX(c);
    };
    const t0 = Date.now();
    const byTime = shrinkWorkload(twelveSteps(), slow, { maxMs: 100 });
    expect(Date.now() - t0).toBeLessThan(400);
    expect(byTime.timedOut).toBe(true);
    expect(byTime.runs).toBeGreaterThan(0);
    expect(byTime.runs).toBeLessThanOrEqual(7);
    expect(forkThenMunmapX(byTime.input)).toBe(true);
  });

  it("refuses an input pagesim would not load, instead of returning it unshrunk", () => {
    const broken = { ...twelveSteps(), schedul: { ties: "shuffle" } } as WorkloadInput;
    expect(() => shrinkWorkload(broken, () => true)).toThrow(/not a loadable workload \(\(top level\): Unrecognized key: "schedul"/);
  });

  it("is deterministic: the same input and predicate give the same result", () => {
    const a = shrinkWorkload(twelveSteps(), forkThenMunmapX);
    const b = shrinkWorkload(twelveSteps(), forkThenMunmapX);
    expect(b).toEqual(a);
    expect(stringify(b.input)).toBe(stringify(a.input));
  });

  it("shrinks a real seed-variant kernel.bug (the raw-pfn hazard) padded with 8 irrelevant steps to at most 3", () => {
    const input: WorkloadInput = {
      description: "seed hazard: a dma_map failure after populate_devmem_pfn, among unrelated steps",
      seed: 1,
      model: { variant: "seed" },
      faults: { dma_map: { nth: [1] } },
      mappings: [
        { addr: "0x4000000", size: "2MiB" },
        { addr: "0x8000000", size: "1MiB" },
      ],
      threads: [
        {
          name: "cpu0",
          steps: [
            { op: "write", addr: "0x4000000", pages: 512 },
            { op: "read", addr: "0x8000000", pages: 4, at: "10us" },
            { op: "mprotect", addr: "0x8040000", size: "64KiB", write: false },
            { op: "sleep", duration: "5us" },
            { op: "write", addr: "0x8001000", pages: 2 },
          ],
        },
        {
          name: "noise",
          steps: [
            { op: "read", addr: "0x8010000", pages: 8, at: "50us" },
            { op: "munmap", addr: "0x80f0000", size: "4KiB" },
            { op: "write", addr: "0x8020000" },
            { op: "read", addr: "0x8030000", pages: 2, after: "20us" },
          ],
        },
        { name: "gpu0", ctx: "gpu", steps: [{ op: "populate", start: "0x4000000", end: "0x4200000", at: "1ms" }] },
      ],
    };
    const hasKernelBug = (c: WorkloadInput): boolean => runWorkload(load(c)).report.kernelBugs.length > 0;
    expect(workloadSize(input)).toEqual({ threads: 3, steps: 10 });
    expect(hasKernelBug(input)).toBe(true);
    const t0 = performance.now();
    const out = shrinkWorkload(input, hasKernelBug);
    const ms = performance.now() - t0;
    expect(out.timedOut).toBe(false);
    expect(hasKernelBug(out.input)).toBe(true);
    expect(workloadSize(out.input).steps).toBeLessThanOrEqual(3);
    // The failure's own steps survive: the populate (on the seed variant, with the dma_map fault).
    const ops = out.input.threads.flatMap((t) => (t.steps ?? []).map((s) => s.op));
    expect(ops).toContain("populate");
    expect(out.input.faults).toHaveProperty("dma_map");
    // The newest variant does not have the hazard: the shrunk file is no false positive.
    expect(hasKernelBug({ ...out.input, model: { ...out.input.model, variant: "newest" } })).toBe(false);
    process.stdout.write(`shrink (seed hazard): ${JSON.stringify(workloadSize(input))} → ${JSON.stringify(workloadSize(out.input))}, ${out.runs} runs, ${out.accepted} accepted, ${ms.toFixed(0)} ms\n`);
  });
});
