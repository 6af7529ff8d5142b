import { splitHugePmdIfNeeded } from "./huge-memory.ts";
import { PAGE_SIZE } from "./constants.ts";
import type { Kernel } from "./kernel.ts";
import type { MmState, VmaProps, VmaState } from "./state.ts";

/**
 * Splitting and merging VMAs, after mm/vma.c. The kernel grows or shrinks one of the VMAs in
 * place; the model records every such change as the old VMAs' removal and the new ones' insertion
 * (VMA ids are the model's own). Not modelled, because the model has none of them: VM_SPECIAL,
 * vm_ops->close, userfaultfd contexts, anon_vma names, mempolicies, soft-dirty.
 */

function mmState(k: Kernel, mm: number): MmState {
  const state = k.state.mms.get(mm);
  if (state === undefined) throw new Error(`no mm ${mm}`);
  return state;
}

function pagesOf(startAddr: number, endAddr: number): number {
  return (endAddr - startAddr) / PAGE_SIZE;
}

/** The properties of `vma`, to build a VMA like it. */
export function vmaProps(vma: VmaState): VmaProps {
  return { startAddr: vma.startAddr, endAddr: vma.endAddr, kind: vma.kind, read: vma.read, write: vma.write, pgoff: vma.pgoff, file: vma.file, anonVma: vma.anonVma };
}

/** vma_link (and the new VMA of a split or a merge): commits a VMA with these properties. */
export function vmaInsert(k: Kernel, mm: number, p: VmaProps): VmaState {
  const vma = k.state.nextVmaId;
  k.commit({ kind: "vma.insert", mm, vma, startAddr: p.startAddr, endAddr: p.endAddr, vmaKind: p.kind, read: p.read, write: p.write, pgoff: p.pgoff, file: p.file, anonVma: p.anonVma });
  return k.state.vmas.get(vma)!;
}

/** __split_vma: `vma` becomes [start, addr) and [addr, end), the second's pgoff moved on. */
export function splitVma(k: Kernel, mm: number, vma: VmaState, addr: number): [VmaState, VmaState] {
  splitHugePmdIfNeeded(k, mm, addr); // vma_adjust_trans_huge: no leaf may straddle the boundary
  const p = vmaProps(vma);
  k.commit({ kind: "vma.remove", mm, vma: vma.id });
  const low = vmaInsert(k, mm, { ...p, endAddr: addr });
  const high = vmaInsert(k, mm, { ...p, startAddr: addr, pgoff: p.pgoff + pagesOf(p.startAddr, addr) });
  return [low, high];
}

/** is_mergeable_vma: the same flags (kind and protection) and the same file. */
function isMergeableVma(vma: VmaState, p: VmaProps): boolean {
  return vma.kind === p.kind && vma.read === p.read && vma.write === p.write && vma.file === p.file;
}

/**
 * is_mergeable_anon_vma: pages of one VMA must stay findable through its anon_vma. Private
 * anonymous VMAs outside fork share the one the model does not tell apart (-1); a VMA fork
 * copied has its own, which nothing else shares (vma_had_uncowed_parents).
 */
function isMergeableAnonVma(a: number, b: number): boolean {
  return a === b;
}

/** can_vma_merge_after: `prev` can grow up over `p`: mergeable, and p's pgoff follows prev's. */
function canVmaMergeAfter(prev: VmaState, p: VmaProps): boolean {
  return isMergeableVma(prev, p) && isMergeableAnonVma(prev.anonVma, p.anonVma) && prev.pgoff + pagesOf(prev.startAddr, prev.endAddr) === p.pgoff;
}

/** can_vma_merge_before: `next` can grow down over `p`: mergeable, and next's pgoff follows p's. */
function canVmaMergeBefore(next: VmaState, p: VmaProps): boolean {
  return isMergeableVma(next, p) && isMergeableAnonVma(next.anonVma, p.anonVma) && p.pgoff + pagesOf(p.startAddr, p.endAddr) === next.pgoff;
}

/** The VMAs ending at `start` and starting at `end`, where they exist (vma_prev / vma_next). */
function neighbours(k: Kernel, mm: number, start: number, end: number): { prev: VmaState | undefined; next: VmaState | undefined } {
  const vmas = mmState(k, mm).vmas;
  return { prev: vmas.find((v) => v.endAddr === start), next: vmas.find((v) => v.startAddr === end) };
}

/**
 * vma_merge_new_range: a new mapping `p` (mmap, or mremap's copy_vma) joins the VMA before it,
 * the one after it, or both, when they can take it. Returns the VMA that now covers it, or null
 * when nothing merged (the caller then inserts a VMA of its own).
 */
