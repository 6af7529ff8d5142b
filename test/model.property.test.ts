import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { sleep, type ProcessBody } from "../src/engine/index.ts";
import { PAGE_SIZE } from "../src/kernel/constants.ts";
import { cpuAccess } from "../src/kernel/fault.ts";
import { folioPut } from "../src/kernel/folio.ts";
import { mprotect, mremap, munmap } from "../src/kernel/mm.ts";
import { fork } from "../src/kernel/fork.ts";
import { populateMm } from "../src/pagemap/populate-mm.ts";
import { evictToRam } from "../src/pagemap/evict-to-ram.ts";
import { checkModelInvariants } from "../src/check/pagemap-invariants.ts";
import { BASE, MB, mapAnon, pagemapWorld } from "./support/pagemap-world.ts";

/**
 * Random scripted scenarios: CPU reads and writes, GPU populates, munmaps, evictions, long-term
 * pins, IRQ-time page frees and a fork (CPU accesses then go to parent or child), interleaved at random times on several threads, under both
 * model variants, both release modes, with and without THP. After every step the model invariants must hold, and
 * every read must see the last write to its page, wherever the page went.
 */
const RANGE_PAGES = 1024; // 4 MiB: two 2 MiB GPU chunks
const at = fc.integer({ min: 0, max: 40_000 });
const page = fc.integer({ min: 0, max: RANGE_PAGES - 1 });
const op = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("cpu" as const), at, page, write: fc.boolean(), child: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("fork" as const), at }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("gpu" as const), at, chunk: fc.integer({ min: 0, max: 1 }), timesliceMs: fc.constantFrom(0, 1, 5) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("munmap" as const), at, page, pages: fc.integer({ min: 1, max: 600 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("evict" as const), at, which: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("mprotect" as const), at, page, pages: fc.integer({ min: 1, max: 600 }), write: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("mremap" as const), at, page, pages: fc.integer({ min: 1, max: 600 }), toPage: fc.integer({ min: 0, max: RANGE_PAGES - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("pin" as const), at, page, holdNs: fc.integer({ min: 0, max: 20_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("irqput" as const), at, page, holdNs: fc.integer({ min: 0, max: 20_000 }) }) },
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;
const scenario = fc.record({
  variant: fc.constantFrom("seed" as const, "newest" as const),
  zddRelease: fc.constantFrom("inline" as const, "deferred" as const),
  release: fc.constantFrom("sync" as const, "async" as const),
  thp: fc.constantFrom("always" as const, "never" as const),
  ops: fc.array(op, { minLength: 1, maxLength: 12 }),
});

function runScenario(s: { variant: "seed" | "newest"; zddRelease: "inline" | "deferred"; release: "sync" | "async"; thp: "always" | "never"; ops: Op[] }): string[] {
  const w = pagemapWorld({ variant: s.variant, zddRelease: s.zddRelease, release: s.release, thp: s.thp });
  const problems: string[] = [];
  const lastWrite = new Map<number, number>(); // parent: vpn -> version of the last completed write
  const childWrite = new Map<number, number>(); // the same for the child, once forked
  let child = -1;
  let forked = false;
  const check = (where: string): void => {
    for (const p of checkModelInvariants(w.p.state, { deferredRelease: s.zddRelease === "deferred" })) problems.push(`${where} @${w.engine.nowNs}: ${p}`);
  };
  const vpnOf = (pg: number): number => BASE / PAGE_SIZE + pg;

  w.engine.spawn("setup", (function* (): ProcessBody {
    yield* mapAnon(w, 4 * MB);
  })());
  w.engine.run();

  s.ops.forEach((o, i) => {
    const ctx = o.kind === "gpu" ? "gpu" : o.kind === "evict" ? "workqueue" : "process";
    w.engine.spawn(`op${i}:${o.kind}`, (function* (): ProcessBody {
      yield sleep(o.at);
      const where = `op${i} ${JSON.stringify(o)}`;
      switch (o.kind) {
        case "cpu": {
          const inChild = o.child && child !== -1;
          const shadow = inChild ? childWrite : lastWrite;
          const r = yield* cpuAccess(w.k, inChild ? child : w.mm, BASE + o.page * PAGE_SIZE, o.write ? "write" : "read");
          if (r.outcome === "ok") {
            const expected = shadow.get(vpnOf(o.page)) ?? 0;
            if (o.write) {
              if (r.version !== expected + 1) problems.push(`${where}: wrote version ${r.version} over ${expected}`);
              shadow.set(vpnOf(o.page), r.version);
            } else if (r.version !== expected) problems.push(`${where}: read version ${r.version}, last write was ${expected}`);
          } else if (r.outcome !== "SIGSEGV") problems.push(`${where}: ${r.outcome}`);
          break;
        }
        case "fork":
          // One child: later fork steps do nothing (decided before fork sleeps on the lock).
          if (!forked) {
            forked = true;
            child = yield* fork(w.k, w.mm);
            for (const [vpn, v] of lastWrite) childWrite.set(vpn, v);
          }
          break;
        case "gpu":
          yield* populateMm(w.p, w.dev.dpagemap, BASE + o.chunk * 2 * MB, BASE + (o.chunk + 1) * 2 * MB, w.mm, o.timesliceMs);
          break;
        case "munmap": {
          const pages = Math.min(o.pages, RANGE_PAGES - o.page);
          yield* munmap(w.k, w.mm, BASE + o.page * PAGE_SIZE, pages * PAGE_SIZE);
          for (let pg = o.page; pg < o.page + pages; pg++) lastWrite.delete(vpnOf(pg));
          break;
        }
        case "mprotect": {
          const pages = Math.min(o.pages, RANGE_PAGES - o.page);
          yield* mprotect(w.k, w.mm, BASE + o.page * PAGE_SIZE, pages * PAGE_SIZE, true, o.write);
          break;
        }
        case "mremap": {
          // Move part of the range elsewhere inside it (whatever is at the target is unmapped).
          const pages = Math.min(o.pages, RANGE_PAGES - o.page, RANGE_PAGES - o.toPage);
          const ret = yield* mremap(w.k, w.mm, BASE + o.page * PAGE_SIZE, pages * PAGE_SIZE, BASE + o.toPage * PAGE_SIZE);
          if (ret === 0) {
            const moved: [number, number][] = [];
            for (let pg = o.page; pg < o.page + pages; pg++) {
              const v = lastWrite.get(vpnOf(pg));
              if (v !== undefined) moved.push([vpnOf(pg - o.page + o.toPage), v]);
              lastWrite.delete(vpnOf(pg));
            }
            for (let pg = o.toPage; pg < o.toPage + pages; pg++) lastWrite.delete(vpnOf(pg));
            for (const [vpn, v] of moved) lastWrite.set(vpn, v);
          }
          break;
        }
        case "evict": {
          const live = [...w.p.state.devmems.values()].filter((d) => !d.detached && [...w.p.state.zdds.values()].some((z) => z.devmem === d.id && !z.destroyed));
          if (live.length > 0) yield* evictToRam(w.p, live[o.which % live.length]!.id);
          break;
        }
        case "pin":
        case "irqput": {
          const pte = w.k.state.mms.get(w.mm)!.ptes.get(vpnOf(o.page));
          if (pte === undefined || pte.kind === "migration") break;
          if (o.kind === "pin" && pte.kind !== "present") break; // device-private pages cannot be pinned
          const folio = pte.folio;
          w.k.commit(o.kind === "pin" ? { kind: "folio.pin", folio } : { kind: "folio.get", folio });
          yield sleep(o.holdNs);
          if (o.kind === "pin") {
            w.k.commit({ kind: "folio.unpin", folio });
            if (w.k.state.folios.get(folio)!.refcount === 0) {
              w.k.commit({ kind: "folio.get", folio }); // unpin_user_page puts through folio_put
              yield* folioPut(w.k, folio);
            }
          } else {
            // The reference is dropped from an interrupt handler.
            const irq = w.engine.spawn(`irq${i}`, folioPut(w.k, folio), "irq");
            yield w.engine.join(irq);
          }
          break;
        }
      }
      check(where);
    })(), ctx);
  });
  const result = w.engine.run();
  if (result.blocked !== 0) problems.push(`${result.blocked} threads never finished`);
  check("end");
  // Every page still mapped reads back its last write.
  w.engine.spawn("final-read", (function* (): ProcessBody {
    for (const [mm, shadow] of [[w.mm, lastWrite], [child, childWrite]] as const) {
      for (const [vpn, version] of shadow) {
        const r = yield* cpuAccess(w.k, mm, vpn * PAGE_SIZE, "read");
        if (r.outcome !== "ok" || r.version !== version) problems.push(`final read of mm ${mm} vpn ${vpn}: ${r.outcome} v${r.version}, expected v${version}`);
      }
    }
  })());
  w.engine.run();
  check("after final reads");
  return problems;
}

describe("the model under random scenarios (fast-check)", () => {
  it("keeps every invariant and never loses a write", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        expect(runScenario(s)).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });
});
