import { spin, type ProcessBody } from "../engine/index.ts";
import { HPAGE_PMD_NR, PAGE_SIZE } from "./constants.ts";
import { folioGet, folioOf, folioPut, folioTrylock, folioUnlock } from "./folio.ts";
import { mmuNotifierInvalidate, mmuNotifierInvalidateEnd, type MmuNotifierRange } from "./mmu-notifier.ts";
import type { Kernel } from "./kernel.ts";
import { migrateEntries, type MigrateDst, type MigrateSrc, type MigrateVma } from "./migrate-types.ts";
import { migrateVmaInsertPage, migrateVmaInsertHugePmdPage } from "./migrate-insert.ts";
import { migrateVmaSplitUnmappedFolio } from "./migrate-split.ts";
import { mmOf } from "./mm.ts";
import { vmaIsAnonymous, vmaLookup, type MmState } from "./state.ts";

/**
 * The half of mm/migrate_device.c that works on src/dst arrays (migrate_device_unmap,
 * __migrate_device_pages, __migrate_device_finalize, the migrate_device_* entry points), and the
 * rmap helpers they call. migrate.ts holds the VMA walk and the public types.
 */

/**
 * A src word of 0: no page, not migrating. Words are replaced, never changed in place, so every
 * empty slot shares one frozen word: a CPU re-fault on a 2 MiB allocation then allocates nothing
 * per page.
 */
const NO_SRC: MigrateSrc = Object.freeze({ folio: -1, index: 0, migrate: false, write: false });
const NO_DST: MigrateDst = Object.freeze({ folio: -1, index: 0 });

export function noSrc(): MigrateSrc {
  return NO_SRC;
}

export function noDst(): MigrateDst {
  return NO_DST;
}

/** A pin of a small folio adds this many references in the kernel; folio.pin adds one. */
const GUP_PIN_COUNTING_BIAS = 1024;

/** folio_ref_count as the kernel would read it, pins weighing their full bias. */
export function folioRefCount(k: Kernel, id: number): number {
  const folio = folioOf(k, id);
  return folio.refcount + folio.pincount * (GUP_PIN_COUNTING_BIAS - 1);
}

/** PageAnonExclusive: the model has no fork or KSM, so every private anonymous page is exclusive. */
export function anonExclusive(mm: MmState, vpn: number): boolean {
  const vma = vmaLookup(mm, vpn * PAGE_SIZE);
  return vma !== undefined && vmaIsAnonymous(vma);
}

interface Site {
  mm: number;
  vpn: number;
}

/**
 * Where migration entries naming each folio are (KernelState.migrationSites, kept by the apply of
 * pte.set and pte.clear). The kernel finds them through the rmap (anon_vma and the folio's index);
 * scanning every page table per page would make each migration cost the size of the whole
 * address space. A site is still re-read before use, as page_vma_mapped_walk does.
 */
function sitesOf(k: Kernel): Map<number, Site[]> {
  return k.state.migrationSites;
}

/**
 * The unmap step shared by migrate_vma_collect_pmd and try_to_migrate_one: the entry becomes a
 * migration entry, and the mapping's reference goes (folio_remove_rmap_pte, folio_put). The
 * caller's own reference keeps the folio alive, so this put is never the last.
 */
export function* setMigrationEntry(k: Kernel, mm: number, vpn: number, folio: number, index: number): ProcessBody<void> {
  k.commit({ kind: "pte.clear", mm, vpn });
  k.commit({ kind: "pte.set", mm, vpn, pteKind: "migration", folio, index }); // its apply records the site
  yield* folioPut(k, folio);
}

/**
 * remove_migration_ptes: every migration entry still naming `src` becomes an entry for `dst`
 * (present for a system page, device-private for a device page), each holding a new reference.
 */
