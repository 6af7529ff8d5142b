import { describe, it, expect } from "vitest";
import { Engine, sleep, type ProcessBody } from "../src/engine/index.ts";
import { applyKernelEvent, IllegalTransition } from "../src/kernel/apply.ts";
import { createKernelState, vmaIsAnonymous, vmaLookup, type KernelState } from "../src/kernel/state.ts";
import type { KernelEvent } from "../src/kernel/events.ts";
import { EventLog } from "../src/kernel/event-log.ts";
import { checkKernelInvariants } from "../src/check/kernel-invariants.ts";
import { errnoName, PAGE_SIZE } from "../src/kernel/constants.ts";

function stateAfter(events: KernelEvent[]): KernelState {
  const state = createKernelState();
  for (const ev of events) applyKernelEvent(state, ev);
  return state;
}

const MB = 1 << 20;
const setup: KernelEvent[] = [
  { kind: "mm.create", mm: 0 },
  { kind: "vma.insert", mm: 0, vma: 0, startAddr: 4 * MB, endAddr: 8 * MB, vmaKind: "anon-private", read: true, write: true, pgoff: (4 * MB) / PAGE_SIZE, file: -1, anonVma: -1 },
  { kind: "vma.insert", mm: 0, vma: 1, startAddr: 1 * MB, endAddr: 2 * MB, vmaKind: "file", read: true, write: false, pgoff: 0, file: 1, anonVma: -1 },
  { kind: "folio.alloc", folio: 0, order: 9, memory: "system", pagemap: -1, pfn: -1 },
  { kind: "pte.set", mm: 0, vpn: (4 * MB) / PAGE_SIZE, pteKind: "present", folio: 0, index: 0 },
  { kind: "pte.set", mm: 0, vpn: (4 * MB) / PAGE_SIZE + 1, pteKind: "present", folio: 0, index: 1 },
  { kind: "folio.get", folio: 0 },
];

describe("applyKernelEvent", () => {
  it("builds the mm from events: sorted VMAs, lookups, mappings and counts", () => {
    const state = stateAfter(setup);
    const mm = state.mms.get(0)!;
    expect(mm.vmas.map((v) => v.id)).toEqual([1, 0]);
    expect(vmaLookup(mm, 5 * MB)?.id).toBe(0);
    expect(vmaLookup(mm, 3 * MB)).toBeUndefined();
    expect(vmaLookup(mm, 8 * MB)).toBeUndefined(); // end is exclusive
    expect(vmaIsAnonymous(state.vmas.get(0)!)).toBe(true);
    expect(vmaIsAnonymous(state.vmas.get(1)!)).toBe(false);
    const folio = state.folios.get(0)!;
    expect([folio.refcount, folio.mapcount, folio.nrPages]).toEqual([2, 2, 512]);
    expect(state.allocatedPages).toEqual({ system: 512, device: 0 });
    expect(checkKernelInvariants(state)).toEqual([]);
  });

  it("carries data versions through writes and copies", () => {
    const state = stateAfter([
      ...setup,
      { kind: "page.write", mm: 0, vpn: 0, folio: 0, index: 1, version: 3 },
      { kind: "folio.alloc", folio: 1, order: 0, memory: "device", pagemap: 0, pfn: 0 },
      { kind: "page.copy", srcFolio: 0, srcIndex: 1, dstFolio: 1, dstIndex: 0 },
    ]);
    expect(state.folios.fields(1).versions).toEqual([3]);
  });

  it("refuses transitions the kernel cannot make", () => {
    const cases: [KernelEvent[], RegExp][] = [
      [[{ kind: "mm.create", mm: 5 }], /mm id 5 out of order/],
      [[...setup, { kind: "vma.insert", mm: 0, vma: 2, startAddr: 6 * MB, endAddr: 10 * MB, vmaKind: "anon-private", read: true, write: true, pgoff: 0, file: -1, anonVma: -1 }], /overlaps vma 0/],
      [[...setup, { kind: "vma.insert", mm: 0, vma: 2, startAddr: 100, endAddr: 8192, vmaKind: "anon-private", read: true, write: true, pgoff: 0, file: -1, anonVma: -1 }], /not a page-aligned range/],
      [[{ kind: "folio.alloc", folio: 0, order: 0, memory: "system", pagemap: -1, pfn: -1 }, { kind: "folio.put", folio: 0 }, { kind: "folio.put", folio: 0 }], /put with refcount 0/],
      [[{ kind: "folio.alloc", folio: 0, order: 0, memory: "system", pagemap: -1, pfn: -1 }, { kind: "folio.free", folio: 0 }], /freed with refcount 1/],
      [[{ kind: "folio.alloc", folio: 0, order: 0, memory: "system", pagemap: -1, pfn: -1 }, { kind: "folio.put", folio: 0 }, { kind: "folio.free", folio: 0 }, { kind: "folio.free", folio: 0 }], /used after free/],
      [[{ kind: "folio.alloc", folio: 0, order: 0, memory: "system", pagemap: -1, pfn: -1 }, { kind: "folio.lock", folio: 0, owner: 1 }, { kind: "folio.lock", folio: 0, owner: 2 }], /locked by 2 while held by 1/],
      [[...setup, { kind: "pte.set", mm: 0, vpn: (4 * MB) / PAGE_SIZE, pteKind: "present", folio: 0, index: 2 }], /set over a live present entry/],
      [[...setup, { kind: "page.write", mm: 0, vpn: 0, folio: 0, index: 512, version: 1 }], /outside its 512 pages/],
      [[{ kind: "mm.create", mm: 0 }, { kind: "mmput", mm: 0 }, { kind: "mmget", mm: 0 }], /no users left/],
      [[{ kind: "folio.alloc", folio: 0, order: 0, memory: "system", pagemap: -1, pfn: -1 }, { kind: "folio.set_zdd", folio: 0, zdd: 0 }], /on a system folio/],
    ];
    for (const [events, message] of cases) {
      expect(() => stateAfter(events), String(message)).toThrow(IllegalTransition);
      expect(() => stateAfter(events)).toThrow(message);
    }
  });
});

