import { describe, it, expect } from "vitest";
import { Engine, sleep, type ProcessBody } from "../src/engine/index.ts";
import { applyKernelEvent } from "../src/kernel/apply.ts";
import { createKernelState } from "../src/kernel/state.ts";
import { EventLog } from "../src/kernel/event-log.ts";
import { Kernel, VM_FAULT_SIGBUS, type DevPagemapOps } from "../src/kernel/kernel.ts";
import { folioAlloc, folioGet, folioOf, folioPut, folioTrylock, folioUnlock } from "../src/kernel/folio.ts";
import { mmap, mmCreate, munmap, zapPteRange } from "../src/kernel/mm.ts";
import { cpuAccess } from "../src/kernel/fault.ts";
import { checkKernelInvariants } from "../src/check/kernel-invariants.ts";
import { Errno, PAGE_SIZE } from "../src/kernel/constants.ts";
import type { MemoryKind, VmaKind } from "../src/kernel/state.ts";
import {
  MIGRATE_VMA_SELECT_COMPOUND as COMPOUND,
  MIGRATE_VMA_SELECT_DEVICE_PRIVATE as DEVICE,
  MIGRATE_VMA_SELECT_SYSTEM as SYSTEM,
  migrateDeviceFinalize,
  migrateDevicePages,
  migrateDevicePfns,
  migrateVmaFinalize,
  migrateVmaPages,
  migrateVmaSetup,
  newMigrateVma,
  type MigrateDst,
  type MigrateSrc,
  type MigrateVma,
} from "../src/kernel/migrate.ts";

const MB = 1 << 20;
const BASE = 16 * MB; // 2 MiB aligned
const addr = (page: number): number => BASE + page * PAGE_SIZE;
const vpn = (page: number): number => addr(page) / PAGE_SIZE;

interface World { engine: Engine; k: Kernel; mm: number; pagemap: number; freed: number[] }
let nextPfn = 0;

function world(): World {
  const engine = new Engine();
  const k = new Kernel(engine, new EventLog(engine, createKernelState(), applyKernelEvent));
  const freed: number[] = [];
  return { engine, k, mm: mmCreate(k), pagemap: k.registerPagemap(driver(k, freed)), freed };
}

/** A driver whose migrate_to_ram brings the faulting page home with migrate_vma and the fault page. */
function driver(k: Kernel, freed: number[]): DevPagemapOps {
  return {
    *pageFree(folio: number): ProcessBody<void> {
      freed.push(folio);
    },
    *migrateToRam(fault): ProcessBody<number> {
      const start = fault.addr - (fault.addr % PAGE_SIZE);
      const owner = k.pagemapOwner(folioOf(k, fault.folio).pagemap);
      const m = newMigrateVma(fault.mm, fault.vma, start, start + PAGE_SIZE, DEVICE, owner, fault.folio);
      if ((yield* migrateVmaSetup(k, m)) !== 0) return VM_FAULT_SIGBUS;
      copyToNew(k, m.src, m.dst, "system");
      yield* migrateVmaPages(k, m);
      yield* migrateVmaFinalize(k, m);
      return 0;
    },
  };
}

/** The driver's part between setup and pages: a locked destination per migrating entry, data copied. */
function copyToNew(k: Kernel, src: MigrateSrc[], dst: MigrateDst[], memory: MemoryKind, pagemap = 0): number[] {
  return src.flatMap((s, i) => {
    if (!s.migrate) return [];
    const folio = folioAlloc(k, 0, memory, memory === "device" ? pagemap : -1, memory === "device" ? nextPfn++ : -1)!;
    expect(folioTrylock(k, folio)).toBe(true);
    if (s.folio !== -1) k.commit({ kind: "page.copy", srcFolio: s.folio, srcIndex: s.index, dstFolio: folio, dstIndex: 0 });
    dst[i] = { folio, index: 0 };
    return [folio];
  });
}

function run<T>(engine: Engine, body: ProcessBody<T>): T {
  const p = engine.spawn("cpu0", body);
  engine.run();
  expect(p.exited).toBe(true);
  return p.result as T;
}

function* mapAnon(k: Kernel, mm: number, pages: number, kind: VmaKind = "anon-private", at = BASE): ProcessBody<number> {
  expect(yield* mmap(k, mm, { addr: at, lengthBytes: pages * PAGE_SIZE, kind, read: true, write: true })).toBe(0);
  return k.state.mms.get(mm)!.vmas.find((v) => v.startAddr === at)!.id;
}

/** A page mapped at `page` holding data `version`: a system page, or a device page behind a device-private entry. */
function backed(k: Kernel, mm: number, page: number, version: number, memory: MemoryKind = "system", pagemap = 0): number {
  const folio = folioAlloc(k, 0, memory, memory === "device" ? pagemap : -1, memory === "device" ? nextPfn++ : -1)!;
  k.commit({ kind: "page.write", mm, vpn: vpn(page), folio, index: 0, version });
  k.commit({ kind: "pte.set", mm, vpn: vpn(page), pteKind: memory === "system" ? "present" : "device-private", folio, index: 0 });
  return folio;
}

