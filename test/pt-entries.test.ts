import { describe, expect, it } from "vitest";
import { hmmEntryOrders, type PagesView } from "../src/platform/pt-entries.ts";

/**
 * The entries hmm_range_fault returns (src/platform/pt-entries.ts): a PMD leaf of an order-9
 * folio is one order-9 entry; the same folio mapped by 512 PTEs (its PMD split, the folio whole,
 * as after an unaligned mprotect) is 512 order-0 entries, as hmm_vma_handle_pte reports each.
 */
const BLOCK = 2 * 1024 * 1024;

function wholeThp(pmdLeaf: boolean): PagesView {
  return { count: 512, folioAt: () => 7, indexAt: (i) => i, orderOf: () => 9, pmdLeafAt: () => pmdLeaf };
}

describe("hmmEntryOrders", () => {
  it("a PMD leaf over an order-9 folio is one order-9 entry", () => {
    expect(hmmEntryOrders(BLOCK, wholeThp(true))).toEqual([9]);
  });

  it("the same folio mapped by PTEs is 512 order-0 entries", () => {
    const orders = hmmEntryOrders(BLOCK, wholeThp(false));
    expect(orders).toHaveLength(512);
    expect(new Set(orders)).toEqual(new Set([0]));
  });

  it("a range that does not cover the whole PMD is entered page by page (drm_gpusvm clips the order to the range)", () => {
    expect(hmmEntryOrders(BLOCK, { ...wholeThp(true), count: 16 })).toHaveLength(16);
  });
});
