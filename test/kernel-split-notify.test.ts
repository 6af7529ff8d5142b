import { describe, expect, it } from "vitest";
import { exploreRun } from "../src/explore/run-one.ts";
import type { WorkloadInput } from "../src/explore/types.ts";

/**
 * split_folio unmaps the large folio (unmap_folio → try_to_migrate_one, MMU_NOTIFY_CLEAR on every
 * mapping) before it splits and remaps it, so a GPU mapping of the THP is zapped and the next
 * GPU fault binds the new order-0 folios. Issue #18's explorer found the model splitting without
 * the notifier, leaving the GPU bound to the old folio (docs/findings.md, newest-015). Its shrunk
 * workload: a device THP (populate of 4 MiB, device THP on) partly unmapped, so the PMD is split.
 */
const input: WorkloadInput = {
  description: "the GPU mapping of a THP that splits (issue #18)",
  seed: 1611846047,
  platform: "xe-pcie4x8-iommu-vram16m",
  platformOverrides: { "vram.release": "sync" },
  model: { variant: "newest", thp: "never", deviceThp: true },
  faults: { folio_alloc_order0: { nth: [1] } },
  mappings: [{ addr: "0x4000000", size: "4MiB" }],
  threads: [
    { name: "gpu-writer", ctx: "gpu", steps: [{ op: "write", addr: "0x4200000", pages: 2, at: 7821 }] },
    { name: "populate", ctx: "gpu", steps: [{ op: "populate", start: "0x4000000", end: "0x4400000", timesliceMs: 5 }] },
    { name: "cpu", steps: [{ op: "write", addr: "0x435d000" }] },
    { name: "unmapper", steps: [{ op: "munmap", addr: "0x420c000", size: "720KiB" }] },
  ],
};

describe("split_folio's MMU notifier calls", () => {
  it("a THP split invalidates the GPU mappings of the folio, so no GPU range stays bound to the old folio", () => {
    let splits = 0;
    let notifiedInSplit = 0;
    let lastNotifier = -1;
    const r = exploreRun(input, {
      listeners: [{
        onModelEvent: (seq, _t, _th, _c, ev) => {
          if (ev.kind === "mmu_notifier.begin") lastNotifier = seq;
          if (ev.kind === "folio.split") {
            splits++;
            if (lastNotifier >= 0 && seq - lastNotifier < 64) notifiedInSplit++;
          }
        },
      }],
    });
    expect(splits).toBeGreaterThan(0);
    expect(notifiedInSplit).toBe(splits);
    expect(r.problems.filter((p) => p.check === "platform-invariant")).toEqual([]);
  });

  it("a reference taken while the split's notifiers run fails the split (folio_ref_freeze), and the model refuses nothing", () => {
    // newest-002 of the explorations in docs/findings.md: a CPU read takes a reference on a device
    // THP while another CPU fault's split of it is invalidating GPU mappings.
    const racing: WorkloadInput = {
      description: "a reference taken during a THP split (issue #18)",
      seed: 1,
      platform: "xe-pcie4x8-iommu-vram16m",
      model: { variant: "newest", thp: "never", deviceThp: true },
      mappings: [{ addr: "0x4000000", size: "4MiB" }],
      threads: [
        { name: "gpu-read", ctx: "gpu", steps: [{ op: "read", addr: "0x40b3000", pages: 1, at: 4580 }] },
        { name: "populate", ctx: "gpu", steps: [{ op: "populate", start: "0x4000000", end: "0x4400000", timesliceMs: 1 }] },
        { name: "cpu-write", steps: [{ op: "write", addr: "0x4386000" }] },
        { name: "cpu-read", steps: [{ op: "read", addr: "0x4000000", at: 347407 }] },
        { name: "mremap", steps: [{ op: "mremap", addr: "0x41cb000", size: "1040KiB", newAddr: "0x4000000" }] },
      ],
    };
    let splits = 0;
    const r = exploreRun(racing, { listeners: [{ onModelEvent: (_s, _t, _th, _c, ev) => void (ev.kind === "folio.split" && splits++) }] });
    expect(r.problems).toEqual([]);
    expect(splits).toBeGreaterThan(0); // it split once the reference was gone
  });
});