/** An order-9 system folio mapped at BASE by 512 entries, page i holding version i + 1 (one reference per entry). */
/** A THP at page 0: PMD-mapped (one leaf, one reference) when all 512 pages are, else by `mapped` PTEs. */
function thp(k: Kernel, mm: number, mapped = 512): number {
  const folio = folioAlloc(k, 9, "system")!;
  if (mapped === 512) {
    for (let i = 0; i < mapped; i++) k.commit({ kind: "page.write", mm, vpn: vpn(i), folio, index: i, version: i + 1 });
    k.commit({ kind: "pmd.set", mm, vpn: vpn(0), pteKind: "present", folio });
    return folio;
  }
  for (let i = 0; i < mapped; i++) {
    if (i > 0) folioGet(k, folio);
    k.commit({ kind: "page.write", mm, vpn: vpn(i), folio, index: i, version: i + 1 });
    k.commit({ kind: "pte.set", mm, vpn: vpn(i), pteKind: "present", folio, index: i });
  }
  return folio;
}

const pte = (k: Kernel, mm: number, page: number) => k.state.mms.get(mm)!.ptes.get(vpn(page));
const counts = (k: Kernel, folio: number) => {
  const f = folioOf(k, folio);
  return { ref: f.refcount, map: f.mapcount, locked: f.lockOwner !== -1 };
};
const sound = (k: Kernel) => expect(checkKernelInvariants(k.state)).toEqual([]);
const srcs = (m: MigrateVma) => m.src.slice(0, m.npages).map((s) => (s.migrate ? (s.folio === -1 ? "hole" : "page") : "-"));