export function removeMigrationPtes(k: Kernel, src: number, dst: number, dstIndex: number): void {
  const list = [...(sitesOf(k).get(src) ?? [])]; // each pte.set below drops its site
  const pteKind = folioOf(k, dst).memory === "device" ? "device-private" : "present";
  for (const { mm, vpn } of list) {
    const ptes = k.state.mms.get(mm)?.ptes;
    const leaf = ptes?.pmd(vpn);
    if (leaf !== undefined) {
      // A PMD migration entry: the whole folio is mapped again by one leaf (remove_migration_pmd).
      if (leaf.kind !== "migration" || leaf.folio !== src) continue;
      folioGet(k, dst);
      k.commit({ kind: "pmd.set", mm, vpn, pteKind, folio: dst });
      continue;
    }
    const pte = ptes?.get(vpn);
    if (pte === undefined || pte.kind !== "migration" || pte.folio !== src) continue;
    // remove_migration_pte takes the page at the entry's offset in the folio (from its address), so a
    // PTE-mapped piece of a large folio (its PMD split, or moved by mremap) keeps its page; src words
    // name a folio's head, so the offset is pte.index.
    folioGet(k, dst);
    k.commit({ kind: "pte.set", mm, vpn, pteKind, folio: dst, index: dst === src ? pte.index : dstIndex + pte.index });
  }
}

/** The rmap lookup try_to_migrate starts from: where each of `folios` is mapped, by mm then vpn. */
function mappingsOf(k: Kernel, folios: Set<number>): Map<number, Site[]> {
  const found = new Map<number, Site[]>();
  for (const folio of folios) {
    if (!k.state.folios.has(folio)) continue;
    const sites = k.state.folios.mappings(folio);
    if (sites.length > 0) found.set(folio, sites);
  }
  return found;
}

/**
 * try_to_migrate(folio, 0) on a locked folio: each mapping, in any mm, becomes a migration entry.
 * The walk stops at an exclusive anonymous mapping of a maybe-pinned folio, which
 * folio_try_share_anon_rmap_pte refuses, leaving the folio mapped. With `notify`, each mapping is
 * invalidated in secondary MMUs first, as try_to_migrate_one does (MMU_NOTIFY_CLEAR over the
 * mapping, ended once it is a migration entry); migrate_device_pfns has notified already.
 */
function* tryToMigrate(k: Kernel, folio: number, sites: Site[], notify: boolean): ProcessBody<void> {
  for (const { mm, vpn } of sites) {
    const state = mmOf(k, mm);
    const pte = state.ptes.get(vpn);
    if (pte === undefined || pte.kind === "migration" || pte.folio !== folio) continue;
    if (anonExclusive(state, vpn) && folioOf(k, folio).pincount > 0) return;
    const pmd = state.ptes.pmd(vpn) !== undefined;
    const range: MmuNotifierRange | null = notify && k.mmuNotifiers.length > 0 ? { mm, start: vpn * PAGE_SIZE, end: (vpn + (pmd ? HPAGE_PMD_NR : 1)) * PAGE_SIZE, event: "clear", owner: -1 } : null;
    if (range !== null) yield* mmuNotifierInvalidate(k, range);
    if (pmd) {
      // A PMD mapping (another mm's, after fork) becomes a PMD migration entry.
      k.commit({ kind: "pmd.clear", mm, vpn });
      k.commit({ kind: "pmd.set", mm, vpn, pteKind: "migration", folio });
      yield* folioPut(k, folio);
    } else yield* setMigrationEntry(k, mm, vpn, folio, pte.index);
    if (range !== null) mmuNotifierInvalidateEnd(k, range);
  }
}

/**
 * migrate_vma_check_page: may the page go, judged by its references? Large folios never do. The
 * caller's own reference (collection's, or LRU isolation's) is allowed for, plus the faulting
 * thread's on the fault page, plus one for ZONE_DEVICE pages (a leftover from when free device
 * pages kept a reference: it lets one stray device-page reference through). The model keeps no
 * page cache, so the file-page allowance has nothing to allow for.
 */
function migrateVmaCheckPage(k: Kernel, id: number, faultFolio: number, compound: boolean): boolean {
  const folio = folioOf(k, id);
  let extra = 1 + (id === faultFolio ? 1 : 0);
  // A large folio goes only as a compound entry (device THP); before that, never.
  if (folio.order !== 0 && !compound) return false;
  if (folio.memory === "device") extra++;
  return folioRefCount(k, id) - extra <= folio.mapcount;
}

