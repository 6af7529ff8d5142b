import { spin, type ProcessBody } from "../engine/index.ts";
import { Errno, HPAGE_PMD_NR, HPAGE_PMD_SIZE, PAGE_SIZE } from "./constants.ts";
import { folioGet, folioOf, folioPut, folioTrylock, folioUnlock } from "./folio.ts";
import { largeFolioAt, migrateVmaSplitFolio, splitFolio } from "./migrate-split.ts";
import { mmuNotifierInvalidate, mmuNotifierInvalidateEnd, type MmuNotifierRange } from "./mmu-notifier.ts";
import type { Kernel } from "./kernel.ts";
import {
  migrateDeviceFinalizeCommon,
  migrateDevicePagesCommon,
  migrateDeviceUnmap,
  noDst,
  noSrc,
  setMigrationEntry,
} from "./migrate-device.ts";
import { mmOf } from "./mm.ts";
import { MIGRATE_VMA_SELECT_COMPOUND, MIGRATE_VMA_SELECT_DEVICE_PRIVATE, MIGRATE_VMA_SELECT_SYSTEM, migrateEntries, type MigrateDst, type MigrateSrc, type MigrateVma } from "./migrate-types.ts";
import { vmaIsAnonymous, type MmState, type VmaState } from "./state.ts";

/**
 * Device memory migration (mm/migrate_device.c, as of v6.15/v6.16): migrate_vma_setup collects,
 * locks and unmaps the pages of a range; the driver allocates and locks destinations and copies
 * the data; migrate_vma_pages moves the struct-page state; migrate_vma_finalize maps the
 * destinations (or the sources again) and releases the rest. The migrate_device_* entry points
 * do the same for device pages found by pfn rather than by address (migrate-device.ts).
 *
 * The caller holds the mmap lock for read from setup to finalize, as the kernel requires; the
 * model does not check it. No step costs simulated time of its own.
 */

export {
  MIGRATE_VMA_SELECT_COMPOUND,
  MIGRATE_VMA_SELECT_DEVICE_COHERENT,
  MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
  MIGRATE_VMA_SELECT_SYSTEM,
  type MigrateDst,
  type MigrateSrc,
  type MigrateVma,
} from "./migrate-types.ts";
export { migrateDeviceFinalize, migrateDevicePages, migrateDevicePfns } from "./migrate-device.ts";

/** struct migrate_vma as a driver fills it in, with src and dst sized for the range. */
export function newMigrateVma(mm: number, vma: number, start: number, end: number, flags: number, pgmapOwner: number, faultFolio = -1, faultIndex = 0): MigrateVma {
  const n = Math.max(0, Math.floor((end - start) / PAGE_SIZE));
  return {
    mm,
    vma,
    start,
    end,
    flags,
    pgmapOwner,
    faultFolio,
    faultIndex,
    src: new Array<MigrateSrc>(n).fill(noSrc()),
    dst: new Array<MigrateDst>(n).fill(noDst()),
    cpages: 0,
    npages: 0,
  };
}


/**
 * migrate_vma_setup: check the arguments, collect the range (migrate_vma_collect), then unmap
 * what was collected (migrate_vma_unmap). Returns 0 or -EINVAL; cpages says how many entries,
 * holes included, are left migrating.
 */
export function* migrateVmaSetup(k: Kernel, m: MigrateVma): ProcessBody<number> {
  // The page count comes from the range before rounding, as in the kernel.
  const nr = Math.trunc((m.end - m.start) / PAGE_SIZE);
  m.start -= m.start % PAGE_SIZE;
  m.end -= m.end % PAGE_SIZE;
  const vma = k.state.vmas.get(m.vma);
  if (vma === undefined) return -Errno.EINVAL;
  if (vma.mm !== m.mm) throw new Error(`migrate_vma: vma ${vma.id} belongs to mm ${vma.mm}, not ${m.mm}`);
  if (nr <= 0) return -Errno.EINVAL;
  if (m.start < vma.startAddr || m.start >= vma.endAddr) return -Errno.EINVAL;
  if (m.end <= vma.startAddr || m.end > vma.endAddr) return -Errno.EINVAL;
  if (m.faultFolio !== -1) {
    const fault = folioOf(k, m.faultFolio);
    if (fault.memory !== "device" || fault.lockOwner === -1) return -Errno.EINVAL;
  }
  m.src.fill(noSrc(), 0, nr);
  m.cpages = 0;
  m.npages = 0;
  // migrate_vma_collect brackets its walk with an owner-tagged MMU_NOTIFY_MIGRATE range.
  const range: MmuNotifierRange = { mm: m.mm, start: m.start, end: m.end, event: "migrate", owner: m.pgmapOwner };
  yield* mmuNotifierInvalidate(k, range);
  yield* migrateVmaCollect(k, m, vma);
  mmuNotifierInvalidateEnd(k, range);
  if (m.cpages > 0) m.cpages = yield* migrateDeviceUnmap(k, m.src, m.npages, m.faultFolio);
  if (k.costs.migrateSetupNsPerEntry > 0) yield spin(Math.round(migrateEntries(m.src, m.npages) * k.costs.migrateSetupNsPerEntry)); // the walk, locks, unmaps and flushes
  return 0;
}