describe("migrate_vma_setup: what is collected", () => {
  it("SELECT_SYSTEM takes present pages and holes: each page locked, held once, behind a migration entry; finalize without destinations puts them back", () => {
    const { engine, k, mm } = world();
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 4);
      const [a, b] = [backed(k, mm, 0, 5), backed(k, mm, 1, 6)];
      const m = newMigrateVma(mm, vma, addr(0), addr(4), SYSTEM, 0);
      expect(yield* migrateVmaSetup(k, m)).toBe(0);
      expect([m.cpages, m.npages, srcs(m)]).toEqual([4, 4, ["page", "page", "hole", "hole"]]);
      expect(pte(k, mm, 0)).toEqual({ kind: "migration", folio: a, index: 0 });
      expect([counts(k, a), counts(k, b)]).toEqual([{ ref: 1, map: 0, locked: true }, { ref: 1, map: 0, locked: true }]);
      sound(k);
      yield* migrateVmaPages(k, m); // the driver gave no destination: nothing migrates
      expect(srcs(m)).toEqual(["-", "-", "-", "-"]);
      yield* migrateVmaFinalize(k, m);
      expect([pte(k, mm, 1), pte(k, mm, 2)]).toEqual([{ kind: "present", folio: b, index: 0 }, undefined]);
      expect([counts(k, a), counts(k, b)]).toEqual([{ ref: 1, map: 1, locked: false }, { ref: 1, map: 1, locked: false }]);
    })());
    sound(k);
  });

  it("without SELECT_SYSTEM present pages stay mapped, yet holes of an anonymous VMA are still collected; a file VMA's holes never are", () => {
    const { engine, k, mm } = world();
    run(engine, (function* (): ProcessBody {
      const anon = yield* mapAnon(k, mm, 2);
      const file = yield* mapAnon(k, mm, 2, "file", addr(8));
      backed(k, mm, 0, 1);
      const m = newMigrateVma(mm, anon, addr(0), addr(2), DEVICE, 0);
      expect(yield* migrateVmaSetup(k, m)).toBe(0);
      expect(srcs(m)).toEqual(["-", "hole"]);
      expect(pte(k, mm, 0)?.kind).toBe("present");
      const f = newMigrateVma(mm, file, addr(8), addr(10), SYSTEM | DEVICE, 0);
      expect(yield* migrateVmaSetup(k, f)).toBe(0);
      expect([f.cpages, srcs(f)]).toEqual([0, ["-", "-"]]);
      yield* migrateVmaFinalize(k, m);
    })());
    sound(k);
  });

  it("device-private entries need SELECT_DEVICE_PRIVATE and the owner of their pagemap", () => {
    const { engine, k, mm, pagemap } = world();
    const other = k.registerPagemap(driver(k, []), 77);
    expect([k.pagemapOwner(pagemap), k.pagemapOwner(other)]).toEqual([pagemap, 77]);
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 2);
      const mine = backed(k, mm, 0, 1, "device", pagemap);
      backed(k, mm, 1, 2, "device", other);
      const sys = newMigrateVma(mm, vma, addr(0), addr(2), SYSTEM, pagemap);
      expect(yield* migrateVmaSetup(k, sys)).toBe(0);
      expect(srcs(sys)).toEqual(["-", "-"]);
      const m = newMigrateVma(mm, vma, addr(0), addr(2), DEVICE, pagemap);
      expect(yield* migrateVmaSetup(k, m)).toBe(0);
      expect([m.cpages, srcs(m), m.src[0]!.folio]).toEqual([1, ["page", "-"], mine]);
      expect(pte(k, mm, 1)?.kind).toBe("device-private");
      yield* migrateVmaFinalize(k, m);
      expect(pte(k, mm, 0)).toEqual({ kind: "device-private", folio: mine, index: 0 });
    })());
    sound(k);
  });

  it("skips a page locked elsewhere, a pinned page and a page already under migration, leaving each as it was", () => {
    const { engine, k, mm } = world();
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 4);
      const [locked, pinned, busy] = [backed(k, mm, 0, 1), backed(k, mm, 1, 2), backed(k, mm, 2, 3), backed(k, mm, 3, 4)];
      expect(folioTrylock(k, locked)).toBe(true);
      k.commit({ kind: "folio.pin", folio: pinned });
      const first = newMigrateVma(mm, vma, addr(2), addr(3), SYSTEM, 0);
      yield* migrateVmaSetup(k, first);
      const m = newMigrateVma(mm, vma, addr(0), addr(4), SYSTEM, 0);
      expect(yield* migrateVmaSetup(k, m)).toBe(0);
      expect([m.cpages, srcs(m)]).toEqual([1, ["-", "-", "-", "page"]]);
      expect([counts(k, locked), counts(k, pinned)]).toEqual([{ ref: 1, map: 1, locked: true }, { ref: 2, map: 1, locked: false }]);
      expect(pte(k, mm, 2)).toEqual({ kind: "migration", folio: busy, index: 0 });
      yield* migrateVmaFinalize(k, m);
      yield* migrateVmaFinalize(k, first);
      folioUnlock(k, locked);
    })());
    sound(k);
  });

  it("a pinned page in a shared mapping gets through collection, then migrate_vma_check_page restores it", () => {
    const { engine, k, mm } = world();
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 1, "anon-shared");
      const page = backed(k, mm, 0, 1);
      k.commit({ kind: "folio.pin", folio: page });
      const m = newMigrateVma(mm, vma, addr(0), addr(1), SYSTEM, 0);
      expect(yield* migrateVmaSetup(k, m)).toBe(0);
      expect([m.cpages, srcs(m), m.src[0]!.folio]).toEqual([0, ["-"], -1]);
      expect([pte(k, mm, 0)?.kind, counts(k, page)]).toEqual(["present", { ref: 2, map: 1, locked: false }]);
    })());
    sound(k);
  });

  it("refuses a missing VMA, an empty range, a range outside the VMA, and a fault page that is not a locked device page; rounds an unaligned range down", () => {
    const { engine, k, mm, pagemap } = world();
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 4);
      const dev = backed(k, mm, 0, 1, "device", pagemap);
      const sys = backed(k, mm, 1, 1);
      const setup = (start: number, end: number, fault = -1, v = vma) => migrateVmaSetup(k, newMigrateVma(mm, v, start, end, DEVICE, pagemap, fault));
      expect(yield* setup(addr(0), addr(1), -1, 99)).toBe(-Errno.EINVAL);
      expect(yield* setup(addr(1), addr(1) + 100)).toBe(-Errno.EINVAL);
      expect(yield* setup(addr(3), addr(5))).toBe(-Errno.EINVAL);
      expect(yield* setup(addr(0), addr(1), dev)).toBe(-Errno.EINVAL); // not locked
      expect(folioTrylock(k, sys)).toBe(true);
      expect(yield* setup(addr(0), addr(1), sys)).toBe(-Errno.EINVAL); // not a device page
      folioUnlock(k, sys);
      const m = newMigrateVma(mm, vma, addr(2) + 100, addr(3) + 100, SYSTEM, 0);
      expect(yield* migrateVmaSetup(k, m)).toBe(0);
      expect([m.start, m.end, m.npages]).toEqual([addr(2), addr(3), 1]);
      yield* migrateVmaFinalize(k, m);
    })());
    sound(k);
  });
});

