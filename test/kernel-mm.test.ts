import { describe, it, expect } from "vitest";
import { Engine, Mutex, sleep, spin, type ProcessBody } from "../src/engine/index.ts";
import { applyKernelEvent } from "../src/kernel/apply.ts";
import { createKernelState } from "../src/kernel/state.ts";
import { EventLog } from "../src/kernel/event-log.ts";
import { Kernel, VM_FAULT_SIGBUS, type DevPagemapOps, type VmFault } from "../src/kernel/kernel.ts";
import { folioAlloc, folioPut, folioUnlock, folioTrylock } from "../src/kernel/folio.ts";
import { mmap, mmCreate, mmgetNotZero, mmput, munmap } from "../src/kernel/mm.ts";
import { cpuAccess, type AccessResult } from "../src/kernel/fault.ts";
import { checkKernelInvariants } from "../src/check/kernel-invariants.ts";
import { Errno, PAGE_SIZE } from "../src/kernel/constants.ts";

const MB = 1 << 20;
const BASE = 16 * MB;

function world(): { engine: Engine; k: Kernel; mm: number } {
  const engine = new Engine();
  const k = new Kernel(engine, new EventLog(engine, createKernelState(), applyKernelEvent));
  const mm = mmCreate(k);
  return { engine, k, mm };
}

/** Runs `body` as one CPU thread to completion and returns its result. */
function runThread<T>(engine: Engine, body: ProcessBody<T>, ctx: "process" | "irq" = "process"): T {
  const p = engine.spawn("cpu0", body, ctx);
  engine.run();
  expect(p.exited).toBe(true);
  return p.result as T;
}

function* mapAnon(k: Kernel, mm: number, sizeBytes = 4 * MB, write = true): ProcessBody<number> {
  return yield* mmap(k, mm, { addr: BASE, lengthBytes: sizeBytes, kind: "anon-private", read: true, write });
}

describe("CPU access and the anonymous fault path", () => {
  it("first touch faults in a zeroed page; later accesses hit it; writes bump the data version", () => {
    const { engine, k, mm } = world();
    const results = runThread(engine, (function* (): ProcessBody<AccessResult[]> {
      expect(yield* mapAnon(k, mm)).toBe(0);
      const out: AccessResult[] = [];
      out.push(yield* cpuAccess(k, mm, BASE + 100, "read"));
      out.push(yield* cpuAccess(k, mm, BASE + 200, "write"));
      out.push(yield* cpuAccess(k, mm, BASE + 300, "write"));
      out.push(yield* cpuAccess(k, mm, BASE + 400, "read"));
      return out;
    })());
    expect(results.map((r) => [r.outcome, r.version, r.faults])).toEqual([
      ["ok", 0, 1],
      ["ok", 1, 0],
      ["ok", 2, 0],
      ["ok", 2, 0],
    ]);
    expect(k.state.allocatedPages.system).toBe(1);
    expect(engine.nowNs).toBe(k.costs.faultEntryNs + k.costs.pageZeroNs);
    expect(checkKernelInvariants(k.state)).toEqual([]);
  });

  it("gives SIGSEGV outside every VMA and for a write to a read-only VMA, OOM when allocation fails", () => {
    const { engine, k, mm } = world();
    const out = runThread(engine, (function* (): ProcessBody<string[]> {
      yield* mapAnon(k, mm, 4 * MB, false);
      const r: string[] = [];
      r.push((yield* cpuAccess(k, mm, BASE - PAGE_SIZE, "read")).outcome);
      r.push((yield* cpuAccess(k, mm, BASE, "write")).outcome);
      k.allocFailure = () => true;
      r.push((yield* cpuAccess(k, mm, BASE, "read")).outcome);
      return r;
    })());
    expect(out).toEqual(["SIGSEGV", "SIGSEGV", "OOM"]);
  });
});

