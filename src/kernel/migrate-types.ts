/** struct migrate_vma and the migrate-pfn words, shared by migrate.ts and migrate-device.ts. */
import { HPAGE_PMD_NR } from "./constants.ts";

export const MIGRATE_VMA_SELECT_SYSTEM = 1 << 0;
export const MIGRATE_VMA_SELECT_DEVICE_PRIVATE = 1 << 1;
export const MIGRATE_VMA_SELECT_DEVICE_COHERENT = 1 << 2;
/** Collect a PMD-mapped THP or an empty aligned PMD as one compound entry (device THP, v6.19). */
export const MIGRATE_VMA_SELECT_COMPOUND = 1 << 3;

/** One page of the range: what migrate_vma's src[i] / dst[i] migrate-pfn words say. */
export interface MigrateSrc {
  /** -1 for none/hole. */
  folio: number;
  /** Page index in the folio. */
  index: number;
  /** MIGRATE_PFN_MIGRATE. */
  migrate: boolean;
  write: boolean;
  /** MIGRATE_PFN_COMPOUND: the word stands for a whole order-9 folio (or a 2 MiB hole); the next 511 are empty. */
  compound?: boolean;
}

/**
 * The entries migrate_vma's loops walk among the first `npages` words: one per word, except that a
 * compound word stands for its whole order-9 folio (or 2 MiB hole) and the loops step over its
 * 511 tail words. The per-step CPU costs are charged per entry: each is a folio's lock, migration
 * entry, rmap walk, mapping move and put, whatever its size. For 4 KiB pages it is one per page.
 */
export function migrateEntries(srcs: readonly MigrateSrc[], npages: number): number {
  let entries = 0;
  for (let i = 0; i < npages; i += srcs[i]?.compound === true ? HPAGE_PMD_NR : 1) entries++;
  return entries;
}

export interface MigrateDst {
  /** -1 for none. */
  folio: number;
  index: number;
  /** MIGRATE_PFN_COMPOUND: an order-9 destination for a compound source word. */
  compound?: boolean;
}

export interface MigrateVma {
  mm: number;
  vma: number;
  /** Bytes, page aligned (setup rounds them down, as the kernel does). */
  start: number;
  end: number;
  flags: number;
  /** Device pages are selected when their pagemap's owner (k.pagemapOwner) equals this. */
  pgmapOwner: number;
  /** -1 unless called from migrate_to_ram: the faulting device folio, locked by the fault path. */
  faultFolio: number;
  /** The fault page's index in faultFolio (migrate->fault_page); a split moves it, with the lock. */
  faultIndex: number;
  src: MigrateSrc[];
  dst: MigrateDst[];
  cpages: number;
  npages: number;
}