describe("THP", () => {
  it("a PMD-mapped THP is split by any walk over it, even one selecting only device pages; its 512 pages are then collected one by one, data intact", () => {
    const { engine, k, mm } = world();
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 512);
      const head = thp(k, mm);
      const deviceOnly = newMigrateVma(mm, vma, addr(0), addr(1), DEVICE, 0);
      expect(yield* migrateVmaSetup(k, deviceOnly)).toBe(0);
      expect([deviceOnly.cpages, folioOf(k, head).order, counts(k, head)]).toEqual([0, 0, { ref: 1, map: 1, locked: false }]);
      const m = newMigrateVma(mm, vma, addr(0), addr(512), SYSTEM, 0);
      expect(yield* migrateVmaSetup(k, m)).toBe(0);
      expect(m.cpages).toBe(512);
      const pages = m.src.map((s) => s.folio);
      expect(new Set(pages).size).toBe(512);
      expect(pages[0]).toBe(head);
      expect(pages.every((f) => folioOf(k, f).order === 0 && counts(k, f).ref === 1 && counts(k, f).locked)).toBe(true);
      expect(k.state.allocatedPages.system).toBe(512);
      sound(k);
      yield* migrateVmaFinalize(k, m);
      expect(pages.every((f, i) => pte(k, mm, i)?.folio === f && folioOf(k, f).version(0) === i + 1)).toBe(true);
    })());
    sound(k);
  });

  it("a THP mapped by PTEs only in part is not split and none of its pages is collected", () => {
    const { engine, k, mm } = world();
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 512);
      const folio = thp(k, mm, 256);
      const m = newMigrateVma(mm, vma, addr(0), addr(256), SYSTEM, 0);
      expect(yield* migrateVmaSetup(k, m)).toBe(0);
      expect([m.cpages, folioOf(k, folio).order, counts(k, folio)]).toEqual([0, 9, { ref: 256, map: 256, locked: false }]);
    })());
    sound(k);
  });

  it("a THP that cannot be locked, or cannot split because it is pinned, is skipped whole (the lock path keeps a reference, as the seed kernel does)", () => {
    const { engine, k, mm } = world();
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 512);
      const folio = thp(k, mm);
      expect(folioTrylock(k, folio)).toBe(true);
      const m = newMigrateVma(mm, vma, addr(0), addr(4), SYSTEM, 0);
      expect(yield* migrateVmaSetup(k, m)).toBe(0);
      expect([m.cpages, m.npages, counts(k, folio)]).toEqual([0, 4, { ref: 2, map: 1, locked: true }]);
      folioUnlock(k, folio);
      yield* folioPut(k, folio); // give back the leaked reference
      k.commit({ kind: "folio.pin", folio });
      const pinned = newMigrateVma(mm, vma, addr(0), addr(4), SYSTEM, 0);
      expect(yield* migrateVmaSetup(k, pinned)).toBe(0);
      expect([pinned.cpages, folioOf(k, folio).order, counts(k, folio)]).toEqual([0, 9, { ref: 2, map: 1, locked: false }]);
      expect(() => k.commit({ kind: "folio.split", folio, firstNew: k.state.nextFolioId })).toThrow(/split while not locked/);
      expect(folioTrylock(k, folio)).toBe(true);
      expect(() => k.commit({ kind: "folio.split", folio, firstNew: k.state.nextFolioId })).toThrow(/split with refcount 2, mapcount 1, pins 1/);
      folioUnlock(k, folio);
    })());
    sound(k);
  });
});

