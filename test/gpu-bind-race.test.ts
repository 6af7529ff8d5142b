import { describe, expect, it } from "vitest";
import { sleep, type ProcessBody } from "../src/engine/index.ts";
import { cpuAccess } from "../src/kernel/fault.ts";
import { fork } from "../src/kernel/fork.ts";
import { WriteVersionCheck } from "../src/check/write-versions.ts";
import { loadPlatform } from "../src/workload/platform-schema.ts";
import { PAGE_SIZE } from "../src/kernel/constants.ts";
import { BASE, MB, mapAnon, pagemapWorld } from "./support/pagemap-world.ts";

/**
 * Found by the property test's log oracle (#15 §2): a GPU atomic's fault migrates 2 MiB to VRAM
 * and gets its pages; fork comes before the bind, write-protecting the (now shared) device page.
 * The bind must notice the invalidation since get_pages (the notifier sequence) and fault again;
 * binding the stale, writable pages let the parent's atomic write the page the child shares.
 */
describe("a fork between a GPU fault's get_pages and its bind", () => {
  it("makes the bind retry instead of mapping the shared device page writable; the child keeps the pre-fork data", () => {
    const w = pagemapWorld({ variant: "seed", thp: "always", platform: loadPlatform("workloads/platforms/xe-pcie4x8-iommu-vram16m.yaml") });
    const check = new WriteVersionCheck();
    const problems: string[] = [];
    const stages: { stage: string; ret: number; tNs: number }[] = [];
    const names = new Map<number, string>();
    let forkNs = -1;
    w.log.subscribe({
      onSpawn: (uid, name) => names.set(uid, name),
      onModelEvent: (seq, tNs, thread, _ctx, ev) => {
        const p = check.event(ev);
        if (p !== null) problems.push(`seq ${seq}: ${p.what}: expected ${p.expected}, found ${p.found}`);
        if (ev.kind === "gpu_fault.stage" && names.get(thread) === "atomic") stages.push({ stage: ev.stage, ret: ev.ret, tNs });
        if (ev.kind === "mm.fork") forkNs = tNs;
      },
    });
    w.engine.spawn("setup", (function* (): ProcessBody {
      yield* mapAnon(w, 4 * MB);
    })());
    w.engine.run();
    let child = -1;
    // The property test's shrunk counterexample, as it ran.
    w.engine.spawn("reader", (function* (): ProcessBody {
      for (let pg = 507; pg < 513; pg++) yield* w.gpu!.access(w.mm, BASE + pg * PAGE_SIZE, "read");
    })(), "gpu");
    w.engine.spawn("atomic", (function* (): ProcessBody {
      yield sleep(418_492);
      yield* w.gpu!.access(w.mm, BASE, "atomic"); // its outcome after the fork is not the point here
    })(), "gpu");
    w.engine.spawn("forker", (function* (): ProcessBody {
      yield sleep(840_933);
      child = yield* fork(w.k, w.mm);
    })());
    w.engine.spawn("cpu", (function* (): ProcessBody {
      yield* cpuAccess(w.k, w.mm, BASE, "read");
    })());
    w.engine.run();
    w.engine.spawn("child-read", (function* (): ProcessBody {
      yield* cpuAccess(w.k, child, BASE, "read");
    })());
    w.engine.run();

    // The path: the atomic's get_pages ended before the fork, its bind after it was refused (-EAGAIN), and it faulted again.
    const getPages = stages.find((st) => st.stage === "get_pages")!;
    expect(getPages.tNs).toBeLessThan(forkNs);
    const refused = stages.find((st) => st.stage === "bind" && st.ret === -11);
    expect(refused, "a bind refused after the fork").toBeDefined();
    expect(refused!.tNs).toBeGreaterThan(forkNs);
    // And the log's check finds every read saw the last write its process could see.
    expect(problems).toEqual([]);
  });
});
