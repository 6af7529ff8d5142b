import { describe, it, expect } from "vitest";
import fc from "fast-check";
import type { ProcessBody } from "../src/engine/index.ts";
import { PAGE_SIZE } from "../src/kernel/constants.ts";
import { cpuAccess } from "../src/kernel/fault.ts";
import { mmap, mprotect, mremap, munmap } from "../src/kernel/mm.ts";
import { vmaLookup, type VmaState } from "../src/kernel/state.ts";
import { checkKernelInvariants } from "../src/check/kernel-invariants.ts";
import { BASE, pagemapWorld } from "./support/pagemap-world.ts";

/**
 * Random mmap / munmap / mprotect / mremap / touch sequences in one process. After each: the
 * VMAs give every page the protection a page-by-page shadow says (merging and splitting change no
 * page's mapping), and no two neighbours are left that vma_merge would have joined.
 */
const WINDOW_PAGES = 64;
const page = fc.integer({ min: 0, max: WINDOW_PAGES - 1 });
const pages = fc.integer({ min: 1, max: 24 });
const op = fc.oneof(
  fc.record({ kind: fc.constant("mmap" as const), page, pages, write: fc.boolean() }),
  fc.record({ kind: fc.constant("munmap" as const), page, pages }),
  fc.record({ kind: fc.constant("mprotect" as const), page, pages, write: fc.boolean() }),
  fc.record({ kind: fc.constant("mremap" as const), page, pages, to: page }),
  fc.record({ kind: fc.constant("touch" as const), page }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

/** Whether `next` could have been merged into `prev`: the rule of can_vma_merge_after, restated. */
function mergeable(prev: VmaState, next: VmaState): boolean {
  return (
    prev.endAddr === next.startAddr &&
    prev.kind === next.kind &&
    prev.read === next.read &&
    prev.write === next.write &&
    prev.file === next.file &&
    prev.anonVma === next.anonVma &&
    prev.pgoff + (prev.endAddr - prev.startAddr) / PAGE_SIZE === next.pgoff
  );
}

function runOps(ops: Op[]): string[] {
  const w = pagemapWorld();
  const shadow = new Map<number, boolean>(); // mapped page -> writable
  const problems: string[] = [];
  const addr = (pg: number): number => BASE + pg * PAGE_SIZE;
  const check = (i: number): void => {
    const mm = w.k.state.mms.get(w.mm)!;
    for (let pg = 0; pg < 2 * WINDOW_PAGES; pg++) {
      const vma = vmaLookup(mm, addr(pg));
      const want = shadow.get(pg);
      if ((vma === undefined) !== (want === undefined) || (vma !== undefined && vma.write !== want)) problems.push(`op ${i}: page ${pg} is ${vma === undefined ? "unmapped" : vma.write ? "rw" : "r-"}, shadow ${want ?? "unmapped"}`);
    }
    for (let j = 1; j < mm.vmas.length; j++) if (mergeable(mm.vmas[j - 1]!, mm.vmas[j]!)) problems.push(`op ${i}: vma ${mm.vmas[j - 1]!.id} and ${mm.vmas[j]!.id} were left unmerged`);
    problems.push(...checkKernelInvariants(w.k.state).map((p) => `op ${i}: ${p}`));
  };
  w.engine.spawn("ops", (function* (): ProcessBody {
    for (const [i, o] of ops.entries()) {
      const n = "pages" in o ? Math.min(o.pages, 2 * WINDOW_PAGES - o.page) : 1;
      const range = Array.from({ length: n }, (_, k) => o.page + k);
      if (o.kind === "mmap") {
        const ret = yield* mmap(w.k, w.mm, { addr: addr(o.page), lengthBytes: n * PAGE_SIZE, kind: "anon-private", read: true, write: o.write });
        if (ret === 0) for (const pg of range) shadow.set(pg, o.write);
      } else if (o.kind === "munmap") {
        yield* munmap(w.k, w.mm, addr(o.page), n * PAGE_SIZE);
        for (const pg of range) shadow.delete(pg);
      } else if (o.kind === "mprotect") {
        if ((yield* mprotect(w.k, w.mm, addr(o.page), n * PAGE_SIZE, true, o.write)) === 0) for (const pg of range) shadow.set(pg, o.write);
      } else if (o.kind === "mremap") {
        const m = Math.min(n, 2 * WINDOW_PAGES - o.to);
        if ((yield* mremap(w.k, w.mm, addr(o.page), m * PAGE_SIZE, addr(o.to))) === 0) {
          const moved = Array.from({ length: m }, (_, k) => shadow.get(o.page + k)!);
          for (let k = 0; k < m; k++) shadow.delete(o.page + k);
          moved.forEach((wr, k) => shadow.set(o.to + k, wr));
        }
      } else if (shadow.get(o.page) === true) {
        yield* cpuAccess(w.k, w.mm, addr(o.page), "write");
      }
      check(i);
    }
  })());
  w.engine.run();
  return problems;
}

describe("VMA merging under random address-space changes (fast-check)", () => {
  it("keeps every page's protection and leaves no two neighbours that could merge", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 16 }), (ops) => {
        expect(runOps(ops)).toEqual([]);
      }),
      { numRuns: 1500 },
    );
  });
});