describe("migrate_vma_pages and migrate_vma_finalize", () => {
  it("system to device and back: counts after every phase, and the data survives both trips", () => {
    const { engine, k, mm, pagemap, freed } = world();
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 2);
      const src = [backed(k, mm, 0, 5), backed(k, mm, 1, 6)];
      const m = newMigrateVma(mm, vma, addr(0), addr(2), SYSTEM, pagemap);
      yield* migrateVmaSetup(k, m);
      expect(src.map((f) => counts(k, f))).toEqual([{ ref: 1, map: 0, locked: true }, { ref: 1, map: 0, locked: true }]);
      const dst = copyToNew(k, m.src, m.dst, "device", pagemap);
      yield* migrateVmaPages(k, m);
      expect(srcs(m)).toEqual(["page", "page"]);
      expect(dst.map((f) => counts(k, f))).toEqual([{ ref: 1, map: 0, locked: true }, { ref: 1, map: 0, locked: true }]);
      sound(k);
      yield* migrateVmaFinalize(k, m);
      expect(pte(k, mm, 0)).toEqual({ kind: "device-private", folio: dst[0], index: 0 });
      expect(dst.map((f) => [counts(k, f), folioOf(k, f).version(0)])).toEqual([[{ ref: 1, map: 1, locked: false }, 5], [{ ref: 1, map: 1, locked: false }, 6]]);
      expect(k.state.allocatedPages).toEqual({ system: 0, device: 2 });
      sound(k);
      const r = yield* cpuAccess(k, mm, addr(0), "read"); // migrate_to_ram, through migrate_vma with the fault page
      expect([r.outcome, r.version, r.faults, pte(k, mm, 0)?.kind]).toEqual(["ok", 5, 1, "present"]);
      expect(freed).toEqual([dst[0]]);
    })());
    expect(k.state.allocatedPages).toEqual({ system: 1, device: 1 });
    sound(k);
  });

  it("a hole's new page is mapped by migrate_vma_pages; where a CPU fault filled the hole first, the CPU's page stays and the new one is freed", () => {
    const { engine, k, mm, pagemap, freed } = world();
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 2);
      const m = newMigrateVma(mm, vma, addr(0), addr(2), SYSTEM, pagemap);
      yield* migrateVmaSetup(k, m);
      const dst = copyToNew(k, m.src, m.dst, "device", pagemap);
      yield* cpuAccess(k, mm, addr(0), "write");
      yield* migrateVmaPages(k, m);
      expect([srcs(m), pte(k, mm, 1)]).toEqual([["-", "hole"], { kind: "device-private", folio: dst[1], index: 0 }]);
      yield* migrateVmaFinalize(k, m);
      expect([pte(k, mm, 0)?.kind, freed, counts(k, dst[1]!)]).toEqual(["present", [dst[0]], { ref: 1, map: 1, locked: false }]);
    })());
    sound(k);
  });

  it("a reference taken between setup and pages makes folio_migrate_mapping refuse: the source comes back, the destination is freed", () => {
    const { engine, k, mm, pagemap, freed } = world();
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 1);
      const page = backed(k, mm, 0, 3);
      const m = newMigrateVma(mm, vma, addr(0), addr(1), SYSTEM, pagemap);
      yield* migrateVmaSetup(k, m);
      const [dst] = copyToNew(k, m.src, m.dst, "device", pagemap);
      folioGet(k, page); // say, a racing get_user_pages
      yield* migrateVmaPages(k, m);
      expect(srcs(m)).toEqual(["-"]);
      yield* migrateVmaFinalize(k, m);
      yield* folioPut(k, page);
      expect([pte(k, mm, 0), freed, counts(k, page)]).toEqual([{ kind: "present", folio: page, index: 0 }, [dst], { ref: 1, map: 1, locked: false }]);
    })());
    sound(k);
  });

  it("MADV_DONTNEED racing the migration: the zapped page's migration finds no entry to replace, and both of its pages are freed", () => {
    const { engine, k, mm, pagemap, freed } = world();
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 2);
      backed(k, mm, 0, 1);
      backed(k, mm, 1, 2);
      const m = newMigrateVma(mm, vma, addr(0), addr(2), SYSTEM, pagemap);
      yield* migrateVmaSetup(k, m);
      yield* zapPteRange(k, mm, addr(0), addr(1)); // madvise holds mmap_lock for read, like the migrator
      sound(k);
      const dst = copyToNew(k, m.src, m.dst, "device", pagemap);
      yield* migrateVmaPages(k, m);
      expect(srcs(m)).toEqual(["page", "page"]); // the kernel does not notice the zap
      yield* migrateVmaFinalize(k, m);
      expect([pte(k, mm, 0), pte(k, mm, 1)?.folio, freed]).toEqual([undefined, dst[1], [dst[0]]]);
      expect(k.state.allocatedPages).toEqual({ system: 0, device: 1 });
      expect((yield* cpuAccess(k, mm, addr(0), "read")).version).toBe(0); // a fresh zero-filled page
    })());
    sound(k);
  });

  it("a CPU access during the migration waits on the migration entry, then reads the migrated data", () => {
    const { engine, k, mm, pagemap } = world();
    let dev = -1;
    let vma = -1;
    run(engine, (function* (): ProcessBody {
      vma = yield* mapAnon(k, mm, 1);
      dev = backed(k, mm, 0, 9, "device", pagemap);
    })());
    let read: { version: number; faults: number; at: number } | undefined;
    engine.spawn("migrator", (function* (): ProcessBody {
      yield k.mmapLock(mm).downRead();
      const m = newMigrateVma(mm, vma, addr(0), addr(1), DEVICE, pagemap);
      yield* migrateVmaSetup(k, m);
      yield sleep(5000); // the copy engine at work
      copyToNew(k, m.src, m.dst, "system");
      yield* migrateVmaPages(k, m);
      yield* migrateVmaFinalize(k, m);
      k.mmapLock(mm).upRead();
    })());
    engine.spawn("cpu1", (function* (): ProcessBody {
      yield sleep(10);
      const r = yield* cpuAccess(k, mm, addr(0), "read");
      read = { version: r.version, faults: r.faults, at: engine.nowNs };
    })());
    engine.run();
    expect(read).toEqual({ version: 9, faults: 1, at: 5000 });
    expect(k.state.folios.has(dev), "a freed folio is forgotten").toBe(false);
    sound(k);
  });
});

