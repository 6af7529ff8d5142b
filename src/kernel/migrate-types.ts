/** struct migrate_vma and the migrate-pfn words, shared by migrate.ts and migrate-device.ts. */

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
