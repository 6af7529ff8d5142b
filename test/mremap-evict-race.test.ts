import { describe, expect, it } from "vitest";
import { sleep, type ProcessBody } from "../src/engine/index.ts";
import { checkModelInvariants } from "../src/check/pagemap-invariants.ts";
import { WriteVersionCheck } from "../src/check/write-versions.ts";
import { mremap } from "../src/kernel/mm.ts";
import { evictToRam } from "../src/pagemap/evict-to-ram.ts";
import { loadPlatform } from "../src/workload/platform-schema.ts";
import { BASE, MB, mapAnon, pagemapWorld } from "./support/pagemap-world.ts";

/**
 * Found by the property test's soak (#15): an eviction takes no mmap lock, so it can install
 * migration entries in a range while mremap, holding the mmap write lock, sleeps in its MMU
 * notifier call. mremap checked for migration entries only before that sleep, then moved the
 * new one to the target address, where the eviction never found it: a migration entry was left
 * pointing at the freed device page. mremap now waits for such entries before it moves.
 */
describe("mremap while an eviction migrates the range", () => {
  it("waits for the eviction's migration entries before moving; every invariant holds", () => {
    const w = pagemapWorld({ variant: "seed", thp: "always", platform: loadPlatform("workloads/platforms/xe-pcie4x8-iommu-vram16m.yaml") });
    const check = new WriteVersionCheck();
    const order: string[] = [];
    w.log.subscribe({
      onModelEvent: (_seq, _tNs, _thread, _ctx, ev) => {
        if (check.event(ev) !== null) order.push("lost write");
        if (ev.kind === "mm.move" || ev.kind === "evict_to_ram.end" || ev.kind === "evict_to_ram.begin") order.push(ev.kind);
        if (ev.kind === "pte.set" && ev.vpn === BASE / 4096) order.push(ev.pteKind === "migration" ? "migration entry" : order.includes("migration entry") ? "entry resolved" : "mapped");
      },
    });
    w.engine.spawn("setup", (function* (): ProcessBody {
      yield* mapAnon(w, 4 * MB);
    })());
    w.engine.run();
    let ret = -1;
    w.engine.spawn("gpu", (function* (): ProcessBody {
      yield* w.gpu!.access(w.mm, BASE, "read"); // migrates the first 2 MiB to VRAM
    })(), "gpu");
    w.engine.spawn("evict", (function* (): ProcessBody {
      yield sleep(221_801);
      yield* evictToRam(w.p, [...w.p.state.devmems.values()][0]!.id);
    })(), "workqueue");
    w.engine.spawn("mremap", (function* (): ProcessBody {
      yield sleep(603_242);
      ret = yield* mremap(w.k, w.mm, BASE, 4096, BASE + 4096);
    })());
    w.engine.run();
    expect(ret).toBe(0);
    // The path: the eviction's migration entry appeared while mremap slept, and mremap moved the page only once it was resolved.
    expect(order.filter((e) => e !== "lost write" && e !== "mapped")).toEqual(["evict_to_ram.begin", "migration entry", "entry resolved", "mm.move", "evict_to_ram.end"]);
    expect(checkModelInvariants(w.p.state, { deferredRelease: false })).toEqual([]);
    expect(order).not.toContain("lost write");
  });
});