describe("migrate_device_pfns / pages / finalize", () => {
  it("a device page mapped by two processes is unmapped from both, and both map the system page afterwards", () => {
    const { engine, k, mm, pagemap, freed } = world();
    const mm2 = mmCreate(k);
    run(engine, (function* (): ProcessBody {
      yield* mapAnon(k, mm, 1);
      yield* mapAnon(k, mm2, 1);
      const dev = backed(k, mm, 0, 4, "device", pagemap);
      folioGet(k, dev);
      k.commit({ kind: "pte.set", mm: mm2, vpn: vpn(0), pteKind: "device-private", folio: dev, index: 0 });
      const src: MigrateSrc[] = [{ folio: dev, index: 0, migrate: false, write: false }];
      const dst: MigrateDst[] = [{ folio: -1, index: 0 }];
      expect(yield* migrateDevicePfns(k, src)).toBe(0);
      expect([src[0]!.migrate, pte(k, mm, 0)?.kind, pte(k, mm2, 0)?.kind, counts(k, dev)]).toEqual([true, "migration", "migration", { ref: 1, map: 0, locked: true }]);
      const [sys] = copyToNew(k, src, dst, "system");
      yield* migrateDevicePages(k, src, dst);
      yield* migrateDeviceFinalize(k, src, dst);
      expect([pte(k, mm, 0), pte(k, mm2, 0)]).toEqual([{ kind: "present", folio: sys, index: 0 }, { kind: "present", folio: sys, index: 0 }]);
      expect([counts(k, sys!), folioOf(k, sys!).version(0), freed]).toEqual([{ ref: 2, map: 2, locked: false }, 4, [dev]]);
    })());
    sound(k);
  });

  it("skips a device page whose lock is taken and one that is already free", () => {
    const { engine, k, mm, pagemap, freed } = world();
    run(engine, (function* (): ProcessBody {
      yield* mapAnon(k, mm, 1);
      const busy = backed(k, mm, 0, 1, "device", pagemap);
      const gone = folioAlloc(k, 0, "device", pagemap, nextPfn++)!;
      yield* folioPut(k, gone);
      expect(folioTrylock(k, busy)).toBe(true);
      const src: MigrateSrc[] = [busy, gone].map((folio) => ({ folio, index: 0, migrate: false, write: false }));
      yield* migrateDevicePfns(k, src);
      expect(src.map((s) => [s.folio, s.migrate])).toEqual([[-1, false], [-1, false]]);
      yield* migrateDeviceFinalize(k, src, [{ folio: -1, index: 0 }, { folio: -1, index: 0 }]);
      folioUnlock(k, busy);
      expect([pte(k, mm, 0)?.kind, counts(k, busy), freed]).toEqual(["device-private", { ref: 1, map: 1, locked: false }, [gone]]);
    })());
    sound(k);
  });

  it("munmap during an eviction (which holds no mmap lock) takes the migration entries along; the new page and the device page are then freed", () => {
    const { engine, k, mm, pagemap, freed } = world();
    run(engine, (function* (): ProcessBody {
      yield* mapAnon(k, mm, 1);
      const dev = backed(k, mm, 0, 1, "device", pagemap);
      const src: MigrateSrc[] = [{ folio: dev, index: 0, migrate: false, write: false }];
      const dst: MigrateDst[] = [{ folio: -1, index: 0 }];
      yield* migrateDevicePfns(k, src);
      expect(yield* munmap(k, mm, BASE, PAGE_SIZE)).toBe(0);
      sound(k);
      copyToNew(k, src, dst, "system");
      yield* migrateDevicePages(k, src, dst);
      yield* migrateDeviceFinalize(k, src, dst);
      expect([freed, k.state.allocatedPages]).toEqual([[dev], { system: 0, device: 0 }]);
    })());
    sound(k);
  });
});

describe("a PMD leaf (__split_huge_pmd_locked's accounting)", () => {
  it("holds one reference and one mapping; a split without freeze gives 512 PTEs and 511 more references, with freeze 512 migration entries", () => {
    const { engine, k, mm } = world();
    run(engine, (function* (): ProcessBody {
      yield* mapAnon(k, mm, 512);
      const folio = thp(k, mm);
      expect([counts(k, folio), k.state.mms.get(mm)!.ptes.pmd(vpn(0))?.kind]).toEqual([{ ref: 1, map: 1, locked: false }, "present"]);
      expect(folioOf(k, folio).pageMapcount(300)).toBe(1);
      sound(k);
      k.commit({ kind: "pmd.split", mm, vpn: vpn(0), freeze: false });
      expect([counts(k, folio), k.state.mms.get(mm)!.ptes.pmd(vpn(0)), pte(k, mm, 300)]).toEqual([{ ref: 512, map: 512, locked: false }, undefined, { kind: "present", folio, index: 300 }]);
      sound(k);
      const other = folioAlloc(k, 9, "system")!;
      k.commit({ kind: "pmd.set", mm, vpn: vpn(512), pteKind: "present", folio: other });
      k.commit({ kind: "pmd.split", mm, vpn: vpn(512), freeze: true });
      expect([counts(k, other), pte(k, mm, 512 + 7)]).toEqual([{ ref: 0, map: 0, locked: false }, { kind: "migration", folio: other, index: 7 }]);
      expect(() => k.commit({ kind: "pte.set", mm, vpn: vpn(3), pteKind: "present", folio, index: 3 })).toThrow(/set over a live present entry/);
    })());
  });
});

