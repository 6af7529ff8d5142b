import type { ProcessBody } from "../engine/index.ts";
import { HPAGE_PMD_NR, nrPages, PAGE_SIZE } from "./constants.ts";
import { folioGet, folioLock, folioOf, folioPut, folioUnlock } from "./folio.ts";
import { splitHugePmd } from "./huge-memory.ts";
import type { Kernel } from "./kernel.ts";
import { mmuNotifierInvalidate, mmuNotifierInvalidateEnd, type MmuNotifierRange } from "./mmu-notifier.ts";
import { MIGRATE_VMA_SELECT_DEVICE_PRIVATE, MIGRATE_VMA_SELECT_SYSTEM, type MigrateVma } from "./migrate-types.ts";
import type { MmState } from "./state.ts";

/**
 * The folio splits of mm/migrate_device.c (v6.19+ with device THP): split_folio on a THP the
 * collection meets (split_folio, migrate_vma_split_folio) and the split of a compound source
 * whose destinations are order 0 (migrate_vma_split_unmapped_folio).
 */

/**
 * split_folio on a THP its caller has locked and holds one reference to, PMD-mapped at `vpn` of
 * `mm`. can_split_folio wants no other reference beyond the mappings'; then the PMD is split
 * (512 PTEs, +511 references) and every page becomes an order-0 folio (one folio.split event
 * standing for unmap, freeze, split and remap), page 0 keeping the caller's lock and reference,
 * and __folio_split puts its own reference on each of the others, freeing those no entry maps.
 * Returns whether it split (the kernel's -EAGAIN otherwise).
 */
export function* splitFolio(k: Kernel, id: number, mm: number, vpn: number): ProcessBody<boolean> {
  const folio = folioOf(k, id);
  if (folio.pincount > 0 || folio.refcount !== folio.mapcount + 1) return false;
  splitHugePmd(k, mm, vpn, false);
  // unmap_folio's TTU_SPLIT_HUGE_PMD: every other PMD mapping of it (a fork's) splits too.
  for (const site of [...k.state.folios.mappings(id)]) if (site.vpn % HPAGE_PMD_NR === 0) splitHugePmd(k, site.mm, site.vpn, false);
  // unmap_folio → try_to_migrate_one: each mapping is invalidated in secondary MMUs
  // (MMU_NOTIFY_CLEAR, begun and ended around its unmap, before the split; remap_page maps the
  // new folios after it).
  for (const range of mappedRanges(k, id)) {
    yield* mmuNotifierInvalidate(k, range);
    mmuNotifierInvalidateEnd(k, range);
  }
  // folio_ref_freeze: a reference taken while the notifiers ran fails the split (remap, -EAGAIN).
  const now = folioOf(k, id);
  if (now.pincount > 0 || now.refcount !== now.mapcount + 1) return false;
  const firstNew = k.state.nextFolioId;
  const n = nrPages(folio.order);
  const device = folio.memory === "device";
  k.commit({ kind: "folio.split", folio: id, firstNew });
  // dev_pagemap_ops.folio_split for each new device folio, before any of them can be freed.
  if (device) for (let i = 1; i < n; i++) k.pagemap(folio.pagemap).folioSplit?.(id, firstNew + i - 1);
  for (let i = 1; i < n; i++) yield* folioPut(k, firstNew + i - 1);
  return true;
}

/** The notifier ranges of a folio's mappings: one per run of consecutive pages in an mm. */
function mappedRanges(k: Kernel, id: number): MmuNotifierRange[] {
  if (k.mmuNotifiers.length === 0) return [];
  const sites = [...k.state.folios.mappings(id)].sort((a, b) => a.mm - b.mm || a.vpn - b.vpn);
  const ranges: MmuNotifierRange[] = [];
  for (const { mm, vpn } of sites) {
    const last = ranges[ranges.length - 1];
    if (last !== undefined && last.mm === mm && last.end === vpn * PAGE_SIZE) last.end += PAGE_SIZE;
    else ranges.push({ mm, start: vpn * PAGE_SIZE, end: (vpn + 1) * PAGE_SIZE, event: "clear", owner: -1 });
  }
  return ranges;
}

