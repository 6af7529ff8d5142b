import { IllegalTransition } from "../kernel/apply.ts";
import { PAGE_SIZE } from "../kernel/constants.ts";
import type { ModelState } from "../pagemap/state.ts";
import { pfnsOf, VramBuddy, type VramBlock } from "./vram-buddy.ts";

/**
 * The VRAM side of the driver, event-sourced: the buddy allocator (drm_buddy behind TTM's VRAM
 * manager), the blocks each device-memory allocation holds, and TTM's LRU (when the GPU last used
 * each allocation, in allocation order: the eviction victim is the oldest, ties to the first made).
 */
export interface VramState {
  buddy: VramBuddy;
  /** Allocation (devmem) → the blocks it holds, from vram.alloc to vram.free. */
  blocksOf: Map<number, VramBlock[]>;
  /** Allocation → when the GPU last used it (populate or bind); off the LRU while being evicted. */
  lastUseNs: Map<number, number>;
}

/** The VRAM events (see PlatformEvent in events.ts). */
export type VramEvent =
  /** The VRAM manager's buddy allocator is set up: sizeBytes of VRAM, roots of 2^maxOrder pages, blocks taken from one end. */
  | { kind: "vram.init"; sizeBytes: number; maxOrder: number; placement: "low" | "high" }
  /** Blocks for allocation devmem (populate_mm, before drm_pagemap_devmem_init): pfns are their pages, in order; the allocation joins the LRU at atNs. */
  | { kind: "vram.alloc"; devmem: number; owner: number; sizeBytes: number; pfns: number[]; atNs: number }
  /** The GPU used the allocation at atNs (a bind of its pages): it moves to the LRU's tail. */
  | { kind: "vram.touch"; devmem: number; atNs: number }
  /** The allocation is the LRU's eviction victim: off the LRU while its pages are evicted. */
  | { kind: "vram.evict"; devmem: number }
  /** The allocation's blocks go back to the allocator (devmem_release's BO put). */
  | { kind: "vram.free"; devmem: number };

export function applyVramEvent(state: ModelState & { vram: VramState | null }, ev: VramEvent): void {
  if (ev.kind === "vram.init") {
    if (state.vram !== null) throw new IllegalTransition("VRAM set up twice");
    state.vram = { buddy: new VramBuddy(ev.sizeBytes / PAGE_SIZE, { maxOrder: ev.maxOrder, placement: ev.placement }), blocksOf: new Map(), lastUseNs: new Map() };
    return;
  }
  const vram = state.vram;
  if (vram === null) throw new IllegalTransition(`${ev.kind} before vram.init`);
  switch (ev.kind) {
    case "vram.alloc":
      return allocate(state, vram, ev);
    case "vram.touch":
      if (!vram.lastUseNs.has(ev.devmem)) throw new IllegalTransition(`devmem ${ev.devmem} is not on the VRAM LRU`);
      vram.lastUseNs.set(ev.devmem, ev.atNs);
      return;
    case "vram.evict":
      if (!vram.lastUseNs.delete(ev.devmem)) throw new IllegalTransition(`devmem ${ev.devmem} evicted but not on the VRAM LRU`);
      return;
    case "vram.free": {
      const blocks = vram.blocksOf.get(ev.devmem);
      if (blocks === undefined) throw new IllegalTransition(`devmem ${ev.devmem} holds no VRAM to free`);
      vram.buddy.free(blocks);
      vram.blocksOf.delete(ev.devmem);
      vram.lastUseNs.delete(ev.devmem);
      return;
    }
    default: {
      const unknown: never = ev;
      throw new IllegalTransition(`unknown VRAM event kind ${(unknown as { kind: string }).kind}`);
    }
  }
}

/** vram.alloc: the allocator must hand out exactly the pages recorded, to the next allocation id. */
function allocate(state: ModelState, vram: VramState, ev: Extract<VramEvent, { kind: "vram.alloc" }>): void {
  if (ev.devmem !== state.nextDevmemId) throw new IllegalTransition(`VRAM for devmem ${ev.devmem}, but the next allocation is devmem ${state.nextDevmemId}`);
  const got = vram.buddy.alloc(ev.sizeBytes / PAGE_SIZE, ev.owner);
  if (got === null) throw new IllegalTransition(`${ev.sizeBytes / PAGE_SIZE} pages of VRAM asked for, ${vram.buddy.freePages} free`);
  const pfns = pfnsOf(got.blocks);
  const differs = pfns.length !== ev.pfns.length || pfns.some((pfn, i) => pfn !== ev.pfns[i]);
  if (differs) {
    vram.buddy.free(got.blocks);
    throw new IllegalTransition(`the allocator hands out pfns ${span(pfns)}, not ${span(ev.pfns)}`);
  }
  vram.blocksOf.set(ev.devmem, got.blocks);
  vram.lastUseNs.set(ev.devmem, ev.atNs);
}

const span = (pfns: readonly number[]) => (pfns.length === 0 ? "none" : `${pfns[0]}…${pfns[pfns.length - 1]} (${pfns.length})`);

/**
 * VRAM invariants: the blocks the allocations hold are exactly the allocator's allocated pages,
 * no page in two allocations, no released allocation holding blocks, every live device folio's
 * page inside a block of some allocation.
 */
export function vramProblems(state: ModelState & { vram: VramState | null }): string[] {
  const vram = state.vram;
  if (vram === null) return [];
  const problems: string[] = [];
  const held: { pfn: number; pages: number; devmem: number }[] = [];
  for (const [devmem, blocks] of vram.blocksOf) {
    const d = state.devmems.get(devmem);
    if (d === undefined || d.released) problems.push(`devmem ${devmem} ${d === undefined ? "does not exist" : "is released"} but holds VRAM`);
    for (const b of blocks) held.push({ pfn: b.pfn, pages: 2 ** b.order, devmem });
  }
  held.sort((a, b) => a.pfn - b.pfn);
  let pages = 0;
  held.forEach((b, i) => {
    pages += b.pages;
    const prev = held[i - 1];
    if (prev !== undefined && prev.pfn + prev.pages > b.pfn) problems.push(`VRAM page ${b.pfn} held by devmem ${prev.devmem} and devmem ${b.devmem}`);
  });
  if (pages !== vram.buddy.usedPages) problems.push(`allocations hold ${pages} VRAM pages, the allocator has ${vram.buddy.usedPages} in use`);
  for (const folio of state.folios.values()) {
    if (folio.freed || folio.memory !== "device") continue;
    if (heldBlock(held, folio.pfn) === undefined) problems.push(`device folio ${folio.id} at pfn ${folio.pfn}: no allocation holds that VRAM page`);
  }
  return problems.slice(0, 10);
}

/** The held block containing pfn (blocks sorted by pfn, disjoint), by binary search. */
function heldBlock<B extends { pfn: number; pages: number }>(held: readonly B[], pfn: number): B | undefined {
  let lo = 0;
  let hi = held.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const b = held[mid]!;
    if (pfn < b.pfn) hi = mid - 1;
    else if (pfn >= b.pfn + b.pages) lo = mid + 1;
    else return b;
  }
  return undefined;
}
