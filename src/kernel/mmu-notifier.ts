import { WaitQueueHead, type Engine, type ProcessBody } from "../engine/index.ts";
import type { KernelEvent } from "./events.ts";
import type { KernelState, MmState } from "./state.ts";

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

/** The kernel fields this module needs (the Kernel class). */
export interface MmuNotifierHost {
  readonly engine: Engine;
  readonly mmuNotifiers: readonly MmuNotifier[];
  /** The mm's notifier sequence lives in its state (MmState.notifierSeq), applied from the log. */
  readonly state: KernelState;
  commit(ev: KernelEvent): void;
}

/**
 * Each mm's wait queue for readers waiting out an invalidation (notifier_subscriptions->wq): an
 * engine object, not state; its waits and wake-ups are engine events.
 */
const waitQueues = new WeakMap<MmuNotifierHost, Map<number, WaitQueueHead>>();

function waitQueueOf(k: MmuNotifierHost, mm: number): WaitQueueHead {
  let byMm = waitQueues.get(k);
  if (byMm === undefined) waitQueues.set(k, (byMm = new Map()));
  let wq = byMm.get(mm);
  if (wq === undefined) byMm.set(mm, (wq = new WaitQueueHead(k.engine, `mmu_notifier:${mm}`)));
  return wq;
}

function mmOf(k: MmuNotifierHost, mm: number): MmState {
  const state = k.state.mms.get(mm);
  if (state === undefined) throw new Error(`mmu notifier: no mm ${mm}`);
  return state;
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
  k.commit({ kind: "mmu_notifier.begin", mm: range.mm });
  const curSeq = mmOf(k, range.mm).notifierSeq;
  for (const notifier of k.mmuNotifiers) yield* notifier.invalidate(range, curSeq);
}

/**
 * mmu_notifier_invalidate_range_end (mn_itree_inv_end): when the last invalidation in progress
 * of the mm ends, its sequence turns even again and readers waiting to begin wake up.
 */
export function mmuNotifierInvalidateEnd(k: MmuNotifierHost, range: MmuNotifierRange): void {
  const mm = mmOf(k, range.mm);
  const wasOdd = (mm.notifierSeq & 1) === 1;
  k.commit({ kind: "mmu_notifier.end", mm: range.mm }); // the apply refuses an end without a start
  if (wasOdd && (mm.notifierSeq & 1) === 0) waitQueueOf(k, range.mm).wakeUpAll();
}

/**
 * The sequence a new interval notifier starts with (__mmu_interval_notifier_insert): the current
 * odd one if an invalidation is in progress (a reader then waits for it to end), else one behind.
 */
export function mmuIntervalNotifierInsertSeq(k: MmuNotifierHost, mm: number): number {
  const seq = mmOf(k, mm).notifierSeq;
  return (seq & 1) === 1 ? seq : seq - 1;
}

/**
 * mmu_interval_read_begin: if an invalidation the interval saw (its sequence is the mm's current,
 * odd one) is still in progress, sleep until it ends; returns the interval's sequence, which
 * mmu_interval_read_retry later compares.
 */
export function* mmuIntervalReadBegin(k: MmuNotifierHost, mm: number, intervalSeq: () => number): ProcessBody<number> {
  const state = mmOf(k, mm);
  const seq = intervalSeq();
  while (state.notifierSeq === seq) yield waitQueueOf(k, mm).wait();
  return seq;
}

/** mmu_interval_read_retry: an invalidation began since the read began. */
export function mmuIntervalReadRetry(intervalSeq: number, seq: number): boolean {
  return intervalSeq !== seq;
}
