import { describe, expect, it } from "vitest";
import { sleep, type ProcessBody } from "../src/engine/index.ts";
import { cpuAccess } from "../src/kernel/fault.ts";
import { fork } from "../src/kernel/fork.ts";
import { populateMm } from "../src/pagemap/populate-mm.ts";
import { WriteVersionCheck } from "../src/check/write-versions.ts";
import { loadPlatform } from "../src/workload/platform-schema.ts";
import { PAGE_SIZE } from "../src/kernel/constants.ts";
import { BASE, MB, mapAnon, pagemapWorld } from "./support/pagemap-world.ts";

/**
 * Found by the property test (seed 1, scenario ~2,776), shrunk: a GPU populate puts chunk 0 in
 * VRAM; fork starts (invalidate_range_start for the write-protect) and sleeps through the GPU's
 * invalidation; meanwhile a GPU atomic faults chunk 0. Its get_pages must not begin a read of the
 * range while fork's invalidation is in progress (mmu_interval_read_begin waits for
 * invalidate_range_end), so it cannot bind the not-yet-shared device page writable and the
 * parent's atomic write never shows in the child.
 */
describe("a GPU fault during fork's invalidation of the range", () => {
  it("waits for the invalidation to end, so the parent's post-fork atomic is not seen by the child", () => {
    const w = pagemapWorld({ variant: "seed", zddRelease: "inline", release: "sync", thp: "never", platform: loadPlatform("workloads/platforms/xe-pcie4x8-iommu-vram16m.yaml") });
    const check = new WriteVersionCheck();
    const problems: string[] = [];
    const names = new Map<number, string>();
    const atomicStages: { stage: string; tNs: number; durationNs: number }[] = [];
    let forkNs = -1;
    w.log.subscribe({
      onSpawn: (uid, name) => names.set(uid, name),
      onModelEvent: (seq, tNs, thread, _ctx, ev) => {
        const p = check.event(ev);
        if (p !== null) problems.push(`seq ${seq} ${ev.kind}: ${p.what}: expected ${p.expected}, found ${p.found}`);
        if (ev.kind === "mm.fork") forkNs = tNs;
        if (ev.kind === "gpu_fault.stage" && names.get(thread) === "atomic") atomicStages.push({ stage: ev.stage, tNs, durationNs: ev.durationNs });
      },
    });
    w.engine.spawn("setup", (function* (): ProcessBody {
      yield* mapAnon(w, 4 * MB);
    })());
    w.engine.run();
    let child = -1;
    // The shrunk counterexample's ops, each its own thread as the property test runs them.
    w.engine.spawn("populate", populateMm(w.p, w.dev.dpagemap, BASE, BASE + 2 * MB, w.mm, 0), "gpu");
    w.engine.spawn("forker", (function* (): ProcessBody {
      yield sleep(427_509);
      child = yield* fork(w.k, w.mm);
    })());
    w.engine.spawn("cpu512", (function* (): ProcessBody {
      yield* cpuAccess(w.k, w.mm, BASE + 512 * PAGE_SIZE, "read");
    })());
    w.engine.spawn("read512", (function* (): ProcessBody {
      yield* w.gpu!.access(w.mm, BASE + 512 * PAGE_SIZE, "read");
    })(), "gpu");
    w.engine.spawn("atomic", (function* (): ProcessBody {
      yield* w.gpu!.access(w.mm, BASE, "atomic");
    })(), "gpu");
    w.engine.spawn("cpu0", (function* (): ProcessBody {
      yield* cpuAccess(w.k, w.mm, BASE, "read");
    })());
    w.engine.run();
    expect(child).toBeGreaterThan(0);
    w.engine.spawn("final", (function* (): ProcessBody {
      for (const mm of [w.mm, child]) yield* cpuAccess(w.k, mm, BASE, "read");
    })());
    w.engine.run();

    expect(problems).toEqual([]);
    // The path: the atomic found its range inside fork's invalidation window (before the copy,
    // mm.fork), and its first get_pages began only once the window had closed (read_begin waited).
    const findRange = atomicStages.find((st) => st.stage === "find_range")!;
    const getPages = atomicStages.find((st) => st.stage === "get_pages")!;
    expect(forkNs).toBeGreaterThan(427_509);
    expect(findRange.tNs).toBeGreaterThan(427_509);
    expect(findRange.tNs).toBeLessThan(forkNs);
    expect(getPages.tNs - getPages.durationNs).toBeGreaterThanOrEqual(forkNs);
  });
});
