import { moveHugePmd, splitHugePmd, zapHugePmd } from "./huge-memory.ts";
import { PTRS_PER_PTE } from "./page-table.ts";
import type { ProcessBody } from "../engine/index.ts";
import { Errno, PAGE_SIZE } from "./constants.ts";
import { mmuNotifierInvalidate, mmuNotifierInvalidateEnd, type MmuNotifierRange } from "./mmu-notifier.ts";
import { folioPut } from "./folio.ts";
import type { Kernel } from "./kernel.ts";
import { vmaLookup, type MmState, type VmaKind, type VmaProps, type VmaState } from "./state.ts";
import { splitVma, vmaInsert, vmaMergeNewRange, vmaModifyFlags, vmaProps } from "./vma.ts";

/** A new address space (fork/exec), with one user. */
export function mmCreate(k: Kernel): number {
  const id = k.state.nextMmId;
  k.commit({ kind: "mm.create", mm: id });
  return id;
}

export function mmOf(k: Kernel, id: number): MmState {
  const mm = k.state.mms.get(id);
  if (mm === undefined) throw new Error(`no mm ${id}`);
  return mm;
}

/** mmget_not_zero: a reference unless the process has already exited. */
export function mmgetNotZero(k: Kernel, mm: number): boolean {
  if (mmOf(k, mm).users === 0) return false;
  k.commit({ kind: "mmget", mm });
  return true;
}

/** mmput: the last user tears the address space down (exit_mmap), freeing every page it maps. */
export function* mmput(k: Kernel, mm: number): ProcessBody<void> {
  k.commit({ kind: "mmput", mm });
  const state = mmOf(k, mm);
  if (state.users > 0) return;
  for (const vma of [...state.vmas]) {
    yield* zapPteRange(k, mm, vma.startAddr, vma.endAddr);
    k.commit({ kind: "vma.remove", mm, vma: vma.id });
  }
}

export interface MmapRequest {
  addr: number;
  lengthBytes: number;
  kind: VmaKind;
  read: boolean;
  write: boolean;
}

/**
 * mmap(MAP_FIXED_NOREPLACE): a new mapping at exactly `addr`; -EEXIST if anything is mapped
 * there. It joins a neighbour that can take it (vma_merge_new_range), else gets a VMA of its own.
 */
export function* mmap(k: Kernel, mm: number, req: MmapRequest): ProcessBody<number> {
  if (req.addr % PAGE_SIZE !== 0 || req.lengthBytes <= 0 || req.lengthBytes % PAGE_SIZE !== 0) return -Errno.EINVAL;
  const lock = k.mmapLock(mm);
  yield lock.downWrite();
  const end = req.addr + req.lengthBytes;
  const overlaps = mmOf(k, mm).vmas.some((v) => req.addr < v.endAddr && v.startAddr < end);
  if (!overlaps) mmapRegion(k, mm, req);
  lock.upWrite();
  return overlaps ? -Errno.EEXIST : 0;
}

/**
 * __mmap_region: private anonymous memory's pgoff is its page number; a shared anonymous mapping
 * gets a shmem file of its own (shmem_zero_setup), and the model's file mappings are each their
 * own file from offset 0, so neither ever merges with a neighbour mapped apart.
 */
function mmapRegion(k: Kernel, mm: number, req: MmapRequest): void {
  const privateAnon = req.kind === "anon-private";
  const p: VmaProps = {
    startAddr: req.addr,
    endAddr: req.addr + req.lengthBytes,
    kind: req.kind,
    read: req.read,
    write: req.write,
    pgoff: privateAnon ? req.addr / PAGE_SIZE : 0,
    file: privateAnon ? -1 : k.state.nextVmaId,
    anonVma: -1,
  };
  if (vmaMergeNewRange(k, mm, p) === null) vmaInsert(k, mm, p);
}

/**
 * munmap: removes [addr, addr+len) from every VMA it touches: their pages are zapped (each put
 * may be the last, freeing the page, device pages included) and what is left of a VMA on either
 * side stays as a new VMA.
 */