/**
 * migrate_device_unmap: every collected page not yet unmapped is unmapped everywhere; pages still
 * mapped or held by someone else are restored, unlocked and released. Returns how many entries
 * (holes included) are still migrating. `notify`: try_to_migrate_one's MMU notifier calls for
 * the other mappings it unmaps (a page shared with a forked process); false when the caller
 * has notified (migrate_device_pfns).
 */
export function* migrateDeviceUnmap(k: Kernel, src: MigrateSrc[], npages: number, faultFolio: number, notify = true): ProcessBody<number> {
  let restore = 0;
  let unmapped = 0;
  let mappings: Map<number, Site[]> | null = null;
  // lru_add_drain / lru_add_drain_all: the model has no per-CPU LRU caches.
  for (let i = 0; i < npages; i++) {
    const s = src[i]!;
    if (s.folio === -1) {
      if (s.migrate) unmapped++;
      continue;
    }
    // A system folio's folio_isolate_lru takes a reference and the collection's is then put: the
    // count does not change, and with no LRU in the model isolation cannot fail.
    if (folioOf(k, s.folio).mapcount > 0) {
      mappings ??= mappingsOf(k, new Set(src.slice(0, npages).map((x) => x.folio)));
      yield* tryToMigrate(k, s.folio, mappings.get(s.folio) ?? [], notify);
    }
    if (folioOf(k, s.folio).mapcount > 0 || !migrateVmaCheckPage(k, s.folio, faultFolio, s.compound === true)) {
      // folio_get + folio_putback_lru for a system folio: again no net change.
      src[i] = { ...s, migrate: false };
      restore++;
      continue;
    }
    unmapped++;
  }
  for (let i = 0; i < npages && restore > 0; i++) {
    const s = src[i]!;
    if (s.folio === -1 || s.migrate) continue;
    removeMigrationPtes(k, s.folio, s.folio, s.index);
    src[i] = noSrc();
    if (faultFolio !== s.folio) folioUnlock(k, s.folio);
    yield* folioPut(k, s.folio);
    restore--;
  }
  return unmapped;
}

/**
 * __migrate_device_pages: the struct-page half of migration. Entries without a destination stop
 * migrating; holes get their new page mapped (a compound hole with an order-0 destination, 512
 * small pages); a compound source with an order-0 destination is split first
 * (migrate_vma_split_unmapped_folio; without a VMA it stays); for the rest folio_migrate_mapping
 * demands that nobody but the migration (and the faulting thread, for the fault page) holds a
 * reference. File-backed sources cannot move to device memory. No data moves here: the driver copies.
 */
export function* migrateDevicePagesCommon(k: Kernel, srcs: MigrateSrc[], dsts: MigrateDst[], npages: number, m: MigrateVma | null): ProcessBody<void> {
  if (k.costs.migratePagesNsPerEntry > 0) yield spin(Math.round(migrateEntries(srcs, npages) * k.costs.migratePagesNsPerEntry));
  // mmu_notifier_invalidate_range_start/end around the hole insertions: no notifiers in the model.
  for (let i = 0, nr = 1; i < npages; i += nr) {
    nr = 1;
    const d = dsts[i];
    const s = srcs[i]!;
    if (d === undefined || d.folio === -1) {
      srcs[i] = { ...s, migrate: false };
      continue;
    }
    if (s.folio === -1) {
      if (!s.migrate) continue;
      if (m === null) throw new Error("migrate_device_pages: a hole needs a VMA (VM_BUG_ON)");
      if (s.compound === true && d.compound === true) {
        migrateVmaInsertHugePmdPage(k, m, i, d);
        continue;
      }
      // A compound hole with small destinations: 512 small pages, one by one.
      nr = s.compound === true ? Math.min(HPAGE_PMD_NR, npages - i) : 1;
      for (let j = 0; j < nr; j++) {
        const dj = dsts[i + j];
        srcs[i + j] = { folio: -1, index: 0, migrate: true, write: false };
        if (dj === undefined || dj.folio === -1) srcs[i + j] = noSrc();
        else migrateVmaInsertPage(k, m, i + j, dj);
      }
      continue;
    }
    if (s.migrate && s.compound === true && d.compound !== true) {
      if (m === null || !(yield* migrateVmaSplitUnmappedFolio(k, m, i, m.start + i * PAGE_SIZE, s.folio))) {
        srcs[i] = { ...s, migrate: false, compound: false };
        continue;
      }
      nr = Math.min(HPAGE_PMD_NR, npages - i);
    } else if (s.migrate && d.compound === true && s.compound !== true) {
      srcs[i] = { ...s, migrate: false }; // a compound destination for a small source is refused
      continue;
    }
    if (folioOf(k, d.folio).memory === "device" && m !== null && !isAnonVma(k, m)) {
      srcs[i] = { ...srcs[i]!, migrate: false };
      continue;
    }
    // folio_migrate_mapping per page (per new folio after a split); the fault page's extra
    // reference is judged on the head, as the kernel does. folio_migrate_flags: no flags here.
    const extra = m !== null && m.faultFolio === s.folio ? 1 : 0;
    for (let j = 0; j < nr; j++) {
      const sj = srcs[i + j]!;
      const dj = dsts[i + j];
      if (dj === undefined || dj.folio === -1 || folioRefCount(k, sj.folio) !== 1 + extra) srcs[i + j] = { ...sj, migrate: false };
    }
  }
}

