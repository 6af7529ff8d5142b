import { describe, it, expect } from "vitest";
import type { ProcessBody } from "../src/engine/index.ts";
import { PAGE_SIZE } from "../src/kernel/constants.ts";
import { cpuAccess } from "../src/kernel/fault.ts";
import { fork } from "../src/kernel/fork.ts";
import { mmput } from "../src/kernel/mm.ts";
import { populateMm } from "../src/pagemap/populate-mm.ts";
import { checkModelInvariants } from "../src/check/pagemap-invariants.ts";
import { BASE, MB, mapAnon, pagemapWorld, runThread, type World } from "./support/pagemap-world.ts";

function* touch(w: World, size: number): ProcessBody<void> {
  for (let off = 0; off < size; off += PAGE_SIZE) yield* cpuAccess(w.k, w.mm, BASE + off, "write");
}

describe("fork", () => {
  it("shares private pages copy-on-write: a write in either process copies, the other keeps its data", () => {
    const w = pagemapWorld();
    const out = runThread(w, (function* (): ProcessBody<string[]> {
      yield* mapAnon(w, 64 * PAGE_SIZE);
      yield* touch(w, 64 * PAGE_SIZE);
      const child = yield* fork(w.k, w.mm);
      expect(w.k.state.allocatedPages.system).toBe(64); // nothing copied yet
      const cw = yield* cpuAccess(w.k, child, BASE, "write");
      const pr = yield* cpuAccess(w.k, w.mm, BASE, "read");
      const cr = yield* cpuAccess(w.k, child, BASE, "read");
      const pw = yield* cpuAccess(w.k, w.mm, BASE + PAGE_SIZE, "write");
      const cr2 = yield* cpuAccess(w.k, child, BASE + PAGE_SIZE, "read");
      return [`child write v${cw.version} (${cw.faults} fault)`, `parent read v${pr.version}`, `child read v${cr.version}`, `parent write v${pw.version}`, `child read v${cr2.version}`];
    })());
    expect(out).toEqual(["child write v2 (1 fault)", "parent read v1", "child read v2", "parent write v2", "child read v1"]);
    expect(w.k.state.allocatedPages.system).toBe(66);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("the child's exit drops its references; the parent's pages are then its own again (no copy on write)", () => {
    const w = pagemapWorld();
    runThread(w, (function* (): ProcessBody {
      yield* mapAnon(w, 16 * PAGE_SIZE);
      yield* touch(w, 16 * PAGE_SIZE);
      const child = yield* fork(w.k, w.mm);
      yield* mmput(w.k, child);
      const r = yield* cpuAccess(w.k, w.mm, BASE, "write");
      expect([r.version, r.faults]).toEqual([2, 0]);
    })());
    expect(w.k.state.allocatedPages.system).toBe(16);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("device-private pages are shared by both processes after fork; a CPU fault in either brings the data back", () => {
    const w = pagemapWorld();
    const out = runThread(w, (function* (): ProcessBody<string[]> {
      yield* mapAnon(w, 2 * MB);
      yield* touch(w, 2 * MB);
      expect(yield* populateMm(w.p, w.dev.dpagemap, BASE, BASE + 2 * MB, w.mm, 0)).toBe(0);
      const child = yield* fork(w.k, w.mm);
      const pr = yield* cpuAccess(w.k, w.mm, BASE + 9 * PAGE_SIZE, "read");
      const cr = yield* cpuAccess(w.k, child, BASE + 9 * PAGE_SIZE, "read");
      const cw = yield* cpuAccess(w.k, child, BASE + 9 * PAGE_SIZE, "write");
      const pr2 = yield* cpuAccess(w.k, w.mm, BASE + 9 * PAGE_SIZE, "read");
      return [pr, cr, cw, pr2].map((r) => `${r.outcome} v${r.version}`);
    })());
    expect(out).toEqual(["ok v1", "ok v1", "ok v2", "ok v1"]);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("a THP shared by fork: a write copies just that 4 KiB page; an unshared THP is written in place", () => {
    const w = pagemapWorld({ thp: "always" });
    const out = runThread(w, (function* (): ProcessBody<string[]> {
      yield* mapAnon(w, 2 * MB);
      const first = yield* cpuAccess(w.k, w.mm, BASE, "write"); // one THP for the whole block
      const inPlace = yield* cpuAccess(w.k, w.mm, BASE + PAGE_SIZE, "write");
      const child = yield* fork(w.k, w.mm);
      const cw = yield* cpuAccess(w.k, child, BASE + 2 * PAGE_SIZE, "write");
      const pr = yield* cpuAccess(w.k, w.mm, BASE + 2 * PAGE_SIZE, "read");
      return [first, inPlace, cw, pr].map((r) => `v${r.version} f${r.faults}`);
    })());
    expect(out).toEqual(["v1 f1", "v1 f0", "v1 f1", "v0 f0"]);
    expect(w.k.state.allocatedPages.system).toBe(513);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });
});