describe("the newest mm's migrate_vma_collect_huge_pmd (Kernel.deviceThpMm)", () => {
  it("a walk selecting only device pages leaves a PMD-mapped THP whole; one that cannot be locked is skipped and its reference put (the seed's leak fixed)", () => {
    const { engine, k, mm } = world();
    k.deviceThpMm = true;
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 512);
      const folio = thp(k, mm);
      const deviceOnly = newMigrateVma(mm, vma, addr(0), addr(1), DEVICE, 0);
      expect(yield* migrateVmaSetup(k, deviceOnly)).toBe(0);
      expect([deviceOnly.cpages, folioOf(k, folio).order, counts(k, folio)]).toEqual([0, 9, { ref: 1, map: 1, locked: false }]);
      expect(folioTrylock(k, folio)).toBe(true);
      const m = newMigrateVma(mm, vma, addr(0), addr(4), SYSTEM, 0);
      expect(yield* migrateVmaSetup(k, m)).toBe(0);
      expect([m.cpages, m.npages, counts(k, folio)]).toEqual([0, 4, { ref: 1, map: 1, locked: true }]);
      folioUnlock(k, folio);
      // Without SELECT_COMPOUND a range over part of it splits it (the fallback), as before.
      const part = newMigrateVma(mm, vma, addr(0), addr(4), SYSTEM, 0);
      expect(yield* migrateVmaSetup(k, part)).toBe(0);
      expect([part.cpages, folioOf(k, folio).order]).toEqual([4, 0]);
      yield* migrateVmaFinalize(k, part);
    })());
    sound(k);
  });
});

/**
 * migrate_vma_split_unmapped_folio (design note §4 test 5b): a driver that hands order-0
 * destinations for a compound source, as hmm-tests' test_hmm does when it cannot (or will not)
 * allocate a large one. migrate_vma_pages splits the PMD migration entry with freeze, splits the
 * unmapped folio and migrates its 512 pages one by one.
 */
