import { describe, expect, it } from "vitest";
import { exploreRun } from "../src/explore/run-one.ts";
import type { WorkloadInput } from "../src/explore/types.ts";
import type { RunEvent } from "../src/machine/run-events.ts";

/**
 * drm_gpusvm_range_evict retries hmm_range_fault only on -EBUSY; a CPU-fault path that fails
 * (migrate_to_ram's VM_FAULT_SIGBUS: here every order-0 allocation fails) ends the walk with
 * -EFAULT. Issue #18's explorer found the model faulting the same page again and again until its
 * 1 s HMM timeout instead (docs/findings.md). The route: a device THP partly unmapped, then the
 * next GPU fault's garbage collector evicts the rest of the range.
 */
const input: WorkloadInput = {
  description: "drm_gpusvm_range_evict when migrate_to_ram fails (issue #18)",
  seed: 906046819,
  platform: "xe-pcie4x8-iommu-vram16m",
  model: { variant: "newest", thp: "always", deviceThp: true },
  faults: { folio_alloc_order0: { probability: 1 } },
  mappings: [{ addr: "0x4000000", size: "4MiB" }],
  threads: [
    { name: "gpu-writer", ctx: "gpu", steps: [{ op: "write", addr: "0x4214000", pages: 5, at: "1ms" }] },
    { name: "unmapper", steps: [{ op: "munmap", addr: "0x4200000", size: "1572KiB", at: "2ms" }] },
    { name: "gpu-atomic", ctx: "gpu", steps: [{ op: "atomic", addr: "0x4000000", pages: 1, at: "3ms" }] },
  ],
};

describe("drm_gpusvm_range_evict", () => {
  it("gives up when the CPU-fault path fails instead of faulting the page until the HMM timeout", () => {
    const byThread = new Map<number, string>();
    let evictFaults = 0;
    let sigbus = 0;
    const r = exploreRun(input, {
      listeners: [{
        onSpawn: (uid, name) => byThread.set(uid, name),
        onModelEvent: (_seq, _t, thread, _ctx, ev: RunEvent) => {
          if (byThread.get(thread) !== "gpu-atomic") return;
          if (ev.kind === "migrate_to_ram.begin") evictFaults++;
          if (ev.kind === "handle_mm_fault.end" && ev.outcome === "SIGBUS") sigbus++;
        },
      }],
    });
    // The path was taken: the GPU thread's garbage collector faulted the unmapped range's pages back, and they failed.
    expect(evictFaults).toBeGreaterThan(0);
    expect(sigbus).toBeGreaterThan(0);
    // One failed fault per evict; the fault handler's own retries bound the rest (it was hundreds, to the watchdog).
    expect(evictFaults).toBeLessThanOrEqual(32);
    expect(r.problems.filter((p) => p.check === "no-progress")).toEqual([]);
  });
});
