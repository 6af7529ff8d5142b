import { IllegalTransition } from "../kernel/apply.ts";

export type CopyDir = "to_device" | "from_device";

/**
 * The copy engine's queue, event-sourced: every job from its arrival to its completion. Jobs wait
 * for one of `channels` channels in arrival order (the FIFO in front of the engine), run, and are
 * gone when their fence signals.
 */
export interface CopyEngineState {
  channels: number;
  nextJob: number;
  /** Jobs that arrived and wait for a channel, oldest first. */
  waiting: number[];
  /** Every job not yet completed: its size and direction, and whether it holds a channel. */
  jobs: Map<number, { bytes: number; dir: CopyDir; running: boolean }>;
  /** Jobs holding a channel now. */
  running: number;
}

/** The copy engine's events (see PlatformEvent in events.ts). */
export type CopyEvent =
  /** The copy engine is set up with `channels` channels. */
  | { kind: "copy.init"; channels: number }
  /** A job of `bytes` arrives (xe_svm_copy submits it) and queues for a channel. */
  | { kind: "copy.submit"; job: number; bytes: number; dir: CopyDir }
  /** The job at the head of the queue got a channel and runs. */
  | { kind: "copy.start"; job: number }
  /** A job completed: its bytes, the time it waited for a channel and the time it ran; its channel is free. */
  | { kind: "copy.job"; job: number; bytes: number; queuedNs: number; durationNs: number; dir: CopyDir };

export function applyCopyEvent(state: { copy: CopyEngineState | null }, ev: CopyEvent): void {
  if (ev.kind === "copy.init") {
    if (state.copy !== null) throw new IllegalTransition("copy engine set up twice");
    state.copy = { channels: ev.channels, nextJob: 0, waiting: [], jobs: new Map(), running: 0 };
    return;
  }
  const copy = state.copy;
  if (copy === null) throw new IllegalTransition(`${ev.kind} before copy.init`);
  switch (ev.kind) {
    case "copy.submit":
      if (ev.job !== copy.nextJob) throw new IllegalTransition(`copy job ${ev.job} out of order: the next job is ${copy.nextJob}`);
      copy.nextJob++;
      copy.jobs.set(ev.job, { bytes: ev.bytes, dir: ev.dir, running: false });
      copy.waiting.push(ev.job);
      return;
    case "copy.start":
      if (copy.waiting[0] !== ev.job) throw new IllegalTransition(`copy job ${ev.job} starts, but the head of the queue is ${copy.waiting[0] ?? "empty"}`);
      if (copy.running >= copy.channels) throw new IllegalTransition(`copy job ${ev.job} starts with all ${copy.channels} channels busy`);
      copy.waiting.shift();
      copy.jobs.get(ev.job)!.running = true;
      copy.running++;
      return;
    case "copy.job": {
      const job = copy.jobs.get(ev.job);
      if (job === undefined || !job.running) throw new IllegalTransition(`copy job ${ev.job} completes but ${job === undefined ? "was never submitted" : "never got a channel"}`);
      if (job.bytes !== ev.bytes || job.dir !== ev.dir) throw new IllegalTransition(`copy job ${ev.job} completes as ${ev.bytes} bytes ${ev.dir}, submitted as ${job.bytes} bytes ${job.dir}`);
      copy.jobs.delete(ev.job);
      copy.running--;
      return;
    }
    default: {
      const unknown: never = ev;
      throw new IllegalTransition(`unknown copy engine event kind ${(unknown as { kind: string }).kind}`);
    }
  }
}

/** Copy engine invariants: the jobs marked running are the channels in use, no more than there are; each waiting job is known and waits once. */
export function copyEngineProblems(state: { copy: CopyEngineState | null }): string[] {
  const copy = state.copy;
  if (copy === null) return [];
  const problems: string[] = [];
  const running = [...copy.jobs.values()].filter((j) => j.running).length;
  if (running !== copy.running) problems.push(`copy engine: ${running} jobs running, ${copy.running} channels taken`);
  if (copy.running > copy.channels) problems.push(`copy engine: ${copy.running} channels taken of ${copy.channels}`);
  if (new Set(copy.waiting).size !== copy.waiting.length) problems.push("copy engine: a job waits twice");
  for (const id of copy.waiting) if (copy.jobs.get(id)?.running !== false) problems.push(`copy engine: job ${id} waits but is ${copy.jobs.has(id) ? "running" : "unknown"}`);
  return problems;
}