describe("address-space changes", () => {
  it("mmap refuses to overlap an existing VMA", () => {
    const { engine, k, mm } = world();
    const r = runThread(engine, (function* (): ProcessBody<number[]> {
      return [yield* mapAnon(k, mm), yield* mmap(k, mm, { addr: BASE + MB, lengthBytes: MB, kind: "file", read: true, write: false })];
    })());
    expect(r).toEqual([0, -Errno.EEXIST]);
  });

  it("munmap of a middle part splits the VMA and frees exactly the pages in the hole", () => {
    const { engine, k, mm } = world();
    runThread(engine, (function* (): ProcessBody {
      yield* mapAnon(k, mm);
      for (let off = 0; off < 4 * MB; off += MB) yield* cpuAccess(k, mm, BASE + off, "write");
      expect(yield* munmap(k, mm, BASE + MB, 2 * MB)).toBe(0);
    })());
    const vmas = k.state.mms.get(mm)!.vmas.map((v) => [v.startAddr - BASE, v.endAddr - BASE]);
    expect(vmas).toEqual([
      [0, MB],
      [3 * MB, 4 * MB],
    ]);
    expect(k.state.allocatedPages.system).toBe(2);
    expect([...k.state.mms.get(mm)!.ptes.keys()].map((vpn) => vpn * PAGE_SIZE - BASE)).toEqual([0, 3 * MB]);
    expect(checkKernelInvariants(k.state)).toEqual([]);
  });

  it("the last mmput tears the address space down; mmget_not_zero fails after exit", () => {
    const { engine, k, mm } = world();
    const gotRef = runThread(engine, (function* (): ProcessBody<boolean[]> {
      yield* mapAnon(k, mm);
      yield* cpuAccess(k, mm, BASE, "write");
      const first = mmgetNotZero(k, mm); // e.g. an eviction worker
      yield* mmput(k, mm); // process exits: the worker still holds the mm
      expect(k.state.allocatedPages.system).toBe(1);
      yield* mmput(k, mm); // worker done: last user
      return [first, mmgetNotZero(k, mm)];
    })());
    expect(gotRef).toEqual([true, false]);
    expect(k.state.allocatedPages.system).toBe(0);
    expect(k.state.mms.get(mm)!.vmas).toEqual([]);
    expect(checkKernelInvariants(k.state)).toEqual([]);
  });

  it("the mmap write lock makes a fault wait for munmap, which then finds nothing to fault in", () => {
    const { engine, k, mm } = world();
    runThread(engine, (function* (): ProcessBody {
      yield* mapAnon(k, mm);
    })());
    let faultResult = "";
    engine.spawn("unmapper", (function* (): ProcessBody {
      const lock = k.mmapLock(mm);
      yield lock.downWrite();
      yield sleep(5000); // holds the lock across the fault's entry
      lock.upWrite();
      yield* munmap(k, mm, BASE, 4 * MB);
    })());
    engine.spawn("cpu1", (function* (): ProcessBody {
      yield sleep(10);
      faultResult = (yield* cpuAccess(k, mm, BASE, "read")).outcome;
    })());
    engine.run();
    // The fault got the read lock only after the first writer left, and before munmap's writer.
    expect(faultResult).toBe("ok");
    expect(k.state.allocatedPages.system).toBe(0);
  });
});

/** A fake driver: migrate_to_ram copies the device page into a new system page. */
function fakeDriver(k: Kernel, log: string[], opts: { sigbus?: boolean; freeLock?: Mutex } = {}): DevPagemapOps {
  return {
    *pageFree(folio: number): ProcessBody<void> {
      log.push(`page_free ${folio} in ${k.engine.current?.ctx}`);
      if (opts.freeLock !== undefined) {
        yield opts.freeLock.lock(); // a driver release that takes a sleeping lock
        opts.freeLock.unlock();
      }
    },
    *migrateToRam(fault: VmFault): ProcessBody<number> {
      log.push(`migrate_to_ram ${fault.addr - BASE}`);
      if (opts.sigbus === true) return VM_FAULT_SIGBUS;
      const sys = folioAlloc(k, 0, "system")!;
      yield spin(2000);
      k.commit({ kind: "page.copy", srcFolio: fault.folio, srcIndex: fault.index, dstFolio: sys, dstIndex: 0 });
      const vpn = fault.addr / PAGE_SIZE;
      k.commit({ kind: "pte.clear", mm: fault.mm, vpn });
      yield* folioPut(k, fault.folio); // the mapping's reference
      k.commit({ kind: "pte.set", mm: fault.mm, vpn, pteKind: "present", folio: sys, index: 0 });
      return 0;
    },
  };
}

