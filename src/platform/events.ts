import { IllegalTransition } from "../kernel/apply.ts";
import { PAGE_SIZE } from "../kernel/constants.ts";
import type { ModelState } from "../pagemap/state.ts";
import { svmRangeIndexOf } from "./svm-range-index.ts";
import { applyCopyEvent, type CopyEngineState, type CopyEvent } from "./copy-state.ts";
import { applyVramEvent, type VramEvent, type VramState } from "./vram-state.ts";

/** What a GPU access asks for; atomics on a discrete GPU need the pages in VRAM. */
export type GpuAccess = "read" | "write" | "atomic";

/** The stages of a GPU page fault whose time the report breaks down. */
export const GPU_FAULT_STAGES = ["gc", "find_range", "migrate", "get_pages", "bind"] as const;
export type GpuFaultStage = (typeof GPU_FAULT_STAGES)[number];

/**
 * The driver side's events: GPU SVM ranges (drm_gpusvm_range) and their GPU mappings, GPU faults
 * and their stages, copy-engine jobs and DMA costs. Range events change platform state; the rest
 * record what happened and how long it took.
 */
export type PlatformEvent =
  /** drm_gpusvm_range_find_or_insert created a range of chunkBytes around the fault. */
  | { kind: "svm_range.insert"; range: number; mm: number; start: number; end: number; notifierSeq: number }
  /**
   * The range's GPU page-table entries were written (xe_svm_range_bind) for its current pages:
   * folios, page by page, each the one its CPU page-table entry points to; writable false when a
   * read found a copy-on-write page (the GPU maps the range read-only); notifierSeq is the sequence
   * mmu_interval_read_begin returned before get_pages, still the range's (else the bind retries).
   */
  | { kind: "svm_range.bind"; range: number; memory: "system" | "device"; folios: number[]; writable: boolean; notifierSeq: number }
  /** mmu_interval_set_seq: an invalidation overlapping the range stored its sequence in the range's notifier. */
  | { kind: "svm_range.notifier_seq"; range: number; notifierSeq: number }
  /** The GPU mapping is gone (invalidation found its pages moved); the next access faults. */
  | { kind: "svm_range.invalidate"; range: number }
  /** The range is destroyed (garbage collection after an unmap). */
  | { kind: "svm_range.remove"; range: number }
  /** A GPU access found no valid mapping: the fault enters __xe_svm_handle_pagefault. */
  | { kind: "gpu_fault.begin"; mm: number; addr: number; access: GpuAccess }
  /** One stage of the fault handler ran for durationNs (attempt counts retries, from 0). */
  | { kind: "gpu_fault.stage"; stage: GpuFaultStage; durationNs: number; ret: number; attempt: number }
  /**
   * The fault handler returned: 0, or the error the GPU thread sees. askedTimesliceMs: the
   * timeslice the fault asked for (the policy's, or Xe's atomic_svm_timeslice_ms / 0), before any
   * doubling; stampedTimesliceMs: the one its successful migration passed to
   * drm_pagemap_migrate_to_devmem (asked, doubled once per retry before it), -1 when none succeeded.
   */
  | { kind: "gpu_fault.end"; ret: number; askedTimesliceMs: number; stampedTimesliceMs: number }
  /**
   * Not a kernel step: the simulated migration policy throttled a GPU fault; it is not serviced
   * and the GPU replays the access durationNs later.
   */
  | { kind: "gpu_fault.throttle"; mm: number; addr: number; durationNs: number }
  /**
   * Not a kernel step: under the notifier-block policy the GPU's MMU notifier held a migration of
   * a device-resident range back for durationNs, until the range's timeslice ended.
   */
  | { kind: "mmu_notifier.block"; range: number; durationNs: number }
  | CopyEvent
  | VramEvent
  /** The completion interrupt of a GPU access drops the device-page reference the access took (irqFrees). */
  | { kind: "gpu.irq_put"; folio: number };

export type PlatformEventKind = PlatformEvent["kind"];

/** One GPU SVM range, as the driver tracks it. */
export interface SvmRangeState {
  id: number;
  mm: number;
  start: number;
  end: number;
  /** Where the GPU maps it, or null when it has no valid GPU mapping. */
  boundTo: "system" | "device" | null;
  /** The folios the GPU mapping points at, page by page (empty when unbound): what a notifier must invalidate. */
  folios: number[];
  /** The bound mapping is read-only: a read found a copy-on-write page (get_pages without HMM_PFN_WRITE). */
  readOnly: boolean;
  /** The range notifier's sequence (mmu_interval_notifier's invalidate_seq), which a bind compares. */
  notifierSeq: number;
  removed: boolean;
}

export interface PlatformState {
  svmRanges: Map<number, SvmRangeState>;
  nextSvmRangeId: number;
  /** The VRAM allocator and LRU, from vram.init on (runs with a calibrated platform only). */
  vram: VramState | null;
  /** The copy engine's queue, from copy.init on (runs with a calibrated platform only). */
  copy: CopyEngineState | null;
}

/** The state a platform run event-sources: the model's plus the driver's ranges. */
export type WorldState = ModelState & PlatformState;

export function withPlatformState(model: ModelState): WorldState {
  return Object.assign(model, { svmRanges: new Map<number, SvmRangeState>(), nextSvmRangeId: 0, vram: null, copy: null });
}

