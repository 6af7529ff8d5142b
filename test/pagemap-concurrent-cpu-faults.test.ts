import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";

/**
 * a.1 #24: two CPU threads faulting one 2 MiB device allocation back at (nearly) the same time,
 * each interleaving driven by when the second thread faults, and the path each thread took read
 * from the event log. With a platform, the first thread's migrate_to_ram spends the GPU's MMU
 * notifier invalidation (mmu_notifier_invalidate_range_start, before migrate_vma_collect's walk)
 * between locking its own page in do_swap_page and installing migration entries: the window in
 * which a second thread can lock its page first.
 */

// The platform profile resolves relative to the workload file, so name the file inside workloads/.
const file = join("workloads", "concurrent-cpu-faults-test.yaml");
const BASE = 0x40000000;
const PAGE = 4096;
const PAGES = 512;

/** The CPU fills 2 MiB, the GPU moves it to VRAM and writes it; then cpuA and cpuB read it back. */
const workload = (addrB: number, bAfterUs: number) =>
  [
    "description: two CPU threads fault one device allocation back",
    "platform: xe-pcie4x8-iommu",
    "mappings:",
    `  - { addr: ${BASE}, size: 2MiB }`,
    "threads:",
    "  - name: init",
    "    steps:",
    `      - { op: write, addr: ${BASE}, pages: ${PAGES} }`,
    "  - name: gpu0",
    "    ctx: gpu",
    "    steps:",
    `      - { op: read, addr: ${BASE}, at: 1ms }`,
    `      - { op: write, addr: ${BASE}, pages: ${PAGES} }`,
    `  - { name: cpuA, steps: [{ op: read, addr: ${BASE}, at: 3ms }] }`,
    `  - { name: cpuB, steps: [{ op: read, addr: ${addrB}, at: ${3000 + bAfterUs}us }] }`,
    "",
  ].join("\n");

interface ThreadPath {
  /** handle_mm_fault.begin times, and their places in the log. */
  faultsAtNs: number[];
  faultSeqs: number[];
  /** migrate_to_ram calls: when each began and what it returned. */
  migrateToRam: { beginNs: number; ret: number }[];
  /** Pages this thread's migrate_vma_collect unmapped to migration entries (its cpages). */
  migrationEntriesSet: number;
  /** Folio lock wait queues this thread slept on inside a fault (migration_entry_wait). */
  waitedOn: string[];
  /** Faults that returned without migrate_to_ram and without sleeping (a trylock that failed). */
  bouncedFaults: number;
  firstCollectNs: number;
  firstCollectSeq: number;
  /** When this thread's migrate_vma_finalize first mapped a system page (its pages unlock there). */
  firstRestoreNs: number;
}

/** Runs the workload and reads, per thread, the path its faults took from the event log. */
function runPaths(text: string) {
  const names = new Map<number, string>();
  const paths = new Map<string, ThreadPath>();
  const path = (uid: number): ThreadPath => {
    const name = names.get(uid) ?? String(uid);
    let p = paths.get(name);
    if (p === undefined) paths.set(name, (p = { faultsAtNs: [], faultSeqs: [], migrateToRam: [], migrationEntriesSet: 0, waitedOn: [], bouncedFaults: 0, firstCollectNs: -1, firstCollectSeq: -1, firstRestoreNs: -1 }));
    return p;
  };
  const inFault = new Map<number, { migrated: boolean; slept: boolean }>();
  const blockedOn: { p: ThreadPath; objectId: number }[] = []; // names resolved after the run
  const deviceFolio = new Map<number, number>(); // vpn → the device folio last mapped there
  const { report, world } = runWorkload(parseWorkload(text, file), undefined, {
    onLog: (log) =>
      log.subscribe({
        onSpawn: (uid, name) => names.set(uid, name),
        onEngineEvent: (_seq, kind, _tNs, uid, objectId) => {
          const f = inFault.get(uid);
          if (kind !== "proc.block" || f === undefined) return;
          f.slept = true;
          blockedOn.push({ p: path(uid), objectId });
        },
        onModelEvent: (seq, tNs, uid, _ctx, e) => {
          const ev = e as { kind: string; ret?: number; pteKind?: string; vpn?: number; folio?: number };
          if (ev.kind === "pte.set" && ev.pteKind === "device-private") deviceFolio.set(ev.vpn!, ev.folio!);
          const p = path(uid);
          if (ev.kind === "handle_mm_fault.begin") {
            p.faultsAtNs.push(tNs);
            p.faultSeqs.push(seq);
            inFault.set(uid, { migrated: false, slept: false });
          } else if (ev.kind === "handle_mm_fault.end") {
            const f = inFault.get(uid)!;
            if (!f.migrated && !f.slept) p.bouncedFaults++;
            inFault.delete(uid);
          } else if (ev.kind === "migrate_to_ram.begin") {
            inFault.get(uid)!.migrated = true;
            p.migrateToRam.push({ beginNs: tNs, ret: NaN });
          } else if (ev.kind === "migrate_to_ram.end") p.migrateToRam.at(-1)!.ret = ev.ret!;
          else if (ev.kind === "pte.set" && ev.pteKind === "migration" && inFault.has(uid)) {
            if (p.firstCollectNs < 0) [p.firstCollectNs, p.firstCollectSeq] = [tNs, seq];
            p.migrationEntriesSet++;
          } else if (ev.kind === "pte.set" && ev.pteKind === "present" && inFault.has(uid) && p.firstRestoreNs < 0) p.firstRestoreNs = tNs;
        },
      }),
  });
  for (const { p, objectId } of blockedOn) p.waitedOn.push(world.engine.objectName(objectId));
  const step = (t: string) => report.steps.find((s) => s.thread === t)!;
  /** The name of the lock wait queue of the device page that was mapped at `addr`. */
  const pageLockQueue = (addr: number) => `waitqueue:folio:${deviceFolio.get(addr / PAGE)}`;
  return { report, pageLockQueue, a: paths.get("cpuA")!, b: paths.get("cpuB")!, stepA: step("cpuA"), stepB: step("cpuB") };
}