/**
 * migrate_vma_collect: walk_page_range over the range, one PMD-sized block at a time
 * (migrate_vma_collect_pmd). migrate_vma_setup raises the mmu notifier range around it.
 */
function* migrateVmaCollect(k: Kernel, m: MigrateVma, vma: VmaState): ProcessBody<void> {
  for (let addr = m.start; addr < m.end; ) {
    const next = Math.min(m.end, addr - (addr % HPAGE_PMD_SIZE) + HPAGE_PMD_SIZE);
    yield* migrateVmaCollectPmd(k, m, vma, addr, next);
    addr = next;
  }
  m.end = m.start + m.npages * PAGE_SIZE;
}

/** migrate_vma_collect_skip: entries that will not migrate. */
function migrateVmaCollectSkip(m: MigrateVma, start: number, end: number): void {
  for (let addr = start; addr < end; addr += PAGE_SIZE) {
    m.dst[m.npages] = noDst();
    m.src[m.npages++] = noSrc();
  }
}

/** The THP a present PMD leaf maps at the 2 MiB block holding `addr` (pmd_trans_huge), or -1. */
function pmdMappedThp(mm: MmState, addr: number): number {
  const leaf = mm.ptes.pmd(Math.floor(addr / PAGE_SIZE));
  return leaf !== undefined && leaf.kind === "present" ? leaf.folio : -1;
}

/**
 * migrate_vma_collect_pmd for [start, end) inside one PMD-sized block. A PMD-mapped THP is split
 * first, whatever the select flags, and its pages are then collected one by one. Each entry then
 * decides its src word: a hole in an anonymous VMA is collected as is; a device-private entry
 * needs SELECT_DEVICE_PRIVATE and the right owner; a present page needs SELECT_SYSTEM; pages of
 * large folios, migration entries and pages whose lock is taken are left alone. A collected page
 * is referenced, locked and unmapped to a migration entry right here, under the page table lock
 * (nothing in the walk sleeps).
 */
function* migrateVmaCollectPmd(k: Kernel, m: MigrateVma, vma: VmaState, start: number, end: number): ProcessBody<void> {
  const mm = mmOf(k, vma.mm);
  // The device-THP mm (v6.19+, the newest variant): collect_huge_pmd first.
  if (k.deviceThpMm) {
    if ((yield* migrateVmaCollectHugePmd(k, m, vma, start, end)) === 0) return;
    return yield* migrateVmaCollectPtes(k, m, vma, mm, start, end);
  }
  const thp = pmdMappedThp(mm, start);
  if (thp !== -1) {
    folioGet(k, thp);
    // Both early returns keep the reference just taken: a leak in the seed kernel, mirrored here
    // (fixed upstream when device THP migration rewrote this path).
    if (thp === m.faultFolio) return migrateVmaCollectSkip(m, start, end);
    if (!folioTrylock(k, thp)) return migrateVmaCollectSkip(m, start, end);
    const split = yield* splitFolio(k, thp, mm.id, Math.floor(start / PAGE_SIZE));
    if (thp !== m.faultFolio) folioUnlock(k, thp);
    yield* folioPut(k, thp);
    if (!split) return migrateVmaCollectSkip(m, start, end);
  }
  yield* migrateVmaCollectPtes(k, m, vma, mm, start, end);
}

/** migrate_vma_collect_pmd's PTE loop over [start, end) of one PMD-sized block. */
function* migrateVmaCollectPtes(k: Kernel, m: MigrateVma, vma: VmaState, mm: MmState, start: number, end: number): ProcessBody<void> {
  for (let addr = start; addr < end; addr += PAGE_SIZE) {
    const vpn = Math.floor(addr / PAGE_SIZE);
    // The device-THP mm: a page of a large folio (device-private or present) splits the folio
    // (migrate_vma_split_folio) and the walk goes on from this page; failure skips the rest.
    if (k.deviceThpMm && largeFolioAt(k, m, mm, vpn)) {
      if (!(yield* migrateVmaSplitFolio(k, m, mm.ptes.folio(vpn), mm.id, vpn))) return migrateVmaCollectSkip(m, addr, end);
    }
    const kind = mm.ptes.kind(vpn); // read in place: no snapshot object per page
    let mpfn = noSrc();
    collect: {
      if (kind === undefined) {
        if (vmaIsAnonymous(vma)) {
          mpfn = { folio: -1, index: 0, migrate: true, write: false };
          m.cpages++;
        }
        break collect;
      }
      const folio = mm.ptes.folio(vpn);
      if (kind === "migration") break collect; // not a device-private entry
      if (kind === "device-private") {
        const owner = k.pagemapOwner(folioOf(k, folio).pagemap);
        if ((m.flags & MIGRATE_VMA_SELECT_DEVICE_PRIVATE) === 0 || owner !== m.pgmapOwner) break collect;
      } else if ((m.flags & MIGRATE_VMA_SELECT_SYSTEM) === 0) {
        // Present entries map only system pages: the model has no zero page and no device-coherent memory.
        break collect;
      }
      // Pages of large folios are not migrated (v6.15's "FIXME support THP"; split above in v6.19+).
      if (folioOf(k, folio).order !== 0) break collect;

      const index = mm.ptes.index(vpn);
      folioGet(k, folio);
      if (folio !== m.faultFolio && !folioTrylock(k, folio)) {
        yield* folioPut(k, folio);
        break collect;
      }
      // folio_try_share_anon_rmap_pte refuses a maybe-pinned exclusive page; the entry stays.
      if (vmaIsAnonymous(vma) && folioOf(k, folio).pincount > 0) {
        if (folio !== m.faultFolio) folioUnlock(k, folio);
        yield* folioPut(k, folio);
        break collect;
      }
      m.cpages++;
      yield* setMigrationEntry(k, mm.id, vpn, folio, index);
      mpfn = { folio, index, migrate: true, write: vma.write };
    }
    m.dst[m.npages] = noDst();
    m.src[m.npages++] = mpfn;
  }
}

