import type { WorkloadInput } from "./types.ts";

/**
 * Removing threads and steps from a workload input while keeping what refers to them valid, for
 * the shrinker (src/explore/shrink.ts). A `wait` names a thread and optionally a step index (its
 * own steps first, then its pattern's): a removal renumbers the waits that point past it and
 * drops the waits whose thread or step is gone. A thread left with nothing to run goes, and a
 * thread of a process whose fork was removed moves to the last process still forked. Pin/unpin
 * and get/irq_put pairs are left as they are: an unmatched one is the predicate's to judge.
 */

export type ThreadInput = WorkloadInput["threads"][number];
export type StepInput = NonNullable<ThreadInput["steps"]>[number];

/** A wait whose target step was removed: dropped by `repair` before anyone sees it. */
const GONE = -1;

const stepsOf = (t: ThreadInput): StepInput[] => t.steps ?? [];
const stepCount = (t: ThreadInput): number => stepsOf(t).length + (t.pattern?.count ?? 0);

/** The workload without the steps `drop` picks; waits renumbered to the steps' new indices. */
export function removeSteps(w: WorkloadInput, drop: (thread: number, step: number) => boolean): WorkloadInput {
  const renumber = new Map<string, (old: number) => number>();
  const threads = w.threads.map((t, ti) => {
    const steps = stepsOf(t);
    const newIndex: number[] = [];
    const kept: StepInput[] = [];
    steps.forEach((s, si) => {
      newIndex.push(drop(ti, si) ? GONE : kept.length);
      if (!drop(ti, si)) kept.push(s);
    });
    const removed = steps.length - kept.length;
    renumber.set(t.name, (old) => (old < steps.length ? newIndex[old]! : old - removed));
    return { ...t, steps: kept };
  });
  for (const t of threads) {
    t.steps = t.steps.map((s) => (s.op === "wait" && s.step !== undefined && renumber.has(s.thread) ? { ...s, step: renumber.get(s.thread)!(s.step) } : s));
  }
  return repair({ ...w, threads });
}

/** The workload without the threads `drop` picks (waits on them dropped). */
export function removeThreads(w: WorkloadInput, drop: (thread: number) => boolean): WorkloadInput {
  return repair({ ...w, threads: w.threads.filter((_, ti) => !drop(ti)) });
}

/**
 * Drops dangling waits (their thread gone, their step removed or past the thread's end) until
 * none is left (a dropped wait renumbers the waits on its own thread), then threads with nothing
 * to run, then moves threads whose process is no longer forked.
 */
export function repair(w: WorkloadInput): WorkloadInput {
  let out = { ...w, threads: w.threads.filter((t) => stepsOf(t).length > 0 || t.pattern !== undefined) };
  const byName = new Map(out.threads.map((t) => [t.name, t]));
  const dangling = (s: StepInput): boolean => {
    if (s.op !== "wait") return false;
    const target = byName.get(s.thread);
    return target === undefined || (s.step !== undefined && (s.step === GONE || s.step >= stepCount(target)));
  };
  if (out.threads.some((t) => stepsOf(t).some(dangling))) {
    const marked = out.threads.map((t) => stepsOf(t).map(dangling));
    return removeSteps(out, (ti, si) => marked[ti]![si]!);
  }
  const forks = out.threads.reduce((n, t) => n + stepsOf(t).filter((s) => s.op === "fork").length, 0);
  if (out.threads.some((t) => (t.process ?? 0) > forks)) {
    out = { ...out, threads: out.threads.map((t) => ((t.process ?? 0) > forks ? { ...t, process: forks } : t)) };
  }
  return out;
}

/** A workload's size as a report gives it: the file's threads and their steps (pattern steps counted, replicas not). */
export function workloadSize(w: WorkloadInput): { threads: number; steps: number } {
  return { threads: w.threads.length, steps: w.threads.reduce((n, t) => n + stepCount(t), 0) };
}
