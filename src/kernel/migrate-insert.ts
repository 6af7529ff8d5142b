import { HPAGE_PMD_NR, PAGE_SIZE } from "./constants.ts";
import { folioGet, folioOf } from "./folio.ts";
import type { Kernel } from "./kernel.ts";
import type { MigrateDst, MigrateVma } from "./migrate-types.ts";
import { mmOf } from "./mm.ts";
import { vmaIsAnonymous } from "./state.ts";

/** The hole insertions of __migrate_device_pages: a collected empty entry gets its new page mapped. */

/**
 * migrate_vma_insert_page: the new page for a collected hole is mapped now, as do_anonymous_page
 * would, unless the VMA is not anonymous or the entry is no longer empty (a CPU fault filled it).
 * The model has no zero page, OOM-reaper instability or userfaultfd to check for.
 */
export function migrateVmaInsertPage(k: Kernel, m: MigrateVma, i: number, dst: MigrateDst): void {
  const vma = k.state.vmas.get(m.vma);
  const vpn = Math.floor((m.start + i * PAGE_SIZE) / PAGE_SIZE);
  if (vma === undefined || !vmaIsAnonymous(vma) || mmOf(k, vma.mm).ptes.has(vpn)) {
    m.src[i] = { ...m.src[i]!, migrate: false };
    return;
  }
  folioGet(k, dst.folio);
  const pteKind = folioOf(k, dst.folio).memory === "device" ? "device-private" : "present";
  k.commit({ kind: "pte.set", mm: vma.mm, vpn, pteKind, folio: dst.folio, index: dst.index });
  m.src[i] = { folio: -1, index: 0, migrate: true, write: false };
}

/**
 * migrate_vma_insert_huge_pmd_page: a compound hole's order-9 destination is mapped by one PMD
 * leaf holding one new reference, unless the VMA is not anonymous or the block is no longer
 * empty; then the entry stops migrating (the kernel's abort clears MIGRATE on all 512 words).
 */
export function migrateVmaInsertHugePmdPage(k: Kernel, m: MigrateVma, i: number, dst: MigrateDst): void {
  const vma = k.state.vmas.get(m.vma);
  const vpn = Math.floor((m.start + i * PAGE_SIZE) / PAGE_SIZE);
  const ptes = vma === undefined ? undefined : mmOf(k, vma.mm).ptes;
  if (vma === undefined || ptes === undefined || !vmaIsAnonymous(vma) || ptes.nextVpn(vpn, vpn + HPAGE_PMD_NR) !== -1) {
    m.src[i] = { ...m.src[i]!, migrate: false };
    return;
  }
  folioGet(k, dst.folio);
  const pteKind = folioOf(k, dst.folio).memory === "device" ? "device-private" : "present";
  k.commit({ kind: "pmd.set", mm: vma.mm, vpn, pteKind, folio: dst.folio });
}