/**
 * migrate_vma_collect_huge_pmd (and, with SELECT_COMPOUND, migrate_vma_collect_hole for an
 * empty PMD): with SELECT_COMPOUND a whole aligned block that is empty, a PMD-mapped THP, or our device-private PMD becomes
 * one compound src word (the other 511 empty), a mapped one unmapped to a PMD migration entry.
 * Returns 0 when the block is dealt with, -ENOENT to walk its PTEs (after splitting a THP the
 * range covers only part of). The seed's reference leak is fixed here: a failed trylock puts.
 */
function* migrateVmaCollectHugePmd(k: Kernel, m: MigrateVma, vma: VmaState, start: number, end: number): ProcessBody<number> {
  const mm = mmOf(k, vma.mm);
  const head = Math.floor(start / HPAGE_PMD_SIZE) * HPAGE_PMD_NR;
  const leaf = mm.ptes.pmd(head);
  // One compound entry only when the caller asks (SELECT_COMPOUND) and the range covers the block.
  const aligned = (m.flags & MIGRATE_VMA_SELECT_COMPOUND) !== 0 && start % HPAGE_PMD_SIZE === 0 && end - start === HPAGE_PMD_SIZE;
  if (leaf === undefined) {
    // pmd_none: an untouched block; with PTEs, the PTE walk.
    if (!aligned || !vmaIsAnonymous(vma) || mm.ptes.nextVpn(head, head + HPAGE_PMD_NR) !== -1) return -Errno.ENOENT;
    m.cpages++;
    m.dst[m.npages] = noDst();
    m.src[m.npages++] = { folio: -1, index: 0, migrate: true, write: false, compound: true };
    migrateVmaCollectSkip(m, start + PAGE_SIZE, end); // kept as holes in case of a later split
    return 0;
  }
  const folio = leaf.folio;
  const skip = (): number => (migrateVmaCollectSkip(m, start, end), 0);
  if (leaf.kind === "migration") return skip(); // the kernel waits and retries the walk (-EAGAIN)
  if (leaf.kind === "present" && (m.flags & MIGRATE_VMA_SELECT_SYSTEM) === 0) return skip();
  if (leaf.kind === "device-private" && ((m.flags & MIGRATE_VMA_SELECT_DEVICE_PRIVATE) === 0 || k.pagemapOwner(folioOf(k, folio).pagemap) !== m.pgmapOwner)) return skip();
  folioGet(k, folio);
  if (folio !== m.faultFolio && !folioTrylock(k, folio)) {
    yield* folioPut(k, folio);
    return skip();
  }
  if (aligned) {
    m.cpages++;
    // set_pmd_migration_entry: the leaf becomes a PMD migration entry; its mapping's reference goes.
    k.commit({ kind: "pmd.clear", mm: mm.id, vpn: head });
    k.commit({ kind: "pmd.set", mm: mm.id, vpn: head, pteKind: "migration", folio });
    yield* folioPut(k, folio);
    m.dst[m.npages] = noDst();
    m.src[m.npages++] = { folio, index: 0, migrate: true, write: vma.write, compound: true };
    migrateVmaCollectSkip(m, start + PAGE_SIZE, end);
    return 0;
  }
  // The fallback: split the folio (a system THP or a device one alike) and walk its PTEs.
  const split = yield* splitFolio(k, folio, mm.id, head);
  if (folio !== m.faultFolio) folioUnlock(k, folio);
  yield* folioPut(k, folio);
  return split ? -Errno.ENOENT : skip();
}

/** migrate_vma_pages: see migrateDevicePagesCommon. */
export function* migrateVmaPages(k: Kernel, m: MigrateVma): ProcessBody<void> {
  yield* migrateDevicePagesCommon(k, m.src, m.dst, m.npages, m);
}

/** migrate_vma_finalize: see migrateDeviceFinalizeCommon. */
export function* migrateVmaFinalize(k: Kernel, m: MigrateVma): ProcessBody<void> {
  yield* migrateDeviceFinalizeCommon(k, m.src, m.dst, m.npages, m.faultFolio);
}
