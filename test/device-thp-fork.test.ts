import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProcessBody } from "../src/engine/index.ts";
import { PAGE_SIZE } from "../src/kernel/constants.ts";
import { cpuAccess, pteWriteProtected } from "../src/kernel/fault.ts";
import { fork } from "../src/kernel/fork.ts";
import { populateMm } from "../src/pagemap/populate-mm.ts";
import { checkModelInvariants } from "../src/check/pagemap-invariants.ts";
import { recordRun } from "../src/record/run-dir.ts";
import { verifyRun } from "../src/record/verify.ts";
import { loadPlatform } from "../src/workload/platform-schema.ts";
import { loadWorkload, parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";
import { runLogged } from "./support/fault-workload.ts";
import { BASE as WORLD_BASE, MB, mapAnon, pagemapWorld } from "./support/pagemap-world.ts";

/**
 * COW after fork of a device THP (issue #17, docs/design/device-thp.md §4 test 4): fork copies a
 * device-private PMD whole (copy_huge_non_present_pmd: one reference, one mapping per mm, both
 * read-only); a write by either process, CPU or GPU, brings the 2 MiB back as one system THP
 * mapped in both mms (do_huge_pmd_device_private → migrate_to_ram, whose finalize replaces both
 * PMD migration entries), then splits the writer's PMD (do_huge_pmd_wp_page: the THP is shared)
 * and copies 4 KiB pages; the other process keeps the pre-fork data. Newest, thp always, deviceThp.
 */

type Ev = { kind: string } & Record<string, unknown>;

describe("fork of a device-private PMD (copy_huge_non_present_pmd)", () => {
  it("one folio_get, the child's device-private PMD leaf, one mapping per mm, read-only in both", () => {
    const w = pagemapWorld({ variant: "newest", thp: "always", deviceThp: true, platform: loadPlatform("workloads/platforms/xe-pcie4x8-iommu.yaml") });
    const vpn = WORLD_BASE / PAGE_SIZE;
    const run = <T>(body: ProcessBody<T>, ctx: "process" | "gpu" = "process"): T => {
      const p = w.engine.spawn("t", body, ctx);
      w.engine.run();
      expect(checkModelInvariants(w.p.state)).toEqual([]);
      return p.result as T;
    };
    run((function* () {
      yield* mapAnon(w, 2 * MB);
      yield* cpuAccess(w.k, w.mm, WORLD_BASE, "write");
    })());
    expect(run(populateMm(w.p, w.dev.dpagemap, WORLD_BASE, WORLD_BASE + 2 * MB, w.mm, 0), "gpu")).toBe(0);
    const leaf = w.k.state.mms.get(w.mm)!.ptes.pmd(vpn)!;
    expect(leaf.kind).toBe("device-private");
    const folio = leaf.folio;
    expect(w.k.state.folios.get(folio)!.order).toBe(9);
    const before = w.events.length;
    const child = run(fork(w.k, w.mm));
    const forkEvents = w.events.slice(before).map((e) => e.ev as unknown as Ev);
    expect(forkEvents.filter((e) => e.kind === "folio.get")).toEqual([{ kind: "folio.get", folio }]);
    expect(forkEvents.filter((e) => e.kind === "pmd.set")).toEqual([{ kind: "pmd.set", mm: child, vpn, pteKind: "device-private", folio }]);
    expect(forkEvents.filter((e) => e.kind === "pte.set" || e.kind === "pmd.split" || e.kind === "migrate_to_ram.begin")).toEqual([]);
    const f = w.k.state.folios.get(folio)!;
    expect([f.refcount, f.mapcount]).toEqual([2, 2]); // one reference and one mapping per mm
    expect(w.k.state.mms.get(child)!.ptes.pmd(vpn)).toMatchObject({ kind: "device-private", folio });
    // The model's write protection is the second mapping (pteWriteProtected), page by page.
    for (const index of [0, 511]) expect(pteWriteProtected(w.k, "anon-private", folio, index)).toBe(true);
  });
});

const BASE = 0x40000000;
type Writer = "cpu" | "gpu";
type Side = "parent" | "child";

/** The parent writes v1 into a THP, the GPU takes it to VRAM as one device THP, fork, one side writes page 0, both read. */
function scenario(writer: Writer, side: Side, platform = "xe-pcie4x8-iommu"): string {
  const proc = side === "parent" ? 0 : 1;
  const other = side === "parent" ? 1 : 0;
  return (
    `description: fork of a device THP\nseed: 1\nplatform: ${platform}\nmodel: { variant: newest, thp: always, deviceThp: true }\nmappings:\n  - { addr: ${BASE}, size: 2MiB }\nthreads:\n` +
    `  - name: parent\n    steps:\n      - { op: write, addr: ${BASE}, pages: 512 }\n      - { op: fork, at: 2ms }\n` +
    `  - name: gpu0\n    ctx: gpu\n    steps:\n      - { op: populate, start: ${BASE}, end: ${BASE + 0x200000}, at: 1ms }\n` +
    `  - name: writer\n${writer === "gpu" ? "    ctx: gpu\n" : ""}    process: ${proc}\n    steps:\n      - { op: write, addr: ${BASE}, at: 3ms }\n` +
    `  - name: other\n    process: ${other}\n    steps:\n      - { op: read, addr: ${BASE}, pages: 512, at: 20ms }\n` +
    `  - name: self\n    process: ${proc}\n    steps:\n      - { op: read, addr: ${BASE}, at: 21ms }\n`
  );
}

interface Seen extends Ev {
  thread: string;
}

function runScenario(writer: Writer, side: Side) {
  const names = new Map<number, string>();
  const memory = new Map<number, string>();
  const order = new Map<number, number>();
  const seen: Seen[] = [];
  const { report } = runWorkload(parseWorkload(scenario(writer, side), "workloads/inline.yaml"), undefined, {
    onLog: (log) =>
      log.subscribe({
        onSpawn: (uid, name) => void names.set(uid, name),
        onModelEvent: (_s, _t, thread, _c, ev) => {
          const e = ev as unknown as Ev;
          if (e.kind === "folio.alloc") {
            memory.set(e.folio as number, e.memory as string);
            order.set(e.folio as number, e.order as number);
          }
          if (e.kind === "page.copy" && memory.get(e.srcFolio as number) === "system" && memory.get(e.dstFolio as number) === "system") {
            seen.push({ kind: "cow.copy", thread: names.get(thread) ?? "?", src: e.srcFolio, dst: e.dstFolio, dstOrder: order.get(e.dstFolio as number) });
          } else if (e.kind !== "page.copy" && e.kind !== "page.read" && e.kind !== "page.write") {
            seen.push({ ...e, thread: names.get(thread) ?? "?" });
          }
        },
      }),
  });
  return { report, seen, memory };
}

const cases: [Writer, Side][] = [];
for (const writer of ["cpu", "gpu"] as const) for (const side of ["parent", "child"] as const) cases.push([writer, side]);

describe("COW after fork of a device THP: a write in either process brings 2 MiB back for both, then copies", () => {
  it.each(cases)("%s writer in the %s: one 2 MiB migration back mapped in both mms, the writer's PMD split, 4 KiB copies; the other keeps v1", (writer, side) => {
    const { report, seen, memory } = runScenario(writer, side);
    const ret = (thread: string) => report.steps.find((s) => s.thread === thread)!.ret;
    expect(report.invariants).toEqual([]);
    expect(report.lostWrites).toEqual([]);
    expect([ret("writer"), ret("other"), ret("self")]).toEqual(["ok v2", "ok v1", "ok v2"]);

    const mm = side === "parent" ? 0 : 1;
    const otherMm = 1 - mm;
    const device = seen.find((e) => e.kind === "folio.alloc" && e.memory === "device")!;
    expect(device.order).toBe(9);
    const mine = seen.filter((e) => e.thread === "writer");
    if (writer === "gpu") expect(mine.find((e) => e.kind === "gpu_fault.begin")).toMatchObject({ mm, access: "write" });
    // do_huge_pmd_device_private: the write fault in the writer's mm locks the device folio and calls migrate_to_ram.
    const fault = mine.findIndex((e) => e.kind === "handle_mm_fault.begin" && e.mm === mm && e.access === "write");
    const back = mine.findIndex((e, i) => i > fault && e.kind === "migrate_to_ram.begin");
    expect(fault).toBeGreaterThanOrEqual(0);
    expect(mine.slice(fault, back).some((e) => e.kind === "folio.lock" && e.folio === device.folio)).toBe(true);
    const end = mine.findIndex((e, i) => i > back && e.kind === "migrate_to_ram.end");
    const migration = mine.slice(back, end);
    // One migration of 2 MiB: both mms' PMDs become migration entries, then one order-9 system
    // folio replaces both (remove_migration_pmd in each mm).
    const pmdSets = migration.filter((e) => e.kind === "pmd.set");
    expect(pmdSets.slice(0, 2).map((e) => [e.mm, e.pteKind])).toEqual([[mm, "migration"], [otherMm, "migration"]]);
    expect(pmdSets.slice(2).map((e) => [e.mm, e.pteKind]).sort()).toEqual([[0, "present"], [1, "present"]]);
    const thp = migration.find((e) => e.kind === "folio.alloc" && e.memory === "system")!;
    expect(thp.order).toBe(9);
    expect(pmdSets.filter((e) => e.pteKind === "present").every((e) => e.folio === thp.folio)).toBe(true);
    expect(migration.filter((e) => e.kind === "copy.submit").map((e) => e.bytes)).toEqual([2 * 1024 * 1024]);
    expect(migration.filter((e) => e.kind === "dma.map").length).toBe(1);
    expect(mine.filter((e) => e.kind === "migrate_to_ram.begin").length).toBe(1);
    expect(seen.filter((e) => e.kind === "migrate_to_ram.begin" && e.thread !== "writer" && e.thread !== "self")).toEqual([]); // nobody else brought it back
    // The device folio is freed once (folio_free), after its zdd reference goes.
    expect(seen.filter((e) => e.kind === "folio.free" && e.folio === device.folio).length).toBe(1);
    // do_huge_pmd_wp_page: the shared THP is not reused: the writer's PMD splits (no freeze), the other's stays.
    const after = mine.slice(end);
    const split = after.findIndex((e) => e.kind === "pmd.split");
    expect(after[split]).toMatchObject({ mm, freeze: false });
    expect(seen.filter((e) => e.kind === "pmd.split").length).toBe(1);
    // Then 4 KiB copies of the shared THP's pages: one for the CPU's page, every page of the
    // range for the GPU (hmm_range_fault faults the whole 2 MiB range for write).
    const copies = after.filter((e) => e.kind === "cow.copy");
    expect(copies.length).toBe(writer === "cpu" ? 1 : 512);
    expect(copies.every((c) => c.src === thp.folio && c.dstOrder === 0 && memory.get(c.dst as number) === "system")).toBe(true);
    expect(after.findIndex((e) => e.kind === "cow.copy")).toBeGreaterThan(split);
  });

  it("the recorded run (child CPU writer) verifies: replay reproduces the state, every read saw the last write it could", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "pagesim-dthp-fork-"));
    const file = join(tmp, "fork.yaml");
    writeFileSync(file, scenario("cpu", "child", resolve("workloads/platforms/xe-pcie4x8-iommu.yaml")));
    const { dir, manifest } = await recordRun({ file, workload: loadWorkload(file), outDir: join(tmp, "run"), sinks: ["arrow"] });
    expect(manifest.result.lostWrites).toEqual([]);
    const result = await verifyRun(dir);
    expect(result.divergence).toBeNull();
    expect(result.events).toBeGreaterThan(0);
  });
});