function isAnonVma(k: Kernel, m: MigrateVma): boolean {
  const vma = k.state.vmas.get(m.vma);
  return vma === undefined || vmaIsAnonymous(vma);
}

/**
 * __migrate_device_finalize: each migrated entry now maps its destination, each other one its
 * source again; then the source is unlocked (unless it is the fault page, which the fault path
 * unlocks) and put, and a destination that was not used is unlocked and put. Those puts are
 * where sources, and unused destinations, are freed.
 */
export function* migrateDeviceFinalizeCommon(k: Kernel, srcs: MigrateSrc[], dsts: MigrateDst[], npages: number, faultFolio: number): ProcessBody<void> {
  if (k.costs.migrateFinalizeNsPerEntry > 0) yield spin(Math.round(migrateEntries(srcs, npages) * k.costs.migrateFinalizeNsPerEntry));
  for (let i = 0; i < npages; i++) {
    const s = srcs[i]!;
    const d = dsts[i] ?? noDst();
    if (s.folio === -1) {
      if (d.folio !== -1) {
        folioUnlock(k, d.folio);
        yield* folioPut(k, d.folio);
      }
      continue;
    }
    let dst = d.folio;
    let dstIndex = d.index;
    if (!s.migrate || dst === -1) {
      if (dst !== -1) {
        folioUnlock(k, dst);
        yield* folioPut(k, dst);
      }
      dst = s.folio;
      dstIndex = s.index;
    }
    // folio_add_lru for a system destination: no LRU in the model.
    removeMigrationPtes(k, s.folio, dst, dstIndex);
    if (faultFolio !== s.folio) folioUnlock(k, s.folio);
    yield* folioPut(k, s.folio);
    if (dst !== s.folio) {
      folioUnlock(k, dst);
      yield* folioPut(k, dst);
    }
  }
}

/**
 * migrate_device_pfn_lock: a reference and the lock on a device page, or nothing if the page is
 * free or a tail page (folio_get_nontail_page) or its lock is taken (folio_trylock).
 */
function* migrateDevicePfnLock(k: Kernel, s: MigrateSrc): ProcessBody<MigrateSrc> {
  const folio = k.state.folios.get(s.folio);
  if (folio === undefined || folio.freed || folio.refcount === 0 || s.index !== 0) return noSrc();
  folioGet(k, s.folio);
  if (!folioTrylock(k, s.folio)) {
    yield* folioPut(k, s.folio);
    return noSrc();
  }
  // A large folio: its head's word is marked compound and stands for all its pages.
  return { folio: s.folio, index: 0, migrate: true, write: false, ...(folio.order !== 0 ? { compound: true } : {}) };
}

/**
 * migrate_device_pfns: lock the given device pages and unmap them from every mm, without a VMA
 * or the mmap lock (eviction). Returns 0, as the kernel does: src[i].migrate says what is moving.
 */
