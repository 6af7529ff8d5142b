import type { ProcessBody } from "../engine/index.ts";

/** Why a range's mappings change (enum mmu_notifier_event, the values the model raises). */
export type MmuNotifyEvent = "unmap" | "clear" | "protection" | "migrate";

/** struct mmu_notifier_range: which addresses of which mm, why, and (for migrate) whose pages. */
export interface MmuNotifierRange {
  mm: number;
  start: number;
  end: number;
  event: MmuNotifyEvent;
  /** For "migrate": the device-private owner the migration selects (migrate_pgmap_owner); else -1. */
  owner: number;
}

/** A secondary MMU (a GPU's SVM) that mirrors CPU page tables and must drop what changes. */
export interface MmuNotifier {
  /** invalidate_range_start, blockable: runs in the thread that changes the mappings, and may sleep. */
  invalidate(range: MmuNotifierRange): ProcessBody<void>;
}

/**
 * mmu_notifier_invalidate_range_start: every registered secondary MMU drops its mappings of the
 * range before the CPU side changes them. The time it takes (a GPU PTE zap and TLB invalidation)
 * is spent by the thread making the change.
 */
export function* mmuNotifierInvalidate(k: { readonly mmuNotifiers: readonly MmuNotifier[] }, range: MmuNotifierRange): ProcessBody<void> {
  for (const notifier of k.mmuNotifiers) yield* notifier.invalidate(range);
}
