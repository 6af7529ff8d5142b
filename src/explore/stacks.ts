import type { EngineEventKind, ExecContext } from "../engine/index.ts";
import type { ModelEventListener } from "../kernel/event-log.ts";
import type { RunEvent } from "../machine/run-events.ts";
import { createdKey } from "./objects.ts";
import type { LoggedEvent } from "./types.ts";

/**
 * Per-thread call stacks rebuilt from the log (design note §0.7): every `<fn>.begin` the model
 * commits (step, access, gpu_fault, handle_mm_fault, mmu_notifier, the four drm_pagemap
 * functions) pushes a frame on its thread's stack and the matching `<fn>.end` pops it; a step
 * is the frame `step:<op>`, standing for the syscalls that log no begin/end of their own.
 * Threads that run no steps (IRQ handlers `irq@…`, `irq:folio…`, kworkers) start with one frame
 * named after their spawn name, so what they do still has a place.
 *
 * Frames are immutable links (a frame points at its caller), so taking the stack an event
 * happened in costs one pointer: the tracker keeps the last `keep` events with theirs, which is
 * what the signature and the explanation read. It also keeps, for every object created (folio,
 * zdd, devmem, svm range, mm, vma, copy job), the event that created it, however old: a leak
 * found at teardown is about where the leaked thing came from.
 *
 * A problem may be found mid-step and an illegal transition may throw mid-function, so the
 * tracker never insists: an end with no matching begin is counted and ignored, and an end that
 * matches a frame further down unwinds the frames left open above it.
 */

/** One call: its function name, the begin event that opened it (null: a base frame) and its caller (null at the bottom). */
export interface Frame {
  readonly fn: string;
  readonly begin: RunEvent | null;
  readonly parent: Frame | null;
}

/** A committed event and the stack its thread was in (a begin's own frame included, an end's too). */
export interface TrackedEvent extends LoggedEvent {
  readonly frame: Frame | null;
  /** For an end that matched its begin: that begin (its fields say what the call was on). */
  readonly opened?: RunEvent;
}

/** One thread's stack, bottom first. */
export interface ThreadStack {
  thread: number;
  name: string;
  ctx: ExecContext;
  frames: string[];
}

/** Every live thread's stack at one point of the log. */
export type StackSnapshot = Map<number, ThreadStack>;

interface ThreadState {
  name: string;
  ctx: ExecContext;
  /** The frame the thread was born with (IRQ, kworker), never popped. */
  base: Frame | null;
  top: Frame | null;
}

const BEGIN = ".begin";
const END = ".end";

/** Function names, bottom first. */
export function frameNames(frame: Frame | null): string[] {
  const names: string[] = [];
  for (let f = frame; f !== null; f = f.parent) names.push(f.fn);
  return names.reverse();
}

/**
 * The frame a thread without steps starts with: its spawn name up to `@` or `:` (irq@0x4000000
 * → irq, irq-timer:folio3 → irq-timer, kworker/drm_pagemap_release as it is), digits as `#`;
 * its context's name when the spawn name is unknown. Workload threads and set-up get none.
 */
export function baseFrameName(name: string | undefined, ctx: ExecContext): string | null {
  const named = name !== undefined && /^(irq|kworker)/.test(name);
  if (!named && ctx !== "irq" && ctx !== "workqueue") return null;
  if (name === undefined) return ctx === "irq" ? "irq" : "kworker";
  return name.split(/[@:]/)[0]!.replace(/\d+/g, "#");
}

/** The frame name a begin or end event stands for, or null for any other event. */
function callName(ev: RunEvent, suffix: string): string | null {
  if (!ev.kind.endsWith(suffix)) return null;
  const fn = ev.kind.slice(0, -suffix.length);
  return fn === "step" ? `step:${(ev as { op: string }).op}` : fn;
}

export class StackTracker implements ModelEventListener<RunEvent> {
  private readonly threads = new Map<number, ThreadState>();
  private readonly ring: TrackedEvent[] = [];
  private readonly created = new Map<string, TrackedEvent>();
  /** Every thread ever seen, exited or not: its name and its last event. */
  private readonly names = new Map<number, string>();
  private readonly lastOf = new Map<number, TrackedEvent>();
  private next = 0;
  /** Ends that matched no open frame (a log cut mid-function, or a model bug). */
  unmatchedEnds = 0;
  /** Sequence number of the last model event seen (-1 before any). */
  lastSeq = -1;

  /** @param keep how many of the latest events to keep with their stacks */
  constructor(private readonly keep = 4096) {}