export function* migrateDevicePfns(k: Kernel, srcs: MigrateSrc[]): ProcessBody<number> {
  for (let i = 0; i < srcs.length; i++) srcs[i] = yield* migrateDevicePfnLock(k, srcs[i]!);
  const invalidated = yield* invalidateMappingsOf(k, srcs);
  yield* migrateDeviceUnmap(k, srcs, srcs.length, -1, false); // notified above, in one call per run of pages
  for (const range of invalidated) mmuNotifierInvalidateEnd(k, range); // try_to_migrate_one's invalidate_range_end
  if (k.costs.migrateSetupNsPerEntry > 0) yield spin(Math.round(migrateEntries(srcs, srcs.length) * k.costs.migrateSetupNsPerEntry));
  return 0;
}

/** migrate_device_pages: migrate_vma_pages without a VMA (holes are a caller bug here). */
export function* migrateDevicePages(k: Kernel, srcs: MigrateSrc[], dsts: MigrateDst[]): ProcessBody<void> {
  yield* migrateDevicePagesCommon(k, srcs, dsts, srcs.length, null);
}

/** migrate_device_finalize: system destinations are mapped wherever the device page was. */
export function* migrateDeviceFinalize(k: Kernel, srcs: MigrateSrc[], dsts: MigrateDst[]): ProcessBody<void> {
  yield* migrateDeviceFinalizeCommon(k, srcs, dsts, srcs.length, -1);
}

/**
 * try_to_migrate's mmu notifier calls: every mapping of a page about to be unmapped is
 * invalidated in secondary MMUs first, one call per run of consecutive pages in an mm. Returns
 * the ranges, for the caller to end (invalidate_range_end) once the pages are unmapped.
 */
function* invalidateMappingsOf(k: Kernel, srcs: MigrateSrc[]): ProcessBody<MmuNotifierRange[]> {
  if (k.mmuNotifiers.length === 0) return [];
  const folios = new Set(srcs.filter((s) => s.migrate && s.folio !== -1).map((s) => s.folio));
  if (folios.size === 0) return [];
  const ranges: { mm: number; first: number; last: number }[] = [];
  const entries = entriesNaming(k, folios);
  for (const id of [...entries.keys()].sort((a, b) => a - b)) {
    for (const vpn of entries.get(id)!) {
      const last = ranges[ranges.length - 1];
      if (last !== undefined && last.mm === id && last.last === vpn - 1) last.last = vpn;
      else ranges.push({ mm: id, first: vpn, last: vpn });
    }
  }
  const invalidated = ranges.map((r): MmuNotifierRange => ({ mm: r.mm, start: r.first * PAGE_SIZE, end: (r.last + 1) * PAGE_SIZE, event: "migrate", owner: -1 }));
  for (const range of invalidated) yield* mmuNotifierInvalidate(k, range);
  return invalidated;
}

/**
 * Every entry, of any kind, naming one of `folios`: mm → its vpns, ascending. Mappings come from
 * the rmap and migration entries from where this module wrote them (each re-read, as a zap may
 * have cleared it since), so the cost is the folios' mappings, not the size of every page table.
 */
function entriesNaming(k: Kernel, folios: Set<number>): Map<number, number[]> {
  const found = new Map<number, Set<number>>();
  const add = (mm: number, vpn: number): void => {
    let vpns = found.get(mm);
    if (vpns === undefined) found.set(mm, (vpns = new Set()));
    vpns.add(vpn);
  };
  const migrationSites = sitesOf(k);
  for (const folio of folios) {
    for (const { mm, vpn } of k.state.folios.has(folio) ? k.state.folios.mappings(folio) : []) {
      // A PMD mapping covers its folio's 512 pages.
      const leaf = k.state.mms.get(mm)?.ptes.pmd(vpn) !== undefined;
      for (let i = 0; i < (leaf ? HPAGE_PMD_NR : 1); i++) add(mm, vpn + i);
    }
    for (const { mm, vpn } of migrationSites.get(folio) ?? []) {
      const ptes = k.state.mms.get(mm)?.ptes;
      if (ptes !== undefined && ptes.kind(vpn) === "migration" && ptes.folio(vpn) === folio) add(mm, vpn);
    }
  }
  return new Map([...found].map(([mm, vpns]) => [mm, [...vpns].sort((a, b) => a - b)]));
}
