import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { FolioTable } from "../src/kernel/folio-table.ts";
import { PageTable, type PteKind, type PteState } from "../src/kernel/page-table.ts";
import { LastWrites } from "../src/check/last-writes.ts";

// The compact page state (issue #8): each table against the Map of objects it replaced, under
// random operations, plus the edges the packing introduces (chunk boundaries, release, vpns past
// 2^32, large folios).

const KINDS: PteKind[] = ["present", "device-private", "migration"];

describe("PageTable", () => {
  it("behaves as a Map of entries under random sets and clears, and walks in vpn order", () => {
    const vpn = fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 2 ** 33, max: 2 ** 33 + 1100 }));
    const op = fc.oneof(
      fc.record({ set: fc.constant(true), vpn, kind: fc.constantFrom(...KINDS), folio: fc.integer({ min: 0, max: 2 ** 31 - 1 }), index: fc.integer({ min: 0, max: 511 }) }),
      fc.record({ set: fc.constant(false), vpn }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const table = new PageTable();
        const ref = new Map<number, PteState>();
        for (const o of ops) {
          if ("kind" in o) {
            table.set(o.vpn, o.kind, o.folio, o.index);
            ref.set(o.vpn, { kind: o.kind, folio: o.folio, index: o.index });
          } else {
            expect(table.delete(o.vpn)).toBe(ref.delete(o.vpn));
          }
          expect(table.size).toBe(ref.size);
        }
        const sorted = [...ref.entries()].sort((a, b) => a[0] - b[0]);
        expect(table.entries()).toEqual(sorted);
        for (const [v, pte] of sorted) {
          expect([table.has(v), table.kind(v), table.folio(v), table.index(v)]).toEqual([true, pte.kind, pte.folio, pte.index]);
          expect(table.get(v)).toEqual(pte);
        }
        for (const probe of [0, 511, 512, 2 ** 33 + 5]) {
          if (!ref.has(probe)) expect([table.has(probe), table.get(probe), table.kind(probe), table.folio(probe), table.index(probe)]).toEqual([false, undefined, undefined, -1, -1]);
        }
      }),
    );
  });

  it("refuses a page index that does not fit an entry", () => {
    expect(() => new PageTable().set(0, "present", 1, 512)).toThrow(/page index 512/);
  });
});

describe("FolioTable", () => {
  it("holds each field per folio, order-0 and large, and forgets freed ones", () => {
    const t = new FolioTable();
    t.add(0, 9, "system", -1, -1);
    t.add(1, 0, "device", 3, 2 ** 40);
    t.setVersion(0, 511, 7);
    t.setVersion(0, 0, 2);
    t.setPageMapcount(0, 300, 1);
    t.setZdd(1, 5);
    t.setLockOwner(1, 9);
    expect(t.fields(1)).toMatchObject({ id: 1, order: 0, memory: "device", pagemap: 3, pfn: 2 ** 40, refcount: 1, zdd: 5, lockOwner: 9, versions: [0], pageMapcount: [0] });
    const big = t.fields(0);
    expect([big.versions[0], big.versions[511], big.pageMapcount[300], big.versions.length]).toEqual([2, 7, 1, 512]);
    const view = t.get(0)!;
    t.setRefcount(0, 4);
    expect(view.refcount).toBe(4); // a view reads the table now
    t.shrinkToOrder0(0, 1);
    expect([view.order, view.nrPages, view.version(0), view.pageMapcount(0)]).toEqual([0, 1, 2, 1]);
    expect(() => view.version(1)).toThrow(/no page 1/);
    t.remove(1);
    expect([t.has(1), t.get(1), t.size, [...t.ids()]]).toEqual([false, undefined, 1, [0]]);
    expect(() => t.refcount(1)).toThrow(/folio 1 is not live/);
  });

  it("walks live folios in id order across chunks and releases a chunk once all its ids are freed", () => {
    const t = new FolioTable();
    const n = 3 * 4096 + 10;
    for (let id = 0; id < n; id++) t.add(id, 0, "system", -1, -1);
    for (let id = 0; id < n; id++) if (id % 1000 !== 7) t.remove(id);
    expect([...t.ids()]).toEqual(Array.from({ length: n }, (_, id) => id).filter((id) => id % 1000 === 7));
    for (const id of [...t.ids()]) t.remove(id);
    expect(t.size).toBe(0);
    const chunks = (t as unknown as { chunks: unknown[] }).chunks;
    // The three full chunks are gone; the last, still being handed out, stays for its next ids.
    expect(chunks.map((c) => c !== undefined)).toEqual([false, false, false, true]);
    t.add(n, 0, "system", -1, -1);
    expect(t.refcount(n)).toBe(1);
  });
});

