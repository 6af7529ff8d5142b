import type { ProcessBody } from "../engine/index.ts";
import { alignDown, alignUp, Errno, HPAGE_PMD_NR, nrPages, type FolioOrder } from "../kernel/constants.ts";
import { folioAlloc, folioPut, folioTrylock } from "../kernel/folio.ts";
import { VM_FAULT_SIGBUS, type VmFault } from "../kernel/kernel.ts";
import {
  MIGRATE_VMA_SELECT_COMPOUND,
  MIGRATE_VMA_SELECT_DEVICE_COHERENT,
  MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
  migrateVmaFinalize,
  migrateVmaPages,
  migrateVmaSetup,
  newMigrateVma,
  type MigrateDst,
  type MigrateSrc,
} from "../kernel/migrate.ts";
import { timeBefore64 } from "../engine/index.ts";
import type { PagemapContext } from "./context.ts";
import { dstAsSrc, migrateMapPages, migrateUnmapPages, migrationUnlockPutPages, NO_ADDR } from "./migrate-pages.ts";
import { npagesInRange } from "./migrate-to-devmem.ts";
import type { MigrateToRamExit } from "./exits.ts";
import { newIovaState, type DevicePage, type PagemapAddr } from "./ops.ts";

/**
 * drm_pagemap_migrate_populate_ram_pfn: a system folio of the same order for every collected
 * device page (only those of the faulting page's zdd when there is one), each locked. No fallback
 * to 4 KiB pages when a THP allocation fails: the whole call fails with -ENOMEM. `vma` -1 means
 * eviction (folio_alloc, no VMA). Returns 0 or -ENOMEM and counts pages in mpages.value.
 */
export function* migratePopulateRamPfn(
  p: PagemapContext,
  vma: number,
  faultFolio: number,
  npages: number,
  mpages: { value: number },
  src: MigrateSrc[],
  dst: MigrateDst[],
): ProcessBody<number> {
  const faultZdd = faultFolio === -1 ? -1 : p.state.folios.get(faultFolio)!.zdd;
  for (let i = 0; i < npages; ) {
    const s = src[i]!;
    let order = 0;
    if (s.migrate && s.folio !== -1 && (faultFolio === -1 || p.state.folios.get(s.folio)!.zdd === faultZdd)) {
      order = p.state.folios.get(s.folio)!.order;
      const folio = folioAlloc(p.k, order as FolioOrder, "system");
      if (folio === null) return yield* putPopulated(p, npages, dst);
      dst[i] = { folio, index: 0, ...(order !== 0 ? { compound: true } : {}) }; // a large destination is marked compound
    }
    i += nrPages(order);
  }
  for (let i = 0; i < npages; ) {
    const d = dst[i]!;
    let order = 0;
    if (d.folio !== -1) {
      order = p.state.folios.get(d.folio)!.order;
      if (!folioTrylock(p.k, d.folio)) throw new Error(`WARN: fresh folio ${d.folio} already locked`);
      mpages.value += nrPages(order);
    }
    i += nrPages(order);
  }
  void vma; // vma_alloc_folio's placement hint: no NUMA in the model
  return 0;
}

/** The free_pages exit of populate_ram_pfn: put every folio allocated so far. */
function* putPopulated(p: PagemapContext, npages: number, dst: MigrateDst[]): ProcessBody<number> {
  for (let i = 0; i < npages; ) {
    const d = dst[i]!;
    let order = 0;
    if (d.folio !== -1) {
      order = p.state.folios.get(d.folio)!.order;
      yield* folioPut(p.k, d.folio);
      dst[i] = { folio: -1, index: 0 };
    }
    i += nrPages(order);
  }
  return -Errno.ENOMEM;
}

/**
 * __drm_pagemap_migrate_to_ram: the timeslice check first (return 0 without migrating: the CPU
 * faults again), then the whole allocation around the fault, clamped to the VMA, migrated back.
 */