function expectSound(r: ReturnType<typeof runPaths>): void {
  expect(r.stepA.ret).toBe("ok v2");
  expect(r.stepB.ret).toBe("ok v2");
  expect(r.report.pageCounts).toEqual({ system: PAGES });
  expect(r.report.lostWrites).toEqual([]);
  expect(r.report.invariants).toEqual([]);
}

describe("#24: concurrent CPU faults on one device allocation, each interleaving driven", () => {
  it("B faults after A has installed its migration entries: B sees a migration entry and sleeps in migration_entry_wait; its access then completes on the system page", () => {
    const r = runPaths(workload(BASE + 64 * PAGE, 20));
    // The interleaving: A collected (and unmapped) before B's fault, and was still migrating.
    expect(r.a.firstCollectNs).toBeGreaterThan(0);
    expect(r.b.faultSeqs[0]).toBeGreaterThan(r.a.firstCollectSeq);
    expect(r.b.faultsAtNs[0]).toBeLessThan(r.stepA.endNs);
    // A migrated the whole allocation, B's page included.
    expect(r.a.migrateToRam.map((m) => m.ret)).toEqual([0]);
    expect(r.a.migrationEntriesSet).toBe(PAGES);
    // B never entered migrate_to_ram: it slept on its page's lock in the fault, then faulted again.
    expect(r.b.migrateToRam).toEqual([]);
    expect(r.b.migrationEntriesSet).toBe(0);
    expect(r.b.waitedOn).toEqual([r.pageLockQueue(BASE + 64 * PAGE)]);
    expect(r.b.faultsAtNs).toHaveLength(1); // the access after the wait finds the page present
    expect(r.stepB.faults).toBe(1);
    expect(r.stepB.endNs).toBeGreaterThanOrEqual(r.a.firstRestoreNs); // woken once A's finalize unlocked it
    expectSound(r);
  });

  it("B locks its page before A's collection (the same instant): A's collection skips it and B migrates it itself (cpages 1, not 0)", () => {
    const r = runPaths(workload(BASE + 64 * PAGE, 0));
    // The interleaving: B's fault (do_swap_page's trylock) came before A installed any entry.
    expect(r.b.faultSeqs[0]).toBeLessThan(r.a.firstCollectSeq);
    expect(r.a.migrateToRam[0]!.beginNs).toBeLessThanOrEqual(r.b.faultsAtNs[0]!);
    // Both migrated: A every page but B's (its trylock of B's locked page failed), B its own page.
    expect(r.a.migrateToRam.map((m) => m.ret)).toEqual([0]);
    expect(r.b.migrateToRam.map((m) => m.ret)).toEqual([0]);
    expect(r.a.migrationEntriesSet).toBe(PAGES - 1);
    expect(r.b.migrationEntriesSet).toBe(1);
    // Neither slept nor re-faulted.
    expect(r.a.waitedOn).toEqual([]);
    expect(r.b.waitedOn).toEqual([]);
    expect([r.stepA.faults, r.stepB.faults]).toEqual([1, 1]);
    expectSound(r);
  });

  it("B faults on A's own page just after A: do_swap_page's trylock fails, B re-faults until A's migration entry appears, then waits", () => {
    const r = runPaths(workload(BASE, 0));
    expect(r.b.migrateToRam).toEqual([]);
    expect(r.a.migrationEntriesSet).toBe(PAGES);
    // Faults turned away at the trylock while A was in its MMU notifier, then one that slept.
    expect(r.b.bouncedFaults).toBeGreaterThan(0);
    expect(r.b.waitedOn).toEqual([r.pageLockQueue(BASE)]);
    expect(r.b.faultsAtNs).toHaveLength(r.b.bouncedFaults + 1);
    expect(r.b.faultSeqs.at(-1)).toBeGreaterThan(r.a.firstCollectSeq);
    expectSound(r);
  });
});