/** Whether the entry at `vpn` maps, or is the device-private entry of, a page of a large folio the walk would select. */
export function largeFolioAt(k: Kernel, m: MigrateVma, mm: MmState, vpn: number): boolean {
  const kind = mm.ptes.kind(vpn);
  if (kind === undefined || kind === "migration") return false;
  const folio = folioOf(k, mm.ptes.folio(vpn));
  if (folio.order === 0) return false;
  if (kind === "present") return (m.flags & MIGRATE_VMA_SELECT_SYSTEM) !== 0;
  return (m.flags & MIGRATE_VMA_SELECT_DEVICE_PRIVATE) !== 0 && k.pagemapOwner(folio.pagemap) === m.pgmapOwner;
}

/**
 * migrate_vma_split_folio: split a PTE-mapped large folio met by the walk. Unless it is the fault
 * folio (locked and referenced by the fault path), take a reference and the lock first. After
 * the split the lock follows the fault page: if the fault page now sits in a new order-0 folio,
 * that folio is referenced and locked and the original unlocked and put, so what the fault path
 * unlocks and puts later is the fault page's own folio. Returns whether it split.
 */
export function* migrateVmaSplitFolio(k: Kernel, m: MigrateVma, id: number, mm: number, vpn: number): ProcessBody<boolean> {
  const faultFolio = m.faultFolio;
  if (id !== faultFolio) {
    folioGet(k, id);
    yield* folioLock(k, id);
  }
  const firstNew = k.state.nextFolioId;
  if (!(yield* splitFolio(k, id, mm, vpn))) {
    if (id !== faultFolio) {
      folioUnlock(k, id);
      yield* folioPut(k, id);
    }
    return false;
  }
  // page_folio(fault_page) after the split: page i of the original is now its own folio.
  const newFaultFolio = faultFolio !== id ? faultFolio : m.faultIndex === 0 ? id : firstNew + m.faultIndex - 1;
  if (faultFolio === id) {
    m.faultFolio = newFaultFolio;
    m.faultIndex = 0;
  }
  if (newFaultFolio !== id) {
    if (newFaultFolio !== -1 && newFaultFolio !== faultFolio) {
      folioGet(k, newFaultFolio);
      yield* folioLock(k, newFaultFolio);
    }
    folioUnlock(k, id);
    yield* folioPut(k, id);
  }
  return true;
}


/**
 * migrate_vma_split_unmapped_folio: a compound source whose destination is order 0 (a driver
 * that could not allocate, or does not do, large destinations). The PMD migration entry at
 * `addr` is split with freeze into 512 PTE migration entries, then the unmapped folio is split
 * (folio_split_unmapped: every new folio left locked, holding one reference: the migration's);
 * the head's word loses COMPOUND and the 511 words after it name pages 1..511 with its flags.
 * Returns whether it split. The kernel takes one more reference first, which can_split_folio
 * counts as the caller's pin; the model's split counts the migration's reference as that one.
 */
export function* migrateVmaSplitUnmappedFolio(k: Kernel, m: MigrateVma, idx: number, addr: number, id: number): ProcessBody<boolean> {
  const vpn = Math.floor(addr / PAGE_SIZE);
  // split_huge_pmd_address(vma, addr, freeze = true), on the PMD migration entry the collection
  // left (a zap during the migration may have cleared it; nothing else is split then).
  const leaf = k.state.mms.get(m.mm)?.ptes.pmd(vpn);
  if (leaf !== undefined && leaf.kind === "migration" && leaf.folio === id) splitHugePmd(k, m.mm, vpn, true);
  const folio = folioOf(k, id);
  // can_split_folio: no mapping and no reference beyond the migration's; PMD migration entries
  // elsewhere (another mm's) are left to the kernel's rmap, which the model does not follow here.
  const pmdSites = (k.state.migrationSites.get(id) ?? []).some((s) => k.state.mms.get(s.mm)?.ptes.pmd(s.vpn) !== undefined);
  if (folio.mapcount !== 0 || folio.pincount !== 0 || folio.refcount !== 1 || pmdSites) return false;
  const firstNew = k.state.nextFolioId;
  const n = nrPages(folio.order);
  const head = m.src[idx]!;
  k.commit({ kind: "folio.split", folio: id, firstNew });
  for (let i = 1; i < n; i++) {
    if (folio.memory === "device") k.pagemap(folio.pagemap).folioSplit?.(id, firstNew + i - 1);
    k.commit({ kind: "folio.lock", folio: firstNew + i - 1, owner: folio.lockOwner }); // "none of the split folios are unlocked"
  }
  m.src[idx] = { folio: id, index: 0, migrate: head.migrate, write: head.write };
  for (let i = 1; i < n; i++) m.src[idx + i] = { folio: firstNew + i - 1, index: 0, migrate: head.migrate, write: head.write };
  return true;
}