/** Puts a device page with data version 7 behind BASE. */
function* deviceBacked(k: Kernel, mm: number, pagemap: number): ProcessBody<number> {
  yield* mapAnon(k, mm);
  const dev = folioAlloc(k, 0, "device", pagemap, 100)!;
  k.commit({ kind: "page.write", mm, vpn: BASE / PAGE_SIZE, folio: dev, index: 0, version: 7 });
  k.commit({ kind: "pte.set", mm, vpn: BASE / PAGE_SIZE, pteKind: "device-private", folio: dev, index: 0 });
  return dev;
}

describe("device-private entries", () => {
  it("a CPU access calls migrate_to_ram, then sees the data; the last put frees the device page in the faulting thread", () => {
    const { engine, k, mm } = world();
    const log: string[] = [];
    const pagemap = k.registerPagemap(fakeDriver(k, log));
    const r = runThread(engine, (function* (): ProcessBody<AccessResult> {
      yield* deviceBacked(k, mm, pagemap);
      return yield* cpuAccess(k, mm, BASE, "read");
    })());
    expect([r.outcome, r.version, r.faults]).toEqual(["ok", 7, 1]);
    expect(log).toEqual(["migrate_to_ram 0", "page_free 0 in process"]);
    expect(k.state.allocatedPages).toEqual({ system: 1, device: 0 });
    expect(checkKernelInvariants(k.state)).toEqual([]);
  });

  it("maps migrate_to_ram's VM_FAULT_SIGBUS to SIGBUS for the thread", () => {
    const { engine, k, mm } = world();
    const pagemap = k.registerPagemap(fakeDriver(k, [], { sigbus: true }));
    const r = runThread(engine, (function* (): ProcessBody<AccessResult> {
      yield* deviceBacked(k, mm, pagemap);
      return yield* cpuAccess(k, mm, BASE, "read");
    })());
    expect(r.outcome).toBe("SIGBUS");
    expect(checkKernelInvariants(k.state)).toEqual([]);
  });

  it("re-faults, spinning, while another thread holds the device page's lock", () => {
    const { engine, k, mm } = world();
    const log: string[] = [];
    const pagemap = k.registerPagemap(fakeDriver(k, log));
    let dev = -1;
    runThread(engine, (function* (): ProcessBody {
      dev = yield* deviceBacked(k, mm, pagemap);
    })());
    let result: AccessResult | undefined;
    engine.spawn("locker", (function* (): ProcessBody {
      expect(folioTrylock(k, dev)).toBe(true);
      yield spin(10_500);
      folioUnlock(k, dev);
    })());
    engine.spawn("cpu1", (function* (): ProcessBody {
      result = yield* cpuAccess(k, mm, BASE, "read");
    })());
    engine.run();
    // Each fault spends faultEntryNs (1000) before its trylock: the trylocks at 1000..10000 find
    // the page locked (10 faults), the one at 11000 gets it (the 11th).
    expect(result?.faults).toBe(11);
    expect(result?.version).toBe(7);
    expect(engine.contextViolations).toEqual([]);
  });

  it("a last put from IRQ context runs page_free there, and a sleeping lock in it is a context violation", () => {
    const { engine, k, mm } = world();
    const log: string[] = [];
    const freeLock = new Mutex(engine, "driver_release");
    const pagemap = k.registerPagemap(fakeDriver(k, log, { freeLock }));
    let dev = -1;
    runThread(engine, (function* (): ProcessBody {
      dev = yield* deviceBacked(k, mm, pagemap);
      k.commit({ kind: "pte.clear", mm, vpn: BASE / PAGE_SIZE }); // unmapped, the IRQ holds the last ref
    })());
    runThread(engine, folioPut(k, dev), "irq");
    expect(log).toEqual(["page_free 0 in irq"]);
    expect(engine.contextViolations.map((v) => [v.op, v.ctx])).toEqual([["mutex_lock", "irq"]]);
  });
});
