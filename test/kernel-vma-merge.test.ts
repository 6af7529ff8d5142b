import { describe, it, expect } from "vitest";
import type { ProcessBody } from "../src/engine/index.ts";
import { Errno, PAGE_SIZE } from "../src/kernel/constants.ts";
import { cpuAccess } from "../src/kernel/fault.ts";
import { fork } from "../src/kernel/fork.ts";
import { mmap, mprotect, mremap } from "../src/kernel/mm.ts";
import type { VmaKind } from "../src/kernel/state.ts";
import { populateMm } from "../src/pagemap/populate-mm.ts";
import { checkModelInvariants } from "../src/check/pagemap-invariants.ts";
import { parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";
import { BASE, MB, mapAnon, pagemapWorld, runThread, type World } from "./support/pagemap-world.ts";

/** The VMAs of `mm` as [start, end) in MiB from BASE, with their protection. */
const vmasOf = (w: World, mm = w.mm): [number, number, string][] =>
  w.k.state.mms.get(mm)!.vmas.map((v) => [(v.startAddr - BASE) / MB, (v.endAddr - BASE) / MB, `${v.read ? "r" : "-"}${v.write ? "w" : "-"}`]);

function* map(w: World, offMb: number, sizeMb: number, kind: VmaKind = "anon-private", write = true): ProcessBody<number> {
  return yield* mmap(w.k, w.mm, { addr: BASE + offMb * MB, lengthBytes: sizeMb * MB, kind, read: true, write });
}

function* touch(w: World, start: number, size: number): ProcessBody<void> {
  for (let off = 0; off < size; off += PAGE_SIZE) yield* cpuAccess(w.k, w.mm, start + off, "write");
}

describe("VMA merging on mmap (vma_merge_new_range)", () => {
  it("two adjacent anonymous mappings with the same flags become one VMA, after, before and between", () => {
    const w = pagemapWorld();
    const rets = runThread(w, (function* (): ProcessBody<number[]> {
      return [yield* map(w, 1, 1), yield* map(w, 2, 1), yield* map(w, 0, 1), yield* map(w, 4, 1), yield* map(w, 3, 1)];
    })());
    expect(rets).toEqual([0, 0, 0, 0, 0]);
    expect(vmasOf(w)).toEqual([[0, 5, "rw"]]);
    expect(w.k.state.vmas.size).toBe(1);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("different flags, shared anonymous and file mappings stay apart", () => {
    const w = pagemapWorld();
    runThread(w, (function* (): ProcessBody {
      expect(yield* map(w, 0, 1)).toBe(0);
      expect(yield* map(w, 1, 1, "anon-private", false)).toBe(0); // read-only next to read-write
      expect(yield* map(w, 2, 1, "anon-shared")).toBe(0); // each MAP_SHARED|MAP_ANONYMOUS has its own shmem file
      expect(yield* map(w, 3, 1, "anon-shared")).toBe(0);
      expect(yield* map(w, 4, 1, "file")).toBe(0); // the model's file mappings are each their own file
      expect(yield* map(w, 5, 1, "file")).toBe(0);
    })());
    expect(vmasOf(w)).toEqual([
      [0, 1, "rw"],
      [1, 2, "r-"],
      [2, 3, "rw"],
      [3, 4, "rw"],
      [4, 5, "rw"],
      [5, 6, "rw"],
    ]);
  });
});

describe("VMA merging on mprotect (vma_modify)", () => {
  it("making a middle part differ splits into three; making it alike again merges back into one", () => {
    const w = pagemapWorld();
    const shapes = runThread(w, (function* (): ProcessBody<[number, number, string][][]> {
      yield* map(w, 0, 1);
      yield* map(w, 1, 3); // merged at mmap: one VMA [0, 4)
      yield* touch(w, BASE, 4 * MB);
      const out = [vmasOf(w)];
      expect(yield* mprotect(w.k, w.mm, BASE + MB, 2 * MB, true, false)).toBe(0);
      out.push(vmasOf(w));
      expect(yield* mprotect(w.k, w.mm, BASE + MB, 2 * MB, true, true)).toBe(0);
      out.push(vmasOf(w));
      return out;
    })());
    expect(shapes).toEqual([[[0, 4, "rw"]], [[0, 1, "rw"], [1, 3, "r-"], [3, 4, "rw"]], [[0, 4, "rw"]]]);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("an edge made alike joins its neighbour (merge left, merge right), and two mappings that began different merge", () => {
    const w = pagemapWorld();
    const shapes = runThread(w, (function* (): ProcessBody<[number, number, string][][]> {
      yield* map(w, 0, 2);
      yield* map(w, 2, 2, "anon-private", false);
      yield* touch(w, BASE, 2 * MB);
      const out = [vmasOf(w)];
      expect(yield* mprotect(w.k, w.mm, BASE + 2 * MB, MB, true, true)).toBe(0); // left part of [2,4) joins [0,2)
      out.push(vmasOf(w));
      expect(yield* mprotect(w.k, w.mm, BASE + MB, 2 * MB, true, false)).toBe(0); // [1,3) joins the read-only [3,4)
      out.push(vmasOf(w));
      expect(yield* mprotect(w.k, w.mm, BASE, 4 * MB, true, true)).toBe(0);
      out.push(vmasOf(w));
      return out;
    })());
    expect(shapes).toEqual([
      [[0, 2, "rw"], [2, 4, "r-"]],
      [[0, 3, "rw"], [3, 4, "r-"]],
      [[0, 1, "rw"], [1, 4, "r-"]],
      [[0, 4, "rw"]],
    ]);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("mprotect to the flags a VMA already has splits nothing, even past a hole (-ENOMEM)", () => {
    const w = pagemapWorld();
    const ret = runThread(w, (function* (): ProcessBody<number> {
      yield* map(w, 0, 4);
      return yield* mprotect(w.k, w.mm, BASE + 3 * MB, 2 * MB, true, true);
    })());
    expect(ret).toBe(-Errno.ENOMEM);
    expect(vmasOf(w)).toEqual([[0, 4, "rw"]]);
  });

  it("VMAs a fork copied have anon_vmas of their own: alike again in the child, they stay apart", () => {
    const w = pagemapWorld();
    const child = runThread(w, (function* (): ProcessBody<number> {
      yield* map(w, 0, 4);
      yield* touch(w, BASE, 4 * MB);
      yield* mprotect(w.k, w.mm, BASE + 2 * MB, 2 * MB, true, false);
      const c = yield* fork(w.k, w.mm);
      expect(yield* mprotect(w.k, c, BASE + 2 * MB, 2 * MB, true, true)).toBe(0);
      expect(yield* mprotect(w.k, w.mm, BASE + 2 * MB, 2 * MB, true, true)).toBe(0);
      return c;
    })());
    expect(vmasOf(w, child)).toEqual([
      [0, 2, "rw"],
      [2, 4, "rw"],
    ]);
    expect(vmasOf(w)).toEqual([[0, 4, "rw"]]); // the parent's keep the anon_vma they share
  });
});

describe("VMA merging on mremap (copy_vma → vma_merge_new_range)", () => {
  it("a never-faulted anonymous mapping moved next to a compatible one merges with it", () => {
    const w = pagemapWorld();
    const ret = runThread(w, (function* (): ProcessBody<number> {
      yield* map(w, 0, 2);
      yield* map(w, 8, 2);
      return yield* mremap(w.k, w.mm, BASE + 8 * MB, 2 * MB, BASE + 2 * MB);
    })());
    expect(ret).toBe(0);
    expect(vmasOf(w)).toEqual([[0, 4, "rw"]]);
  });

  it("a faulted part moved away stays apart; moved back to where its page offset fits, it merges again, data intact", () => {
    const w = pagemapWorld();
    const out = runThread(w, (function* (): ProcessBody<string[]> {
      yield* map(w, 0, 4);
      yield* touch(w, BASE, 4 * MB);
      yield* map(w, 10, 2);
      const r = [String(yield* mremap(w.k, w.mm, BASE + 2 * MB, 2 * MB, BASE + 8 * MB))];
      r.push(JSON.stringify(vmasOf(w))); // [8,10) next to [10,12): its pgoff does not follow on, so no merge
      r.push(String(yield* mremap(w.k, w.mm, BASE + 8 * MB, 2 * MB, BASE + 2 * MB)));
      r.push(JSON.stringify(vmasOf(w)));
      const back = yield* cpuAccess(w.k, w.mm, BASE + 3 * MB, "read");
      r.push(`${back.outcome} v${back.version} ${back.faults}`);
      return r;
    })());
    expect(out).toEqual([
      "0",
      JSON.stringify([[0, 2, "rw"], [8, 10, "rw"], [10, 12, "rw"]]),
      "0",
      JSON.stringify([[0, 4, "rw"], [10, 12, "rw"]]),
      "ok v1 0",
    ]);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });
});

describe("the seam between two 1 MiB mappings of one 2 MiB-aligned 2 MiB range", () => {
  it("drm_pagemap populate of the whole 2 MiB moves all 512 pages to the device (main: -EINVAL, nothing moved)", () => {
    const w = pagemapWorld();
    const ret = runThread(w, (function* (): ProcessBody<number> {
      expect(yield* mapAnon(w, MB, BASE)).toBe(0);
      expect(yield* mapAnon(w, MB, BASE + MB)).toBe(0);
      yield* touch(w, BASE, 2 * MB);
      return yield* populateMm(w.p, w.dev.dpagemap, BASE, BASE + 2 * MB, w.mm, 0);
    })());
    expect(ret).toBe(0);
    expect(w.k.state.allocatedPages.device).toBe(512);
    const ptes = w.k.state.mms.get(w.mm)!.ptes;
    expect([BASE, BASE + MB - PAGE_SIZE, BASE + MB, BASE + 2 * MB - PAGE_SIZE].map((a) => ptes.get(a / PAGE_SIZE)?.kind)).toEqual([
      "device-private",
      "device-private",
      "device-private",
      "device-private",
    ]);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("a GPU fault there picks one 2 MiB chunk and migrates 512 pages (main: 32 chunks of 64 KiB)", () => {
    const text =
      "description: seam\nplatform: xe-pcie4x8-iommu\nmappings:\n  - { addr: 0x40000000, size: 1MiB }\n  - { addr: 0x40100000, size: 1MiB }\nthreads:\n" +
      "  - name: cpu0\n    steps:\n      - { op: write, addr: 0x40000000, pages: 512 }\n" +
      "  - name: gpu0\n    ctx: gpu\n    steps:\n      - { op: write, addr: 0x40000000, pages: 512, at: 2ms }\n";
    const sizes: number[] = [];
    let populated = -1;
    const { report } = runWorkload(parseWorkload(text, "workloads/inline.yaml"), undefined, {
      onLog: (log) =>
        log.subscribe({
          onModelEvent: (_s, _t, _thread, _c, ev) => {
            if (ev.kind === "svm_range.insert") sizes.push(ev.end - ev.start);
            if (ev.kind === "populate_mm.end" && populated === -1) populated = ev.ret;
          },
        }),
    });
    expect(report.invariants).toEqual([]);
    expect(report.lostWrites).toEqual([]);
    expect(sizes).toEqual([2 * MB]);
    expect(populated).toBe(0);
    expect(report.pageCounts).toEqual({ device: 512 });
    expect(report.gpuFaults).toHaveLength(1);
  });
});