export function* munmap(k: Kernel, mm: number, addr: number, lengthBytes: number): ProcessBody<number> {
  if (addr % PAGE_SIZE !== 0 || lengthBytes <= 0) return -Errno.EINVAL;
  const end = addr + Math.ceil(lengthBytes / PAGE_SIZE) * PAGE_SIZE;
  const lock = k.mmapLock(mm);
  yield lock.downWrite();
  yield* unmapRangeLocked(k, mm, addr, end);
  lock.upWrite();
  return 0;
}

/**
 * do_vmi_munmap under the mmap write lock: VMAs are split at the range's ends, then every VMA
 * inside loses its pages and goes. Holes in the range are fine.
 */
function* unmapRangeLocked(k: Kernel, mm: number, start: number, end: number): ProcessBody<void> {
  for (const vma of splitVmasAt(k, mm, start, end)) {
    yield* zapPteRange(k, mm, vma.startAddr, vma.endAddr);
    k.commit({ kind: "vma.remove", mm, vma: vma.id });
  }
  // After the zaps, under the write lock: no access can reach the range's old data any more.
  k.commit({ kind: "mm.unmap", mm, start, end });
}

/**
 * zap_pte_range: clears every entry in [start, end) and drops the reference each mapping held.
 * A migration entry holds no reference of its own (the migrating thread does); clearing it makes
 * that migration fail for the page.
 */
export function* zapPteRange(k: Kernel, mm: number, start: number, end: number): ProcessBody<void> {
  const range: MmuNotifierRange = { mm, start, end, event: "unmap", owner: -1 };
  yield* mmuNotifierInvalidate(k, range);
  const ptes = mmOf(k, mm).ptes;
  const endVpn = Math.floor(end / PAGE_SIZE);
  // Each next entry is looked up when reached, as a walk vpn by vpn would find it.
  for (let vpn = ptes.nextVpn(Math.floor(start / PAGE_SIZE), endVpn); vpn !== -1; vpn = ptes.nextVpn(vpn + 1, endVpn)) {
    if (ptes.pmd(vpn) !== undefined) {
      // zap_pmd_range: a leaf the range covers goes whole (zap_huge_pmd); one it covers only
      // part of is split first and zapped PTE by PTE.
      if (vpn % PTRS_PER_PTE === 0 && vpn + PTRS_PER_PTE <= endVpn) {
        yield* zapHugePmd(k, mm, vpn);
        vpn += PTRS_PER_PTE - 1;
        continue;
      }
      splitHugePmd(k, mm, vpn, false);
    }
    const pte = ptes.get(vpn)!;
    k.commit({ kind: "pte.clear", mm, vpn });
    if (pte.kind !== "migration") yield* folioPut(k, pte.folio);
  }
  mmuNotifierInvalidateEnd(k, range);
}

/**
 * Splits the VMAs of `mm` so that `start` and `end` fall on VMA boundaries (__split_vma), each
 * piece keeping its parent's properties. Returns the VMAs now inside [start, end), in address
 * order.
 */
function splitVmasAt(k: Kernel, mm: number, start: number, end: number): VmaState[] {
  for (const cut of [start, end]) {
    const vma = mmOf(k, mm).vmas.find((v) => v.startAddr < cut && cut < v.endAddr);
    if (vma !== undefined) splitVma(k, mm, vma, cut);
  }
  return mmOf(k, mm).vmas.filter((v) => v.startAddr >= start && v.endAddr <= end);
}

/** Whether the VMAs of `mm` cover [start, end) without a hole. */
function coversRange(k: Kernel, mm: number, start: number, end: number): boolean {
  let covered = start;
  for (const v of mmOf(k, mm).vmas) {
    if (v.endAddr <= covered || v.startAddr >= end) continue;
    if (v.startAddr > covered) return false;
    covered = v.endAddr;
  }
  return covered >= end;
}

