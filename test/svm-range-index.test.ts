import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SvmRangeIndex } from "../src/platform/svm-range-index.ts";

interface R {
  id: number;
  mm: number;
  start: number;
  end: number;
}

// The index against the scan it replaced in gpu-svm.ts: the same answers under random inserts
// (refused when they overlap, as svm_range.insert refuses them) and removes.
describe("SvmRangeIndex", () => {
  it("finds by address and by overlap exactly as a scan of every range does, overlaps in id order", () => {
    const op = fc.oneof(
      fc.record({ insert: fc.constant(true), mm: fc.integer({ min: 0, max: 2 }), start: fc.integer({ min: 0, max: 60 }), pages: fc.constantFrom(1, 2, 4, 16) }),
      fc.record({ insert: fc.constant(false), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), fc.array(fc.record({ mm: fc.integer({ min: 0, max: 2 }), a: fc.integer({ min: -2, max: 80 }), b: fc.integer({ min: 0, max: 20 }) }), { maxLength: 30 }), (ops, probes) => {
        const index = new SvmRangeIndex<R>();
        const live: R[] = [];
        let nextId = 0;
        const scanOverlapping = (mm: number, start: number, end: number): R[] => live.filter((r) => r.mm === mm && start < r.end && r.start < end).sort((x, y) => x.id - y.id);
        for (const o of ops) {
          if ("mm" in o) {
            const r = { id: nextId++, mm: o.mm, start: o.start * 4096, end: (o.start + o.pages) * 4096 };
            if (scanOverlapping(r.mm, r.start, r.end).length > 0) continue;
            expect(index.overlapping(r.mm, r.start, r.end)).toEqual([]);
            index.insert(r);
            live.push(r);
          } else if (live.length > 0) {
            const [r] = live.splice(o.pick % live.length, 1);
            index.remove(r!);
          }
        }
        for (const p of probes) {
          const addr = p.a * 4096 + 17;
          expect(index.at(p.mm, addr)).toBe(live.find((r) => r.mm === p.mm && addr >= r.start && addr < r.end));
          expect(index.overlapping(p.mm, p.a * 4096, (p.a + p.b) * 4096)).toEqual(scanOverlapping(p.mm, p.a * 4096, (p.a + p.b) * 4096));
        }
      }),
    );
  });
});