describe("the mm's order-0 fallback for a compound source (newest mm, SELECT_COMPOUND)", () => {
  type Ev = { kind: string } & Record<string, unknown>;
  function loggedWorld() {
    const w = world();
    const events: Ev[] = [];
    // The kernel's log is the EventLog world() made: listen to it.
    (w.k.log as EventLog<ReturnType<typeof createKernelState>, never>).subscribe({ onModelEvent: (_s, _t, _th, _c, ev) => void events.push(ev as unknown as Ev) });
    w.k.deviceThpMm = true;
    return { ...w, events };
  }

  /** test_hmm's part between setup and pages: 512 order-0 destinations for each compound word, data copied page by page. */
  function smallDestinations(k: Kernel, m: MigrateVma, memory: MemoryKind, pagemap = 0): void {
    for (let i = 0; i < m.npages; i++) {
      const s = m.src[i]!;
      if (!s.migrate) continue;
      const pages = s.compound === true ? 512 : 1;
      for (let j = 0; j < pages; j++) {
        const folio = folioAlloc(k, 0, memory, memory === "device" ? pagemap : -1, memory === "device" ? nextPfn++ : -1)!;
        expect(folioTrylock(k, folio)).toBe(true);
        if (s.folio !== -1) k.commit({ kind: "page.copy", srcFolio: s.folio, srcIndex: s.index + j, dstFolio: folio, dstIndex: 0 });
        m.dst[i + j] = { folio, index: 0 };
      }
    }
  }

  it("a PMD-mapped system THP to 512 order-0 device pages: pmd.split freeze, folio.split, 512 small migrations, data intact", () => {
    const { engine, k, mm, events, freed } = loggedWorld();
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 512);
      const folio = thp(k, mm);
      const m = newMigrateVma(mm, vma, addr(0), addr(512), SYSTEM | COMPOUND, 0);
      expect(yield* migrateVmaSetup(k, m)).toBe(0);
      expect([m.cpages, m.src[0]!.compound, k.state.mms.get(mm)!.ptes.pmd(vpn(0))?.kind]).toEqual([1, true, "migration"]);
      smallDestinations(k, m, "device");
      yield* migrateVmaPages(k, m);
      expect(events.filter((e) => e.kind === "pmd.split").map((e) => e.freeze)).toEqual([true]);
      expect(events.filter((e) => e.kind === "folio.split").map((e) => e.folio)).toEqual([folio]);
      expect(m.src.filter((s) => s.migrate && s.folio !== -1).length).toBe(512);
      expect(m.src.some((s) => s.compound === true)).toBe(false);
      yield* migrateVmaFinalize(k, m);
    })());
    const ptes = k.state.mms.get(mm)!.ptes;
    const devs = Array.from({ length: 512 }, (_, i) => ptes.get(vpn(i))!);
    expect(new Set(devs.map((p) => p.kind))).toEqual(new Set(["device-private"]));
    expect(new Set(devs.map((p) => p.folio)).size).toBe(512);
    expect(devs.map((p) => k.state.folios.version(p.folio, p.index))).toEqual(Array.from({ length: 512 }, (_, i) => i + 1));
    // Every system piece is freed; no device page is.
    expect(events.filter((e) => e.kind === "folio.free").length).toBe(512);
    expect(freed).toEqual([]);
    expect(k.state.allocatedPages).toEqual({ system: 0, device: 512 });
    sound(k);
  });

  it("a device THP back to 512 order-0 system pages: the device folio splits (its pfns kept), each piece is freed through page_free, data intact", () => {
    const { engine, k, mm, events, pagemap, freed } = loggedWorld();
    const pfn = 512 * 1024; // an aligned block no other test's pages reach
    let dev = -1;
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 512);
      dev = folioAlloc(k, 9, "device", pagemap, pfn)!;
      for (let i = 0; i < 512; i++) k.commit({ kind: "page.write", mm, vpn: vpn(i), folio: dev, index: i, version: 100 + i });
      k.commit({ kind: "pmd.set", mm, vpn: vpn(0), pteKind: "device-private", folio: dev });
      const m = newMigrateVma(mm, vma, addr(0), addr(512), DEVICE | COMPOUND, k.pagemapOwner(pagemap));
      expect(yield* migrateVmaSetup(k, m)).toBe(0);
      expect([m.cpages, m.src[0]!.compound]).toEqual([1, true]);
      smallDestinations(k, m, "system");
      yield* migrateVmaPages(k, m);
      expect(events.filter((e) => e.kind === "pmd.split").map((e) => e.freeze)).toEqual([true]);
      expect(events.filter((e) => e.kind === "folio.split").map((e) => e.folio)).toEqual([dev]);
      // The pieces keep their pfns: page i of the THP is the folio at pfn + i.
      expect(Array.from({ length: 512 }, (_, i) => k.state.folios.pfn(m.src[i]!.folio))).toEqual(Array.from({ length: 512 }, (_, i) => pfn + i));
      yield* migrateVmaFinalize(k, m);
    })());
    const ptes = k.state.mms.get(mm)!.ptes;
    const back = Array.from({ length: 512 }, (_, i) => ptes.get(vpn(i))!);
    expect(new Set(back.map((p) => p.kind))).toEqual(new Set(["present"]));
    expect(back.map((p) => k.state.folios.version(p.folio, p.index))).toEqual(Array.from({ length: 512 }, (_, i) => 100 + i));
    expect(freed.length).toBe(512); // page_free once per order-0 piece
    expect(freed).toContain(dev);
    expect(k.state.allocatedPages).toEqual({ system: 512, device: 0 });
    expect(k.state.devicePages.size).toBe(0);
    sound(k);
  });

  it("without a VMA (migrate_device_pages, eviction) a compound source with order-0 destinations stays where it is", () => {
    const { engine, k, mm, events, pagemap } = loggedWorld();
    const pfn = 1024 * 1024;
    run(engine, (function* (): ProcessBody {
      yield* mapAnon(k, mm, 512);
      const dev = folioAlloc(k, 9, "device", pagemap, pfn)!;
      k.commit({ kind: "pmd.set", mm, vpn: vpn(0), pteKind: "device-private", folio: dev });
      const src: MigrateSrc[] = Array.from({ length: 512 }, (_, i) => ({ folio: i === 0 ? dev : -1, index: 0, migrate: false, write: false }));
      expect(yield* migrateDevicePfns(k, src)).toBe(0);
      expect([src[0]!.migrate, src[0]!.compound]).toEqual([true, true]);
      const dst: MigrateDst[] = src.map(() => ({ folio: -1, index: 0 }));
      const small = folioAlloc(k, 0, "system")!;
      expect(folioTrylock(k, small)).toBe(true);
      dst[0] = { folio: small, index: 0 };
      yield* migrateDevicePages(k, src, dst);
      expect([src[0]!.migrate, src[0]!.compound]).toEqual([false, false]);
      yield* migrateDeviceFinalize(k, src, dst);
      expect(k.state.mms.get(mm)!.ptes.pmd(vpn(0))).toEqual({ kind: "device-private", folio: dev });
    })());
    expect(events.filter((e) => e.kind === "folio.split" || e.kind === "pmd.split").length).toBe(0);
    sound(k);
  });

  it("a compound hole with order-0 destinations: 512 small pages are inserted one by one", () => {
    const { engine, k, mm, events } = loggedWorld();
    run(engine, (function* (): ProcessBody {
      const vma = yield* mapAnon(k, mm, 512);
      const m = newMigrateVma(mm, vma, addr(0), addr(512), SYSTEM | COMPOUND, 0);
      expect(yield* migrateVmaSetup(k, m)).toBe(0);
      expect([m.cpages, m.src[0]!.compound, m.src[0]!.folio]).toEqual([1, true, -1]);
      smallDestinations(k, m, "device");
      yield* migrateVmaPages(k, m);
      yield* migrateVmaFinalize(k, m);
    })());
    expect(events.filter((e) => e.kind === "pte.set" && e.pteKind === "device-private").length).toBe(512);
    expect(events.filter((e) => e.kind === "pmd.set").length).toBe(0);
    expect(k.state.mms.get(mm)!.ptes.size).toBe(512);
    expect(k.state.allocatedPages.device).toBe(512);
    sound(k);
  });
});
