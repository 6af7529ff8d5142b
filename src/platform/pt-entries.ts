import { HPAGE_PMD_ORDER, HPAGE_PMD_NR, HPAGE_PMD_SIZE, PAGE_SIZE } from "../kernel/constants.ts";


/** A range's pages as get_pages sees them: page i's folio (-1: nothing mapped yet), its page within that folio, and whether a PMD leaf maps it. */
export interface PagesView {
  count: number;
  folioAt(i: number): number;
  indexAt(i: number): number;
  orderOf(folio: number): number;
  pmdLeafAt(i: number): boolean;
}

/**
 * The entries hmm_range_fault hands drm_gpusvm_range_get_pages, each as its order
 * (drm_gpusvm_hmm_pfn_to_order: the hmm order clipped to the range): a 2 MiB-aligned block of
 * the range mapped by one PMD leaf of an order-9 folio (a PMD-mapped THP: hmm_vma_handle_pmd; or a
 * device-private PMD: hmm_vma_handle_absent_pmd) is one order-9 entry; every other page is its
 * own order-0 entry: one mapped by a PTE (hmm_vma_handle_pte gives order 0 even when its folio is a
 * whole THP whose PMD was split), or an unmapped one (hmm faults it in as such).
 */
export function hmmEntryOrders(startAddr: number, pages: PagesView): number[] {
  const orders: number[] = [];
  for (let i = 0; i < pages.count; ) {
    if (pmdMapped(startAddr + i * PAGE_SIZE, pages, i)) {
      orders.push(HPAGE_PMD_ORDER);
      i += HPAGE_PMD_NR;
    } else {
      orders.push(0);
      i++;
    }
  }
  return orders;
}

/** Pages [i, i + 512) start at a 2 MiB boundary, inside the range, under one PMD leaf of an order-9 folio. */
function pmdMapped(addr: number, pages: PagesView, i: number): boolean {
  if (addr % (HPAGE_PMD_SIZE) !== 0 || i + HPAGE_PMD_NR > pages.count || !pages.pmdLeafAt(i)) return false;
  const head = pages.folioAt(i);
  return head !== -1 && pages.orderOf(head) === HPAGE_PMD_ORDER;
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
