import { IllegalTransition } from "../kernel/apply.ts";
import type { ModelState } from "../pagemap/state.ts";
import { svmRangeIndexOf } from "./svm-range-index.ts";

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
  | { kind: "svm_range.insert"; range: number; mm: number; start: number; end: number }
  /** The range's GPU page-table entries were written (xe_svm_range_bind) for its current pages. */
  | { kind: "svm_range.bind"; range: number; memory: "system" | "device" }
  /** The GPU mapping is gone (invalidation found its pages moved); the next access faults. */
  | { kind: "svm_range.invalidate"; range: number }
  /** The range is destroyed (garbage collection after an unmap). */
  | { kind: "svm_range.remove"; range: number }
  /** A GPU access found no valid mapping: the fault enters __xe_svm_handle_pagefault. */
  | { kind: "gpu_fault.begin"; mm: number; addr: number; access: GpuAccess }
  /** One stage of the fault handler ran for durationNs (attempt counts retries, from 0). */
  | { kind: "gpu_fault.stage"; stage: GpuFaultStage; durationNs: number; ret: number; attempt: number }
  /** The fault handler returned: 0, or the error the GPU thread sees. */
  | { kind: "gpu_fault.end"; ret: number; timesliceMs: number }
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
  /** A copy-engine job: bytes moved, the time it waited for a channel and the time it ran. */
  | { kind: "copy.job"; bytes: number; queuedNs: number; durationNs: number; dir: "to_device" | "from_device" }
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
  removed: boolean;
}

export interface PlatformState {
  svmRanges: Map<number, SvmRangeState>;
  nextSvmRangeId: number;
}

/** The state a platform run event-sources: the model's plus the driver's ranges. */
export type WorldState = ModelState & PlatformState;

export function withPlatformState(model: ModelState): WorldState {
  return Object.assign(model, { svmRanges: new Map<number, SvmRangeState>(), nextSvmRangeId: 0 });
}

// A record, so the compiler insists every platform kind is listed.
const PLATFORM_KIND_LIST: Record<PlatformEventKind, true> = {
  "svm_range.insert": true, "svm_range.bind": true, "svm_range.invalidate": true, "svm_range.remove": true,
  "gpu_fault.begin": true, "gpu_fault.stage": true, "gpu_fault.end": true, "copy.job": true,
  "gpu_fault.throttle": true, "mmu_notifier.block": true, "gpu.irq_put": true,
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
      const range: SvmRangeState = { id: ev.range, mm: ev.mm, start: ev.start, end: ev.end, boundTo: null, removed: false };
      state.svmRanges.set(ev.range, range);
      index.insert(range);
      state.nextSvmRangeId++;
      return;
    }
    case "svm_range.bind":
      liveRange(state, ev.range).boundTo = ev.memory;
      return;
    case "svm_range.invalidate":
      liveRange(state, ev.range).boundTo = null;
      return;
    case "svm_range.remove": {
      const range = liveRange(state, ev.range);
      range.removed = true;
      state.svmRanges.delete(ev.range);
      svmRangeIndexOf(state).remove(range);
      return;
    }
    case "gpu_fault.begin":
    case "gpu_fault.end":
    case "gpu_fault.stage":
    case "gpu_fault.throttle":
    case "mmu_notifier.block":
    case "copy.job":
    case "gpu.irq_put":
      return; // recorded stages and decisions: they change no state
    default: {
      const unknown: never = ev;
      throw new IllegalTransition(`unknown platform event kind ${(unknown as { kind: string }).kind}`);
    }
  }
}

function liveRange(state: WorldState, id: number): SvmRangeState {
  const r = state.svmRanges.get(id);
  if (r === undefined || r.removed) throw new IllegalTransition(`no svm range ${id}`);
  return r;
}