  /**
   * The tracker of a list of logged events up to `uptoSeq` (names from onSpawn, where known).
   * With the same `keep`, it holds what a live tracker held when event uptoSeq was committed,
   * so a signature taken either way is the same.
   */
  static fromEvents(events: readonly LoggedEvent[], names: ReadonlyMap<number, string> = new Map(), uptoSeq = Infinity, keep = 4096): StackTracker {
    const t = new StackTracker(keep);
    for (const e of events) {
      if (e.seq > uptoSeq) break;
      if (!t.threads.has(e.thread)) {
        const name = names.get(e.thread);
        if (name !== undefined) t.onSpawn(e.thread, name, e.ctx);
      }
      t.onModelEvent(e.seq, e.tNs, e.thread, e.ctx, e.ev);
    }
    return t;
  }

  onSpawn(procUid: number, name: string, ctx: ExecContext): void {
    const baseName = baseFrameName(name, ctx);
    const base = baseName === null ? null : { fn: baseName, begin: null, parent: null };
    this.threads.set(procUid, { name, ctx, base, top: base });
    this.names.set(procUid, name);
  }

  /** A thread's exit (engine event proc.exit) takes it out of the snapshot. */
  onEngineEvent(_seq: number, kind: EngineEventKind, _tNs: number, procUid: number): void {
    if (kind === "proc.exit") this.threads.delete(procUid);
  }

  onModelEvent(seq: number, tNs: number, thread: number, ctx: ExecContext, ev: RunEvent): void {
    const t = this.threadOf(thread, ctx);
    const begin = callName(ev, BEGIN);
    if (begin !== null) t.top = { fn: begin, begin: ev, parent: t.top };
    let frame = t.top;
    let opened: RunEvent | undefined;
    if (begin === null) {
      const end = callName(ev, END);
      const closed = end === null ? null : this.unwind(t, end, ev.kind === "step.end");
      if (closed !== null) {
        frame = closed;
        opened = closed.begin ?? undefined;
      }
    }
    this.lastSeq = seq;
    const tracked: TrackedEvent = opened === undefined ? { seq, tNs, thread, ctx, ev, frame } : { seq, tNs, thread, ctx, ev, frame, opened };
    this.remember(tracked);
    this.lastOf.set(thread, tracked);
    const key = createdKey(ev);
    if (key !== null && !this.created.has(key)) this.created.set(key, tracked);
  }

  /** The event that created the object of `key` (objects.ts objectKey), if seen. */
  creation(key: string): TrackedEvent | undefined {
    return this.created.get(key);
  }

  /** Every known thread's stack now. */
  stacksAt(): StackSnapshot {
    const snapshot: StackSnapshot = new Map();
    for (const [thread, t] of this.threads) snapshot.set(thread, { thread, name: t.name, ctx: t.ctx, frames: frameNames(t.top) });
    return snapshot;
  }

  /** The thread's spawn name (`thread N` if unknown, `set-up` for -1). */
  threadName(uid: number): string {
    return this.names.get(uid) ?? (uid === -1 ? "set-up" : `thread ${uid}`);
  }

  /** Every thread with a known spawn name, exited or not. */
  namedThreads(): number[] {
    return [...this.names.keys()];
  }

  /** The last event the thread committed, however old. */
  lastEventOf(uid: number): TrackedEvent | undefined {
    return this.lastOf.get(uid);
  }

  /** The events kept, oldest first. */
  recent(): TrackedEvent[] {
    if (this.ring.length < this.keep) return [...this.ring];
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }

  private threadOf(uid: number, ctx: ExecContext): ThreadState {
    let t = this.threads.get(uid);
    if (t === undefined) {
      const baseName = baseFrameName(undefined, ctx);
      const base = baseName === null ? null : { fn: baseName, begin: null, parent: null };
      t = { name: uid === -1 ? "set-up" : `thread ${uid}`, ctx, base, top: base };
      this.threads.set(uid, t);
    }
    return t;
  }

  /** Pops to the nearest frame named `fn` (a step end to the nearest step) and returns it; none: ignored, null. */
  private unwind(t: ThreadState, fn: string, step: boolean): Frame | null {
    for (let f = t.top; f !== null && f !== t.base; f = f.parent) {
      if (step ? f.fn.startsWith("step:") : f.fn === fn) {
        t.top = f.parent;
        return f;
      }
    }
    this.unmatchedEnds++;
    return null;
  }

  private remember(e: TrackedEvent): void {
    if (this.ring.length < this.keep) this.ring.push(e);
    else {
      this.ring[this.next] = e;
      this.next = (this.next + 1) % this.keep;
    }
  }
}