export function vmaMergeNewRange(k: Kernel, mm: number, p: VmaProps): VmaState | null {
  const { prev, next } = neighbours(k, mm, p.startAddr, p.endAddr);
  const mergeLeft = prev !== undefined && canVmaMergeAfter(prev, p);
  // Both sides: prev and next must also be able to share one anon_vma.
  const mergeRight = next !== undefined && canVmaMergeBefore(next, p) && (!mergeLeft || isMergeableAnonVma(prev!.anonVma, next.anonVma));
  if (!mergeLeft && !mergeRight) return null;
  if (mergeLeft) k.commit({ kind: "vma.remove", mm, vma: prev!.id });
  if (mergeRight) k.commit({ kind: "vma.remove", mm, vma: next!.id });
  if (mergeLeft) return vmaInsert(k, mm, { ...vmaProps(prev!), endAddr: mergeRight ? next!.endAddr : p.endAddr }); // vma_expand of prev
  return vmaInsert(k, mm, { ...vmaProps(next!), startAddr: p.startAddr, pgoff: p.pgoff }); // next grows down
}

/**
 * vma_merge_existing_range: [start, end) of `middle` is to take the properties `p`; when that
 * range touches an end of `middle` whose neighbour can take it, the neighbour grows over it and
 * `middle` shrinks (or goes). Returns the VMA that now covers [start, end), or null.
 */
function vmaMergeExistingRange(k: Kernel, mm: number, middle: VmaState, p: VmaProps): VmaState | null {
  const leftSide = p.startAddr === middle.startAddr;
  const rightSide = p.endAddr === middle.endAddr;
  const { prev, next } = neighbours(k, mm, p.startAddr, p.endAddr);
  const mergeLeft = leftSide && prev !== undefined && canVmaMergeAfter(prev, p);
  const mergeRight = rightSide && next !== undefined && canVmaMergeBefore(next, p) && (!mergeLeft || isMergeableAnonVma(prev!.anonVma, next.anonVma));
  if (!mergeLeft && !mergeRight) return null;
  // commit_merge's vma_adjust_trans_huge: a boundary that moves into a PMD leaf splits it.
  if (mergeLeft && !rightSide) splitHugePmdIfNeeded(k, mm, p.endAddr);
  if (mergeRight && !leftSide) splitHugePmdIfNeeded(k, mm, p.startAddr);
  const rest = vmaProps(middle);
  if (mergeLeft) k.commit({ kind: "vma.remove", mm, vma: prev!.id });
  k.commit({ kind: "vma.remove", mm, vma: middle.id });
  if (mergeRight) k.commit({ kind: "vma.remove", mm, vma: next!.id });
  if (mergeLeft) {
    const merged = vmaInsert(k, mm, { ...vmaProps(prev!), endAddr: mergeRight ? next!.endAddr : p.endAddr });
    if (!rightSide) vmaInsert(k, mm, { ...rest, startAddr: p.endAddr, pgoff: rest.pgoff + pagesOf(rest.startAddr, p.endAddr) }); // middle shrinks
    return merged;
  }
  if (!leftSide) vmaInsert(k, mm, { ...rest, endAddr: p.startAddr }); // middle shrinks
  return vmaInsert(k, mm, { ...vmaProps(next!), startAddr: p.startAddr, pgoff: p.pgoff }); // next grows down
}

/**
 * vma_modify: [start, end) of `vma` takes new protection. It merges with a neighbour when it
 * can; otherwise `vma` is split at start and end and the piece between takes the protection.
 * Returns the VMA that now covers [start, end).
 */
export function vmaModifyFlags(k: Kernel, mm: number, vma: VmaState, start: number, end: number, read: boolean, write: boolean): VmaState {
  const p: VmaProps = { ...vmaProps(vma), startAddr: start, endAddr: end, pgoff: vma.pgoff + pagesOf(vma.startAddr, start), read, write };
  const merged = vmaMergeExistingRange(k, mm, vma, p);
  if (merged !== null) return merged;
  let piece = vma;
  if (start > piece.startAddr) piece = splitVma(k, mm, piece, start)[1];
  if (end < piece.endAddr) piece = splitVma(k, mm, piece, end)[0];
  k.commit({ kind: "vma.remove", mm, vma: piece.id }); // vm_flags_reset on the piece
  return vmaInsert(k, mm, { ...vmaProps(piece), read, write });
}
