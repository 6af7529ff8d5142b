import { describe, it, expect } from "vitest";
import type { ProcessBody } from "../src/engine/index.ts";
import { Errno, PAGE_SIZE } from "../src/kernel/constants.ts";
import { cpuAccess } from "../src/kernel/fault.ts";
import { mprotect, mremap } from "../src/kernel/mm.ts";
import { populateMm } from "../src/pagemap/populate-mm.ts";
import { checkModelInvariants } from "../src/check/pagemap-invariants.ts";
import { BASE, MB, mapAnon, pagemapWorld, runThread, type World } from "./support/pagemap-world.ts";

function* touch(w: World, start: number, size: number): ProcessBody<void> {
  for (let off = 0; off < size; off += PAGE_SIZE) yield* cpuAccess(w.k, w.mm, start + off, "write");
}

const where = (w: World, addr: number): string => w.k.state.mms.get(w.mm)!.ptes.get(addr / PAGE_SIZE)?.kind ?? "none";

describe("mprotect", () => {
  it("splits the VMA at the range's ends and applies the new permissions there only", () => {
    const w = pagemapWorld();
    const out = runThread(w, (function* (): ProcessBody<string[]> {
      yield* mapAnon(w, 4 * MB);
      yield* touch(w, BASE, 4 * MB);
      const r = [String(yield* mprotect(w.k, w.mm, BASE + MB, MB, true, false))];
      r.push((yield* cpuAccess(w.k, w.mm, BASE + MB + PAGE_SIZE, "write")).outcome);
      r.push((yield* cpuAccess(w.k, w.mm, BASE + MB + PAGE_SIZE, "read")).outcome);
      r.push((yield* cpuAccess(w.k, w.mm, BASE, "write")).outcome);
      r.push(String(yield* mprotect(w.k, w.mm, BASE + 3 * MB, 2 * MB, true, true)));
      return r;
    })());
    expect(out).toEqual(["0", "SIGSEGV", "ok", "ok", String(-Errno.ENOMEM)]);
    expect(w.k.state.mms.get(w.mm)!.vmas.map((v) => [(v.startAddr - BASE) / MB, (v.endAddr - BASE) / MB, v.write])).toEqual([
      [0, 1, true],
      [1, 2, false],
      [2, 4, true], // the refused mprotect of [3, 5) left [2, 4), which already had its flags, whole
    ]);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("#23: a CPU fault's window is clamped to the VMA, so a split allocation comes back only in part", () => {
    const w = pagemapWorld();
    runThread(w, (function* (): ProcessBody {
      yield* mapAnon(w, 2 * MB);
      yield* touch(w, BASE, 2 * MB);
      expect(yield* populateMm(w.p, w.dev.dpagemap, BASE, BASE + 2 * MB, w.mm, 0)).toBe(0);
      expect(yield* mprotect(w.k, w.mm, BASE + MB, MB, true, false)).toBe(0);
      const r = yield* cpuAccess(w.k, w.mm, BASE + PAGE_SIZE, "read");
      expect([r.outcome, r.version]).toEqual(["ok", 1]);
    })());
    expect(where(w, BASE + 10 * PAGE_SIZE)).toBe("present");
    expect(where(w, BASE + MB + 10 * PAGE_SIZE)).toBe("device-private");
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });
});

describe("mremap", () => {
  it("moves the mapping and its pages; the data follows, the old range is gone", () => {
    const w = pagemapWorld();
    const r = runThread(w, (function* (): ProcessBody<string[]> {
      yield* mapAnon(w, 2 * MB);
      yield* touch(w, BASE, 2 * MB);
      yield* cpuAccess(w.k, w.mm, BASE + 5 * PAGE_SIZE, "write"); // page 5 at version 2
      const ret = yield* mremap(w.k, w.mm, BASE, 2 * MB, BASE + 8 * MB);
      const moved = yield* cpuAccess(w.k, w.mm, BASE + 8 * MB + 5 * PAGE_SIZE, "read");
      const old = yield* cpuAccess(w.k, w.mm, BASE + 5 * PAGE_SIZE, "read");
      return [String(ret), `${moved.outcome} v${moved.version} ${moved.faults}`, old.outcome];
    })());
    expect(r).toEqual(["0", "ok v2 0", "SIGSEGV"]);
    expect(w.k.state.allocatedPages.system).toBe(512);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("moves device-private entries too: the pages stay on the device and migrate back at the new address", () => {
    const w = pagemapWorld();
    const r = runThread(w, (function* (): ProcessBody<string> {
      yield* mapAnon(w, 2 * MB);
      yield* touch(w, BASE, 2 * MB);
      expect(yield* populateMm(w.p, w.dev.dpagemap, BASE, BASE + 2 * MB, w.mm, 0)).toBe(0);
      expect(yield* mremap(w.k, w.mm, BASE, 2 * MB, BASE + 6 * MB)).toBe(0);
      expect(where(w, BASE + 6 * MB)).toBe("device-private");
      const moved = yield* cpuAccess(w.k, w.mm, BASE + 6 * MB + 7 * PAGE_SIZE, "read");
      return `${moved.outcome} v${moved.version}`;
    })());
    expect(r).toBe("ok v1");
    expect(w.k.state.allocatedPages.device).toBe(0);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("refuses a source range that is not inside one VMA", () => {
    const w = pagemapWorld();
    const ret = runThread(w, (function* (): ProcessBody<number> {
      yield* mapAnon(w, 2 * MB);
      return yield* mremap(w.k, w.mm, BASE + MB, 2 * MB, BASE + 8 * MB);
    })());
    expect(ret).toBe(-Errno.EFAULT);
  });
});

describe("user-space addresses above 4 GiB", () => {
  it("work end to end (no 32-bit arithmetic on addresses): fault, migrate to the device and back", () => {
    const w = pagemapWorld();
    const HIGH = 0x7f12_3440_0000; // a typical x86-64 mmap address, 2 MiB aligned
    const r = runThread(w, (function* (): ProcessBody<string> {
      expect(yield* mapAnon(w, 2 * MB, HIGH)).toBe(0);
      for (let off = 0; off < 2 * MB; off += PAGE_SIZE) yield* cpuAccess(w.k, w.mm, HIGH + off, "write");
      expect(yield* populateMm(w.p, w.dev.dpagemap, HIGH, HIGH + 2 * MB, w.mm, 0)).toBe(0);
      expect(w.k.state.allocatedPages.device).toBe(512);
      const back = yield* cpuAccess(w.k, w.mm, HIGH + 3 * PAGE_SIZE, "read");
      return `${back.outcome} v${back.version}`;
    })());
    expect(r).toBe("ok v1");
    expect(w.k.state.allocatedPages).toEqual({ system: 512, device: 0 });
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });
});