describe("a GPU read after fork of a device THP maps it read-only: a later GPU write faults and copies", () => {
  it("the child's GPU reads (one 2 MiB device entry bound read-only), then writes: a second fault, the 2 MiB back, the copies; the parent keeps v1", () => {
    const text =
      `description: fork of a device THP, GPU read then write\nseed: 1\nplatform: xe-pcie4x8-iommu\nmodel: { variant: newest, thp: always, deviceThp: true }\nmappings:\n  - { addr: ${BASE}, size: 2MiB }\nthreads:\n` +
      `  - name: parent\n    steps:\n      - { op: write, addr: ${BASE}, pages: 512 }\n      - { op: fork, at: 2ms }\n      - { op: read, addr: ${BASE}, at: 20ms }\n` +
      `  - name: gpu0\n    ctx: gpu\n    steps:\n      - { op: populate, start: ${BASE}, end: ${BASE + 0x200000}, at: 1ms }\n` +
      `  - name: writer\n    ctx: gpu\n    process: 1\n    steps:\n      - { op: read, addr: ${BASE}, at: 3ms }\n      - { op: write, addr: ${BASE}, at: 10ms }\n` +
      `  - name: self\n    process: 1\n    steps:\n      - { op: read, addr: ${BASE}, at: 21ms }\n`;
    const { report, events } = runLogged(parseWorkload(text, "workloads/inline.yaml"));
    const ret = (thread: string, step = 0) => report.steps.find((s) => s.thread === thread && s.step === step)!.ret;
    expect(report.lostWrites).toEqual([]);
    expect(report.invariants).toEqual([]);
    expect([ret("writer", 0), ret("writer", 1), ret("parent", 2), ret("self")]).toEqual(["ok v1", "ok v2", "ok v1", "ok v2"]);
    // The read faulted and bound the device THP (hmm_vma_handle_absent_pmd: one entry, HMM_PFN_WRITE clear); the write faulted again.
    expect(events.filter((e) => e.kind === "gpu_fault.begin").map((e) => e.access)).toEqual(["read", "write"]);
    const readFault = events.findIndex((e) => e.kind === "gpu_fault.begin" && e.access === "read");
    const writeFault = events.findIndex((e) => e.kind === "gpu_fault.begin" && e.access === "write");
    const readBind = events.slice(readFault, writeFault).find((e) => e.kind === "svm_range.bind")!;
    expect(readBind).toMatchObject({ memory: "device", writable: false });
    expect(new Set(readBind.folios as number[]).size).toBe(1);
    // No migration between the fork and the write fault: the read used the device THP in place.
    expect(events.slice(readFault, writeFault).filter((e) => e.kind === "migrate_to_ram.begin")).toEqual([]);
    expect(events.slice(writeFault).filter((e) => e.kind === "migrate_to_ram.begin").length).toBeGreaterThanOrEqual(1);
  });
});