export function* migrateToRamInner(p: PagemapContext, fault: VmFault, owner: number, sizeBytes: number): ProcessBody<number> {
  const zdd = p.state.folios.get(fault.folio)!.zdd;
  const devmem = p.state.zdds.get(zdd)!.devmem;
  const expiration = p.state.devmems.get(devmem)!.timesliceExpiration;
  const jiffies = p.k.engine.jiffies.getJiffies64();
  if (timeBefore64(jiffies, expiration)) {
    p.commit({ kind: "cpu_fault.timeslice_spin", devmem, jiffies, expiration });
    return 0;
  }

  const vma = p.state.vmas.get(fault.vma)!;
  let start = alignDown(fault.addr, sizeBytes);
  let end = alignUp(fault.addr + 1, sizeBytes);
  // The VMA may have been partially unmapped since the allocation was made.
  if (start < vma.startAddr) start = vma.startAddr;
  if (end > vma.endAddr) end = vma.endAddr;
  // Not the kernel's: a simulated migration policy may hold the CPU off longer, as the timeslice does.
  const hold = p.cpuFaultPolicy?.({ devmem, mm: fault.mm, addr: fault.addr, start, end, nowNs: p.k.engine.nowNs });
  if (hold !== undefined && hold.kind !== "migrate") {
    const napNs = hold.kind === "sleep" ? hold.ns : 0;
    p.commit({ kind: "cpu_fault.policy_hold", devmem, durationNs: napNs, thread: p.k.currentThread }); // its apply records the nap
    return 0;
  }
  const npages = npagesInRange(start, end);

  p.commit({ kind: "migrate_to_ram.begin", mm: fault.mm, start, end });
  if (p.fail("kvcalloc")) return end_(p, -Errno.ENOMEM, "err_out:kvcalloc");
  const addrs: PagemapAddr[] = new Array<PagemapAddr>(npages).fill(NO_ADDR);
  const iova = newIovaState(); // struct drm_pagemap_iova_state, one per migration
  const pages: DevicePage[] = new Array<DevicePage>(npages).fill({ folio: -1, index: 0 });
  const flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE | MIGRATE_VMA_SELECT_DEVICE_COHERENT | (p.options.deviceThp === true ? MIGRATE_VMA_SELECT_COMPOUND : 0);
  const migrate = newMigrateVma(fault.mm, fault.vma, start, end, flags, owner, fault.folio, fault.index);

  let err = yield* migrateVmaSetup(p.k, migrate);
  if (err !== 0) return end_(p, err, "err_free:setup");
  // Nothing collected: the kernel's comment says "raced with another CPU fault", but the fault page,
  // locked by do_swap_page, is always collected; it is refused when held elsewhere (docs/fidelity.md #24).
  if (migrate.cpages === 0) return end_(p, 0, "err_free:no_cpages");

  let exit: MigrateToRamExit = "ok";
  unwind: {
    const mpages = { value: 0 };
    // The fault page's folio now: a device THP split at collection moved it (migrate_vma_split_folio).
    err = yield* migratePopulateRamPfn(p, fault.vma, migrate.faultFolio, npages, mpages, migrate.src, migrate.dst);
    if (err !== 0) {
      exit = "err_finalize:populate_ram_pfn";
      break unwind;
    }
    err = yield* migrateMapPages(p, addrs, dstAsSrc(migrate.dst), npages, "from_device", iova);
    if (err !== 0) {
      exit = "err_finalize:map_pages";
      break unwind;
    }
    devicePagesOf(migrate.src, pages, npages);
    const ops = p.devmemOps(devmem);
    err = yield* ops.copyToRam!(pages, addrs, npages);
    if (err !== 0) exit = "err_finalize:copy_to_ram";
  }
  // err_finalize
  if (err !== 0) yield* migrationUnlockPutPages(p, npages, migrate.dst);
  yield* migrateVmaPages(p.k, migrate);
  yield* migrateVmaFinalize(p.k, migrate);
  yield* migrateUnmapPages(p, addrs, npages, "from_device", iova); // `dev` is always known here
  return end_(p, err, exit);
}

/** The pages[] loop: the device page behind each entry, a compound entry's 512 pages in turn. */
export function devicePagesOf(src: MigrateSrc[], pages: DevicePage[], npages: number): void {
  for (let i = 0; i < npages; ) {
    const s = src[i]!;
    const n = s.compound === true && s.folio !== -1 ? HPAGE_PMD_NR : 1;
    for (let j = 0; j < n; j++) pages[i + j] = { folio: s.folio, index: s.index + j };
    i += n;
  }
}

function end_(p: PagemapContext, ret: number, exit: MigrateToRamExit): number {
  p.commit({ kind: "migrate_to_ram.end", ret, exit });
  return ret;
}

/** drm_pagemap_migrate_to_ram (dev_pagemap_ops.migrate_to_ram): any error is SIGBUS. */
export function* migrateToRam(p: PagemapContext, fault: VmFault): ProcessBody<number> {
  const zdd = p.state.zdds.get(p.state.folios.get(fault.folio)!.zdd)!;
  const size = p.state.devmems.get(zdd.devmem)!.sizeBytes;
  const err = yield* migrateToRamInner(p, fault, zdd.owner, size);
  return err !== 0 ? VM_FAULT_SIGBUS : 0;
}