/**
 * mprotect (do_mprotect_pkey): new permissions for [addr, addr+len); -ENOMEM, changing nothing,
 * when part of the range is unmapped. Each VMA in the range that differs goes through
 * mprotect_fixup. Entries stay; the model checks permissions against the VMA.
 */
export function* mprotect(k: Kernel, mm: number, addr: number, lengthBytes: number, read: boolean, write: boolean): ProcessBody<number> {
  if (addr % PAGE_SIZE !== 0 || lengthBytes <= 0) return -Errno.EINVAL;
  const end = addr + Math.ceil(lengthBytes / PAGE_SIZE) * PAGE_SIZE;
  const lock = k.mmapLock(mm);
  yield lock.downWrite();
  const covered = coversRange(k, mm, addr, end);
  if (covered) {
    const range: MmuNotifierRange = { mm, start: addr, end, event: "protection", owner: -1 };
    yield* mmuNotifierInvalidate(k, range); // change_protection
    for (let at = addr; at < end; ) {
      const vma = vmaLookup(mmOf(k, mm), at)!;
      const pieceEnd = Math.min(end, vma.endAddr);
      mprotectFixup(k, mm, vma, at, pieceEnd, read, write);
      at = pieceEnd;
    }
    mmuNotifierInvalidateEnd(k, range);
  }
  lock.upWrite();
  return covered ? 0 : -Errno.ENOMEM;
}

/**
 * mprotect_fixup: [start, end) of `vma` takes the new protection, merging with a neighbour or
 * splitting (vma_modify_flags); a VMA that already has it is left whole.
 */
function mprotectFixup(k: Kernel, mm: number, vma: VmaState, start: number, end: number, read: boolean, write: boolean): void {
  if (vma.read === read && vma.write === write) return;
  vmaModifyFlags(k, mm, vma, start, end, read, write);
}

/**
 * mremap(MREMAP_MAYMOVE | MREMAP_FIXED) keeping the size: [oldAddr, oldAddr+len), which must lie
 * in one VMA (-EFAULT otherwise), moves to newAddr with its entries (move_page_tables); whatever
 * was mapped at the target is unmapped first. The folios do not move, so device pages stay on
 * the device. Simplification: the model waits for migration entries in the range to resolve
 * before moving, where the kernel moves them and finds them again through the rmap.
 */