describe("migration sites (#16 item 2: the rmap of migration entries is applied from events, not kept beside the log)", () => {
  const vpn = (4 * MB) / PAGE_SIZE;
  const toMigration: KernelEvent[] = [
    { kind: "pte.clear", mm: 0, vpn },
    { kind: "pte.set", mm: 0, vpn, pteKind: "migration", folio: 0, index: 0 },
  ];

  it("a migration entry records its site; replacing or clearing it drops the site", () => {
    const state = stateAfter([...setup, ...toMigration]);
    expect(state.migrationSites.get(0)).toEqual([{ mm: 0, vpn }]);
    expect(checkKernelInvariants(state)).toEqual([]);
    applyKernelEvent(state, { kind: "pte.set", mm: 0, vpn, pteKind: "present", folio: 0, index: 0 }); // remove_migration_ptes
    expect(state.migrationSites.has(0)).toBe(false);
    const cleared = stateAfter([...setup, ...toMigration, { kind: "pte.clear", mm: 0, vpn }]);
    expect(cleared.migrationSites.size).toBe(0);
    expect(checkKernelInvariants(cleared)).toEqual([]);
  });

  it("the invariants name a site whose entry is gone, and an entry with no site", () => {
    const state = stateAfter([...setup, ...toMigration]);
    state.migrationSites.get(0)!.push({ mm: 0, vpn: vpn + 7 });
    expect(checkKernelInvariants(state)).toEqual(expect.arrayContaining([`folio 0: a migration site at mm 0 vpn ${vpn + 7} holds no migration entry for it`, "1 migration entries, 2 migration sites recorded"]));
    state.migrationSites.clear();
    expect(checkKernelInvariants(state)).toContain("1 migration entries, 0 migration sites recorded");
  });
});

describe("kernel invariants", () => {
  it("report a leaked folio, a stale mapping count and an entry outside every VMA", () => {
    const state = stateAfter(setup);
    state.folios.setMapcount(0, 5); // corrupt the state behind apply's back, as a model bug would
    state.mms.get(0)!.ptes.set(1, "present", 0, 3);
    const problems = checkKernelInvariants(state);
    expect(problems).toContain("mm 0 vpn 1: entry outside every VMA");
    expect(problems).toContain("folio 0: mapcount 5, but 3 entries map it");
    expect(problems).toContain("folio 0: refcount 2 below mappings 5 + pins 0");
    expect(problems).toContain("folio 0: the rmap holds 2 mappings, mapcount is 5");

    const stale = stateAfter(setup);
    stale.folios.removeMapping(0, 0, (4 * MB) / PAGE_SIZE);
    stale.folios.addMapping(0, 0, 3);
    expect(checkKernelInvariants(stale)).toContain("folio 0: the rmap names mm 0 vpn 3, which does not map it");

    const leaked = stateAfter([{ kind: "folio.alloc", folio: 0, order: 0, memory: "system", pagemap: -1, pfn: -1 }, { kind: "folio.put", folio: 0 }]);
    expect(checkKernelInvariants(leaked)).toEqual(["folio 0: refcount 0 but not freed (leaked)"]);
  });
});

describe("EventLog", () => {
  it("applies each committed event and reports it with seq, time, thread and context", () => {
    const engine = new Engine();
    const log = new EventLog(engine, createKernelState(), applyKernelEvent);
    const seen: string[] = [];
    log.subscribe({ onModelEvent: (seq, tNs, thread, ctx, ev) => seen.push(`${seq} ${tNs} ${thread} ${ctx} ${ev.kind}`) });
    log.commit({ kind: "mm.create", mm: 0 });
    engine.spawn("irq", (function* (): ProcessBody {
      log.commit({ kind: "folio.alloc", folio: 0, order: 0, memory: "system", pagemap: -1, pfn: -1 });
    })(), "irq");
    engine.spawn("cpu", (function* (): ProcessBody {
      yield sleep(7);
      log.commit({ kind: "mmget", mm: 0 });
    })());
    engine.run();
    expect(seen).toEqual(["0 0 -1 process mm.create", "1 0 0 irq folio.alloc", "2 7 1 process mmget"]);
    expect(log.state.mms.get(0)!.users).toBe(2);
    expect(log.length).toBe(3);
  });

  it("names errno return values as the kernel does", () => {
    expect(errnoName(0)).toBe("0");
    expect(errnoName(-16)).toBe("-EBUSY");
    expect(errnoName(-14)).toBe("-EFAULT");
    expect(errnoName(-999)).toBe("-999");
  });
});
