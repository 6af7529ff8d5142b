import { describe, expect, it } from "vitest";
import { exploreRun } from "../src/explore/run-one.ts";
import type { WorkloadInput } from "../src/explore/types.ts";

/**
 * try_to_migrate_one invalidates every mapping it unmaps in secondary MMUs (MMU_NOTIFY_CLEAR),
 * in whichever mm it is. A page shared copy-on-write after fork and migrated by the child's
 * migrate_vma is unmapped from the parent too, so the parent's GPU binding of it must go. Issue
 * #18's explorer found the model leaving it bound to the freed system page (docs/findings.md,
 * seed-006): a use-after-free through the GPU's page table. Its shrunk workload: the parent's GPU
 * read binds the range page by page (VRAM refused once), a fork shares the first pages, the
 * child's GPU read migrates the child's range to VRAM.
 */
const input: WorkloadInput = {
  description: "the parent's GPU binding when the child migrates a shared page (issue #18)",
  seed: 542038665,
  platform: "xe-pcie4x8-iommu-vram16m",
  model: { variant: "seed", thp: "never" },
  faults: { vram_alloc: { nth: [1] } },
  mappings: [{ addr: "0x4000000", size: "4MiB" }],
  threads: [
    { name: "child-gpu", ctx: "gpu", process: 1, steps: [{ op: "read", addr: "0x40dd000", pages: 1, at: 61853 }] },
    { name: "forker", steps: [{ op: "fork", at: 39136 }] },
    { name: "parent-gpu", ctx: "gpu", steps: [{ op: "read", addr: "0x4000000", pages: 1 }] },
  ],
};

describe("try_to_migrate's MMU notifier calls on other mms", () => {
  it("a child's migration of a page shared with the parent invalidates the parent's GPU mapping of it", () => {
    const names = new Map<number, string>();
    let parentNotified = 0;
    let sharedMigrated = false;
    const r = exploreRun(input, {
      listeners: [{
        onSpawn: (uid, name) => names.set(uid, name),
        onModelEvent: (_s, _t, thread, _c, ev) => {
          if (names.get(thread) !== "child-gpu") return;
          // The child's migration notifies mm 0 (the parent) and turns the parent's PTE into a migration entry.
          if (ev.kind === "mmu_notifier.begin" && ev.mm === 0) parentNotified++;
          if (ev.kind === "pte.set" && ev.mm === 0 && ev.pteKind === "migration") sharedMigrated = true;
        },
      }],
    });
    expect(sharedMigrated).toBe(true);
    expect(parentNotified).toBeGreaterThan(0);
    expect(r.problems.filter((p) => p.check === "platform-invariant")).toEqual([]);
  });
});
