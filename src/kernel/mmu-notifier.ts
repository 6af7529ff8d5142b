import { WaitQueueHead, type Engine, type ProcessBody } from "../engine/index.ts";

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
  /**
   * mmu_interval_notifier_ops.invalidate, blockable: runs in the thread that changes the
   * mappings, and may sleep. `curSeq` is the mm's sequence for this invalidation, which the
   * notifier stores in each interval it overlaps (mmu_interval_set_seq).
   */
  invalidate(range: MmuNotifierRange, curSeq: number): ProcessBody<void>;
}

/**
 * struct mmu_notifier_subscriptions, the interval-tree part: one per mm. invalidate_seq is odd
 * while invalidations are in progress (active_invalidate_ranges > 0); readers sleep on wq.
 */
interface MmuNotifierSubscriptions {
  invalidateSeq: number;
  activeInvalidateRanges: number;
  wq: WaitQueueHead;
}

/** The kernel fields this module needs (the Kernel class, or a test's stand-in). */
export interface MmuNotifierHost {
  readonly engine: Engine;
  readonly mmuNotifiers: readonly MmuNotifier[];
}

const subscriptionsByHost = new WeakMap<MmuNotifierHost, Map<number, MmuNotifierSubscriptions>>();

/** mm->notifier_subscriptions, made on first use (mmu_notifier_register allocates it). */
function subscriptionsOf(k: MmuNotifierHost, mm: number): MmuNotifierSubscriptions {
  let byMm = subscriptionsByHost.get(k);
  if (byMm === undefined) subscriptionsByHost.set(k, (byMm = new Map()));
  let subs = byMm.get(mm);
  // __mmu_notifier_register starts the sequence at 2 (even: nothing in progress).
  if (subs === undefined) byMm.set(mm, (subs = { invalidateSeq: 2, activeInvalidateRanges: 0, wq: new WaitQueueHead(k.engine, `mmu_notifier:${mm}`) }));
  return subs;
}

/**
 * mmu_notifier_invalidate_range_start (mn_itree_inv_start_range and the callbacks): the mm's
 * sequence turns odd, and every registered secondary MMU drops its mappings of the range before
 * the CPU side changes them, in the changing thread. Simplification: the sequence turns odd for
 * every invalidation, where the kernel does so only when some interval overlaps the range; only
 * intervals holding the odd value ever wait, so no reader waits that the kernel's would not.
 * Every call must be paired with mmuNotifierInvalidateEnd once the page tables are changed.
 */
export function* mmuNotifierInvalidate(k: MmuNotifierHost, range: MmuNotifierRange): ProcessBody<void> {
  const subs = subscriptionsOf(k, range.mm);
  subs.activeInvalidateRanges++;
  subs.invalidateSeq |= 1;
  const curSeq = subs.invalidateSeq;
  for (const notifier of k.mmuNotifiers) yield* notifier.invalidate(range, curSeq);
}

/**
 * mmu_notifier_invalidate_range_end (mn_itree_inv_end): when the last invalidation in progress
 * of the mm ends, its sequence turns even again and readers waiting to begin wake up.
 */
export function mmuNotifierInvalidateEnd(k: MmuNotifierHost, range: MmuNotifierRange): void {
  const subs = subscriptionsOf(k, range.mm);
  if (subs.activeInvalidateRanges === 0) throw new Error(`mmu notifier: invalidate_range_end of mm ${range.mm} without a start`);
  subs.activeInvalidateRanges--;
  if (subs.activeInvalidateRanges > 0 || (subs.invalidateSeq & 1) === 0) return;
  subs.invalidateSeq++;
  subs.wq.wakeUpAll();
}

/**
 * The sequence a new interval notifier starts with (__mmu_interval_notifier_insert): the current
 * odd one if an invalidation is in progress (a reader then waits for it to end), else one behind.
 */
export function mmuIntervalNotifierInsertSeq(k: MmuNotifierHost, mm: number): number {
  const subs = subscriptionsOf(k, mm);
  return (subs.invalidateSeq & 1) === 1 ? subs.invalidateSeq : subs.invalidateSeq - 1;
}

/**
 * mmu_interval_read_begin: if an invalidation the interval saw (its sequence is the mm's current,
 * odd one) is still in progress, sleep until it ends; returns the interval's sequence, which
 * mmu_interval_read_retry later compares.
 */
export function* mmuIntervalReadBegin(k: MmuNotifierHost, mm: number, intervalSeq: () => number): ProcessBody<number> {
  const subs = subscriptionsOf(k, mm);
  const seq = intervalSeq();
  while (subs.invalidateSeq === seq) yield subs.wq.wait();
  return seq;
}

/** mmu_interval_read_retry: an invalidation began since the read began. */
export function mmuIntervalReadRetry(intervalSeq: number, seq: number): boolean {
  return intervalSeq !== seq;
}
