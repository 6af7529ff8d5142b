import type { ProcessBody } from "../engine/index.ts";
import { Errno, PAGE_SHIFT, PAGE_SIZE } from "./constants.ts";
import { folioPut } from "./folio.ts";
import type { Kernel } from "./kernel.ts";
import type { MmState, VmaKind } from "./state.ts";

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

/** mmap(MAP_FIXED_NOREPLACE): a new VMA at exactly `addr`; -EEXIST if anything is mapped there. */
export function* mmap(k: Kernel, mm: number, req: MmapRequest): ProcessBody<number> {
  if (req.addr % PAGE_SIZE !== 0 || req.lengthBytes <= 0 || req.lengthBytes % PAGE_SIZE !== 0) return -Errno.EINVAL;
  const lock = k.mmapLock(mm);
  yield lock.downWrite();
  const end = req.addr + req.lengthBytes;
  const overlaps = mmOf(k, mm).vmas.some((v) => req.addr < v.endAddr && v.startAddr < end);
  if (!overlaps) {
    k.commit({ kind: "vma.insert", mm, vma: k.state.nextVmaId, startAddr: req.addr, endAddr: end, vmaKind: req.kind, read: req.read, write: req.write });
  }
  lock.upWrite();
  return overlaps ? -Errno.EEXIST : 0;
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
  for (const vma of mmOf(k, mm).vmas.filter((v) => addr < v.endAddr && v.startAddr < end)) {
    const cutStart = Math.max(addr, vma.startAddr);
    const cutEnd = Math.min(end, vma.endAddr);
    yield* zapPteRange(k, mm, cutStart, cutEnd);
    k.commit({ kind: "vma.remove", mm, vma: vma.id });
    for (const [s, e] of [
      [vma.startAddr, cutStart],
      [cutEnd, vma.endAddr],
    ] as const) {
      if (e > s) k.commit({ kind: "vma.insert", mm, vma: k.state.nextVmaId, startAddr: s, endAddr: e, vmaKind: vma.kind, read: vma.read, write: vma.write });
    }
  }
  lock.upWrite();
  return 0;
}

/**
 * zap_pte_range: clears every entry in [start, end) and drops the reference each mapping held.
 * A migration entry holds no reference of its own (the migrating thread does); clearing it makes
 * that migration fail for the page.
 */
export function* zapPteRange(k: Kernel, mm: number, start: number, end: number): ProcessBody<void> {
  const ptes = mmOf(k, mm).ptes;
  for (let vpn = start >> PAGE_SHIFT; vpn < end >> PAGE_SHIFT; vpn++) {
    const pte = ptes.get(vpn);
    if (pte === undefined) continue;
    k.commit({ kind: "pte.clear", mm, vpn });
    if (pte.kind !== "migration") yield* folioPut(k, pte.folio);
  }
}