// A record, so the compiler insists every platform kind is listed.
const PLATFORM_KIND_LIST: Record<PlatformEventKind, true> = {
  "svm_range.insert": true, "svm_range.bind": true, "svm_range.notifier_seq": true, "svm_range.invalidate": true, "svm_range.remove": true,
  "gpu_fault.begin": true, "gpu_fault.stage": true, "gpu_fault.end": true,
  "gpu_fault.throttle": true, "mmu_notifier.block": true, "gpu.irq_put": true,
  "copy.init": true, "copy.submit": true, "copy.start": true, "copy.job": true,
  "vram.init": true, "vram.alloc": true, "vram.touch": true, "vram.evict": true, "vram.free": true,
};
const PLATFORM_KINDS: ReadonlySet<string> = new Set(Object.keys(PLATFORM_KIND_LIST));

/** Whether an event is the platform's (a set lookup: this runs for every event applied). */
export function isPlatformEvent(ev: { kind: string }): ev is PlatformEvent {
  return PLATFORM_KINDS.has(ev.kind);
}

/** Applies a platform event; events that only record time change nothing. */
export function applyPlatformEvent(state: WorldState, ev: PlatformEvent): void {
  switch (ev.kind) {
    case "svm_range.insert": {
      if (ev.range !== state.nextSvmRangeId) throw new IllegalTransition(`svm range id ${ev.range} out of order: next is ${state.nextSvmRangeId}`);
      const index = svmRangeIndexOf(state);
      const other = index.overlapping(ev.mm, ev.start, ev.end)[0];
      if (other !== undefined) throw new IllegalTransition(`svm range ${ev.range} overlaps range ${other.id}`);
      const range: SvmRangeState = { id: ev.range, mm: ev.mm, start: ev.start, end: ev.end, boundTo: null, folios: [], readOnly: false, notifierSeq: ev.notifierSeq, removed: false };
      state.svmRanges.set(ev.range, range);
      index.insert(range);
      state.nextSvmRangeId++;
      return;
    }
    case "svm_range.bind":
      bindRange(state, liveRange(state, ev.range), ev);
      return;
    case "svm_range.notifier_seq":
      liveRange(state, ev.range).notifierSeq = ev.notifierSeq;
      return;
    case "svm_range.invalidate":
      unbind(liveRange(state, ev.range));
      return;
    case "svm_range.remove": {
      const range = liveRange(state, ev.range);
      // The driver frees the range: its binding and notifier go with it (a fault still holding it sees neither).
      unbind(range);
      range.notifierSeq = 0;
      range.removed = true;
      state.svmRanges.delete(ev.range);
      svmRangeIndexOf(state).remove(range);
      return;
    }
    case "vram.init":
    case "vram.alloc":
    case "vram.touch":
    case "vram.evict":
    case "vram.free":
      applyVramEvent(state, ev);
      return;
    case "copy.init":
    case "copy.submit":
    case "copy.start":
    case "copy.job":
      applyCopyEvent(state, ev);
      return;
    case "gpu_fault.begin":
    case "gpu_fault.end":
    case "gpu_fault.stage":
    case "gpu_fault.throttle":
    case "mmu_notifier.block":
    case "gpu.irq_put":
      return; // recorded stages and decisions: they change no state
    default: {
      const unknown: never = ev;
      throw new IllegalTransition(`unknown platform event kind ${(unknown as { kind: string }).kind}`);
    }
  }
}

/** svm_range.bind: every folio bound must be the one its CPU page-table entry points to now, in the memory named. */
function bindRange(state: WorldState, range: SvmRangeState, ev: Extract<PlatformEvent, { kind: "svm_range.bind" }>): void {
  // mmu_interval_read_retry under the notifier lock: a bind happens only if no invalidation came since the read began.
  if (ev.notifierSeq !== range.notifierSeq) throw new IllegalTransition(`svm range ${range.id} bound for notifier sequence ${ev.notifierSeq}, but its notifier is at ${range.notifierSeq}`);
  const problem = bindingProblem(state, range, ev.folios, ev.memory);
  if (problem !== null) throw new IllegalTransition(`svm range ${range.id} bound to ${problem}`);
  range.boundTo = ev.memory;
  range.folios = [...ev.folios];
  range.readOnly = !ev.writable;
}

/**
 * Why `folios` in `memory` is not what the range's CPU page tables map now, or null: the check a
 * bind's apply makes and the platform invariants repeat for every bound range.
 */
export function bindingProblem(state: ModelState, range: SvmRangeState, folios: readonly number[], memory: "system" | "device"): string | null {
  const npages = (range.end - range.start) / PAGE_SIZE;
  if (folios.length !== npages) return `${folios.length} folios for its ${npages} pages`;
  const ptes = state.mms.get(range.mm)?.ptes;
  const first = range.start / PAGE_SIZE;
  for (let i = 0; i < npages; i++) {
    const pte = ptes?.get(first + i);
    if (pte === undefined || pte.kind === "migration" || pte.folio !== folios[i]) return `folio ${folios[i]} at page ${first + i}, which maps ${pte === undefined ? "nothing" : `${pte.kind} folio ${pte.folio}`}`;
    if ((pte.kind === "device-private") !== (memory === "device")) return `${memory} memory at page ${first + i}, which maps a ${pte.kind} entry`;
  }
  return null;
}

function unbind(range: SvmRangeState): void {
  range.boundTo = null;
  range.folios = [];
  range.readOnly = false;
}

function liveRange(state: WorldState, id: number): SvmRangeState {
  const r = state.svmRanges.get(id);
  if (r === undefined || r.removed) throw new IllegalTransition(`no svm range ${id}`);
  return r;
}