describe("FolioTable's rmap", () => {
  it("finds each mapping, in mm then vpn order, through adds and removes in any order", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ mm: fc.integer({ min: 0, max: 3 }), vpn: fc.integer({ min: 0, max: 2 ** 35 }) }), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 20 }), (sites, removals) => {
        const t = new FolioTable();
        t.add(0, 0, "system", -1, -1);
        const unique = [...new Map(sites.map((s) => [`${s.mm}:${s.vpn}`, s])).values()];
        for (const s of unique) t.addMapping(0, s.mm, s.vpn);
        const left = [...unique];
        for (const r of removals) {
          if (left.length === 0) break;
          const [gone] = left.splice(r % left.length, 1);
          expect(t.removeMapping(0, gone!.mm, gone!.vpn)).toBe(true);
          expect(t.removeMapping(0, gone!.mm, gone!.vpn)).toBe(false);
        }
        expect(t.mappings(0)).toEqual(left.sort((a, b) => a.mm - b.mm || a.vpn - b.vpn));
      }),
    );
  });
});

describe("LastWrites", () => {
  it("behaves as the Map keyed by mm and page it replaced, through munmap, mremap and fork", () => {
    const op = fc.oneof(
      fc.record({ op: fc.constant("write" as const), mm: fc.integer({ min: 0, max: 1 }), vpn: fc.integer({ min: 0, max: 1500 }), version: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ op: fc.constant("munmap" as const), mm: fc.integer({ min: 0, max: 1 }), vpn: fc.integer({ min: 0, max: 1500 }), pages: fc.integer({ min: 1, max: 600 }) }),
      fc.record({ op: fc.constant("mremap" as const), mm: fc.integer({ min: 0, max: 1 }), vpn: fc.integer({ min: 0, max: 1500 }), pages: fc.integer({ min: 1, max: 600 }), to: fc.integer({ min: 0, max: 1500 }) }),
      fc.record({ op: fc.constant("fork" as const), mm: fc.integer({ min: 0, max: 1 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const shadow = new LastWrites();
        let ref = new Map<string, number>();
        let nextMm = 2;
        for (const o of ops) {
          if (o.op === "write") {
            shadow.set(o.mm, o.vpn, o.version);
            ref.set(`${o.mm}:${o.vpn}`, o.version);
          } else if (o.op === "munmap") {
            shadow.forget(o.mm, o.vpn * 4096, o.pages * 4096);
            for (let v = o.vpn; v < o.vpn + o.pages; v++) ref.delete(`${o.mm}:${v}`);
          } else if (o.op === "mremap") {
            shadow.move(o.mm, o.vpn * 4096, o.pages * 4096, o.to * 4096);
            const moved: [number, number][] = [];
            for (let v = o.vpn; v < o.vpn + o.pages; v++) {
              const x = ref.get(`${o.mm}:${v}`);
              if (x !== undefined) moved.push([v - o.vpn + o.to, x]);
              ref.delete(`${o.mm}:${v}`);
            }
            for (let v = o.to; v < o.to + o.pages; v++) ref.delete(`${o.mm}:${v}`);
            for (const [v, x] of moved) ref.set(`${o.mm}:${v}`, x);
          } else {
            const child = nextMm++;
            shadow.copy(o.mm, child);
            const add = new Map(ref);
            for (const [key, x] of ref) if (key.startsWith(`${o.mm}:`)) add.set(`${child}:${key.slice(key.indexOf(":") + 1)}`, x);
            ref = add;
          }
        }
        for (let mm = 0; mm < nextMm; mm++) {
          for (let v = 0; v < 2200; v++) expect(shadow.get(mm, v)).toBe(ref.get(`${mm}:${v}`) ?? 0);
        }
      }),
      { numRuns: 60 },
    );
  });
});
