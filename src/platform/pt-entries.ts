import { HPAGE_PMD_ORDER, PAGE_SIZE } from "../kernel/constants.ts";

/** Pages a 2 MiB (PMD-level) entry covers. */
const PMD_PAGES = 1 << HPAGE_PMD_ORDER;

/** A range's pages as get_pages sees them: page i's folio (-1: nothing mapped yet) and its page within that folio. */
export interface PagesView {
  count: number;
  folioAt(i: number): number;
  indexAt(i: number): number;
  orderOf(folio: number): number;
}

/**
 * The entries hmm_range_fault hands drm_gpusvm_range_get_pages, each as its order
 * (drm_gpusvm_hmm_pfn_to_order: the hmm order clipped to the range): a 2 MiB-aligned block of
 * the range mapped wholly by one order-9 folio, page i at offset i (a PMD-mapped THP), is one
 * order-9 entry; every other page (an unmapped one too: hmm faults it in as such) is its own
 * order-0 entry.
 */
export function hmmEntryOrders(startAddr: number, pages: PagesView): number[] {
  const orders: number[] = [];
  for (let i = 0; i < pages.count; ) {
    if (pmdMapped(startAddr + i * PAGE_SIZE, pages, i)) {
      orders.push(HPAGE_PMD_ORDER);
      i += PMD_PAGES;
    } else {
      orders.push(0);
      i++;
    }
  }
  return orders;
}

/** Pages [i, i + 512) start at a 2 MiB boundary and are pages 0..511 of one order-9 folio. */
function pmdMapped(addr: number, pages: PagesView, i: number): boolean {
  if (addr % (PMD_PAGES * PAGE_SIZE) !== 0 || i + PMD_PAGES > pages.count) return false;
  const head = pages.folioAt(i);
  if (head === -1 || pages.orderOf(head) !== HPAGE_PMD_ORDER) return false;
  for (let j = 0; j < PMD_PAGES; j++) {
    if (pages.folioAt(i + j) !== head || pages.indexAt(i + j) !== j) return false;
  }
  return true;
}

/**
 * The leaf PTEs xe_pt_stage_bind writes for a range's entries (its one-line mirror: a leaf per
 * walk step). xe_pt_hugepte_possible allows a 2 MiB leaf where the range covers the whole
 * 2 MiB-aligned entry and one DMA segment covers it at a 2 MiB-aligned address: an order-9 entry
 * (one dma_map_page of the THP: its IOVA is size-aligned; or a 2 MiB VRAM block). Anything else
 * is written as 4 KiB leaves. The cursor's coalescing of separate, contiguous 4 KiB entries
 * (__xe_res_dma_next) is not modelled: see docs/platform.md.
 */
export function xePtLeaves(orders: readonly number[]): number {
  let leaves = 0;
  for (const order of orders) leaves += order === HPAGE_PMD_ORDER ? 1 : 1 << order;
  return leaves;
}