export function* mremap(k: Kernel, mm: number, oldAddr: number, lengthBytes: number, newAddr: number): ProcessBody<number> {
  if (oldAddr % PAGE_SIZE !== 0 || newAddr % PAGE_SIZE !== 0 || lengthBytes <= 0) return -Errno.EINVAL;
  const len = Math.ceil(lengthBytes / PAGE_SIZE) * PAGE_SIZE;
  if (newAddr < oldAddr + len && oldAddr < newAddr + len) return -Errno.EINVAL; // overlapping move
  const lock = k.mmapLock(mm);
  let source: VmaState | undefined;
  for (;;) {
    yield lock.downWrite();
    source = mmOf(k, mm).vmas.find((v) => v.startAddr <= oldAddr && oldAddr + len <= v.endAddr);
    if (source === undefined) {
      lock.upWrite();
      return -Errno.EFAULT;
    }
    const busy = migratingEntry(k, mm, oldAddr, oldAddr + len);
    if (busy === null) break;
    lock.upWrite();
    yield k.folioWaitQueue(busy).wait();
  }
  const faulted = hasEntries(k, mm, source.startAddr, source.endAddr);
  const [vma] = splitVmasAt(k, mm, oldAddr, oldAddr + len);
  yield* unmapRangeLocked(k, mm, newAddr, newAddr + len);
  copyVma(k, mm, vma!, newAddr, faulted);
  const range: MmuNotifierRange = { mm, start: oldAddr, end: oldAddr + len, event: "unmap", owner: -1 };
  yield* mmuNotifierInvalidate(k, range); // move_page_tables
  const ptes = mmOf(k, mm).ptes;
  const delta = Math.floor((newAddr - oldAddr) / PAGE_SIZE);
  const endVpn = Math.floor((oldAddr + len) / PAGE_SIZE);
  // An eviction (migrate_device_range) takes no mmap lock, so migration entries can have appeared
  // while this slept above: wait for them too (the kernel would move them; see the doc comment).
  yield* waitForMigrationEntries(k, mm, oldAddr, oldAddr + len);
  // From here to the unlock nothing yields: the data moves at once.
  k.commit({ kind: "mm.move", mm, start: oldAddr, end: oldAddr + len, newStart: newAddr });
  for (let vpn = ptes.nextVpn(Math.floor(oldAddr / PAGE_SIZE), endVpn); vpn !== -1; vpn = ptes.nextVpn(vpn + 1, endVpn)) {
    if (ptes.pmd(vpn) !== undefined) {
      // move_pgt_entry: a leaf the range covers moving to an aligned address moves whole
      // (move_huge_pmd); otherwise the PMD is split and its PTEs move one by one.
      if (vpn % PTRS_PER_PTE === 0 && vpn + PTRS_PER_PTE <= endVpn && delta % PTRS_PER_PTE === 0) {
        moveHugePmd(k, mm, vpn, vpn + delta);
        vpn += PTRS_PER_PTE - 1;
        continue;
      }
      splitHugePmd(k, mm, vpn, false);
    }
    const pte = ptes.get(vpn)!;
    k.commit({ kind: "pte.clear", mm, vpn });
    k.commit({ kind: "pte.set", mm, vpn: vpn + delta, pteKind: pte.kind, folio: pte.folio, index: pte.index });
  }
  mmuNotifierInvalidateEnd(k, range);
  // The old range goes; its entries have moved, so there is nothing left to zap. (When copy_vma
  // merged the new range into the source VMA itself, this splits the old part off first.)
  for (const old of splitVmasAt(k, mm, oldAddr, oldAddr + len)) k.commit({ kind: "vma.remove", mm, vma: old.id });
  lock.upWrite();
  return 0;
}

/**
 * copy_vma: the VMA for the moved range at `newAddr`, joining a neighbour that can take it
 * (vma_merge_new_range). Private anonymous memory never faulted takes the page number of its
 * new address as pgoff, so it can merge there. The model has no anon_vma_prepare: a VMA with any
 * page-table entry stands for one that has an anon_vma (`faulted`).
 */
function copyVma(k: Kernel, mm: number, vma: VmaState, newAddr: number, faulted: boolean): void {
  const len = vma.endAddr - vma.startAddr;
  const pgoff = vma.kind === "anon-private" && !faulted ? newAddr / PAGE_SIZE : vma.pgoff;
  const p: VmaProps = { ...vmaProps(vma), startAddr: newAddr, endAddr: newAddr + len, pgoff };
  if (vmaMergeNewRange(k, mm, p) === null) vmaInsert(k, mm, p);
}

/** Whether `mm` has any page-table entry in [start, end). */
export function hasEntries(k: Kernel, mm: number, start: number, end: number): boolean {
  return mmOf(k, mm).ptes.nextVpn(Math.floor(start / PAGE_SIZE), Math.floor(end / PAGE_SIZE)) !== -1;
}

/** Waits, holding whatever the caller holds, until [start, end) of mm has no migration entry; returns when none is left. */
export function* waitForMigrationEntries(k: Kernel, mm: number, start: number, end: number): ProcessBody<void> {
  for (let busy = migratingEntry(k, mm, start, end); busy !== null; busy = migratingEntry(k, mm, start, end)) yield k.folioWaitQueue(busy).wait();
}

/** The folio of the first migration entry in [start, end), or null. */
export function migratingEntry(k: Kernel, mm: number, start: number, end: number): number | null {
  const ptes = mmOf(k, mm).ptes;
  const endVpn = Math.floor(end / PAGE_SIZE);
  for (let vpn = ptes.nextVpn(Math.floor(start / PAGE_SIZE), endVpn); vpn !== -1; vpn = ptes.nextVpn(vpn + 1, endVpn)) {
    if (ptes.kind(vpn) === "migration") return ptes.folio(vpn);
  }
  return null;
}
