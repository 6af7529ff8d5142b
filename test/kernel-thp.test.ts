import { describe, it, expect } from "vitest";
import type { ProcessBody } from "../src/engine/index.ts";
import { PAGE_SIZE } from "../src/kernel/constants.ts";
import { cpuAccess } from "../src/kernel/fault.ts";
import { populateMm } from "../src/pagemap/populate-mm.ts";
import { checkModelInvariants } from "../src/check/pagemap-invariants.ts";
import { BASE, MB, mapAnon, pagemapWorld, runThread } from "./support/pagemap-world.ts";

describe("transparent huge pages on anonymous faults", () => {
  it("a first touch of an empty aligned 2 MiB block maps one order-9 folio; an unaligned remainder gets 4 KiB pages", () => {
    const w = pagemapWorld({ thp: "always" });
    runThread(w, (function* (): ProcessBody {
      yield* mapAnon(w, 3 * MB);
      const r = yield* cpuAccess(w.k, w.mm, BASE + 77 * PAGE_SIZE, "write");
      expect([r.outcome, r.version, r.faults]).toEqual(["ok", 1, 1]);
      for (let off = 0; off < 2 * MB; off += PAGE_SIZE) expect((yield* cpuAccess(w.k, w.mm, BASE + off, "read")).faults).toBe(0);
      yield* cpuAccess(w.k, w.mm, BASE + 2 * MB, "read"); // only 1 MiB of VMA left: no THP
    })());
    const orders = [...w.k.state.folios.values()].filter((f) => !f.freed).map((f) => f.order);
    expect(orders.sort()).toEqual([0, 9]);
    expect(w.k.state.allocatedPages.system).toBe(513);
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });

  it("falls back to a 4 KiB page when the THP allocation fails", () => {
    const w = pagemapWorld({ thp: "always", faults: { folio_alloc_order9: { nth: [1] } } });
    const r = runThread(w, (function* (): ProcessBody<string> {
      yield* mapAnon(w, 2 * MB);
      return (yield* cpuAccess(w.k, w.mm, BASE, "write")).outcome;
    })());
    expect(r).toBe("ok");
    expect(w.k.state.allocatedPages.system).toBe(1);
  });

  it("a THP-backed range migrates to device memory (split on collection, as v6.15 does) and back, data intact", () => {
    const w = pagemapWorld({ thp: "always" });
    runThread(w, (function* (): ProcessBody {
      yield* mapAnon(w, 2 * MB);
      for (let off = 0; off < 2 * MB; off += 64 * PAGE_SIZE) yield* cpuAccess(w.k, w.mm, BASE + off, "write");
      expect(yield* populateMm(w.p, w.dev.dpagemap, BASE, BASE + 2 * MB, w.mm, 0)).toBe(0);
      expect(w.k.state.allocatedPages).toEqual({ system: 0, device: 512 });
      const r = yield* cpuAccess(w.k, w.mm, BASE + 64 * PAGE_SIZE, "read");
      expect([r.outcome, r.version]).toEqual(["ok", 1]);
      const untouched = yield* cpuAccess(w.k, w.mm, BASE + 65 * PAGE_SIZE, "read");
      expect(untouched.version).toBe(0);
    })(), "gpu");
    expect(checkModelInvariants(w.p.state)).toEqual([]);
  });
});
