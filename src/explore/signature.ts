import { describeObject, namedObjects, objectKey, touches, type ObjectRef } from "./objects.ts";
import { frameNames, type StackTracker, type TrackedEvent } from "./stacks.ts";
import type { Problem } from "./types.ts";

/**
 * A finding's signature (design note §2.7), what deduplication and the shrinker compare: the
 * check's class, its sentence with every number as `#`, and the stacks of the threads involved,
 * as function names, each once, sorted. The threads involved are those whose events touched the
 * objects the sentence names, among the last WINDOW groups of such events; each is taken with
 * the stack it was in when it last touched them (a check that runs between steps finds every
 * thread idle: the stack of the touch is the one that says where the harm was done). When the
 * sentence names nothing, or nothing touched what it names, the thread that committed the last
 * event before the check stands for it. A teardown problem (a leak) is about where the leaked
 * thing came from, not about who last let go of it: its threads are the objects' creators, with
 * their stacks at the creation.
 */

/** How many groups of events on the named objects the signature and the excerpt look back. */
export const WINDOW = 12;

/** Consecutive events of one thread on the named objects that differ only in the item (page, folio) they act on. */
export interface EventGroup {
  first: TrackedEvent;
  last: TrackedEvent;
  count: number;
  key: string;
}

/** One thread a problem involves, with its stack at its last event on the named objects. */
export interface InvolvedThread {
  thread: number;
  name: string;
  frames: string[];
  lastSeq: number;
}

/** Where a named object was created: by which thread, in which stack. */
export interface Creator extends InvolvedThread {
  object: string;
}

export interface Involvement {
  objects: ObjectRef[];
  /** The named objects' creations that were logged, in the order the sentence names them. */
  creators: Creator[];
  /** The last WINDOW groups of events on the objects, oldest first. */
  groups: EventGroup[];
  /** Newest toucher first. */
  threads: InvolvedThread[];
  /** True when no event touched a named object and the last event's thread stands in. */
  fallback: boolean;
}

/** Fields that name the item a repeated action is on: events differing only in these group. */
const ITEM_FIELDS = new Set(["folio", "vpn", "index", "version", "srcFolio", "srcIndex", "dstFolio", "dstIndex", "addr", "pfn", "pfns", "folios", "durationNs", "queuedNs", "atNs", "job"]);

function groupKey(e: TrackedEvent): string {
  const rest = Object.entries(e.ev).filter(([k]) => !ITEM_FIELDS.has(k));
  return `${e.thread}|${JSON.stringify(rest)}`;
}

const isCall = (e: TrackedEvent): boolean => e.ev.kind.endsWith(".begin") || e.ev.kind.endsWith(".end");

/**
 * Groups events: one joins a group among the last three when every group from there on is its
 * thread's, none is a call's begin or end, and the key matches, so a loop alternating two or
 * three kinds (zdd.get, folio.set_zdd) folds into one line per kind.
 */
export function groupEvents(events: readonly TrackedEvent[]): EventGroup[] {
  const groups: EventGroup[] = [];
  for (const e of events) {
    const key = groupKey(e);
    let joined = false;
    for (let i = groups.length - 1; i >= Math.max(0, groups.length - 3) && !isCall(e); i--) {
      const g = groups[i]!;
      if (g.last.thread !== e.thread || isCall(g.last)) break;
      if (g.key === key) {
        g.last = e;
        g.count++;
        joined = true;
        break;
      }
    }
    if (!joined) groups.push({ first: e, last: e, count: 1, key });
  }
  return groups;
}

/** The folio that held a device pfn at the problem, so its events count too. */
function withPfnFolios(objects: ObjectRef[], events: readonly TrackedEvent[]): ObjectRef[] {
  const out = [...objects];
  for (const o of objects) {
    if (o.kind !== "pfn") continue;
    const alloc = events.findLast((e) => touches(e.ev, o) && e.ev.kind === "folio.alloc");
    if (alloc !== undefined && alloc.ev.kind === "folio.alloc") out.push({ kind: "folio", id: alloc.ev.folio });
  }
  return out;
}

/** An event on the objects: it names one, or it ends a call whose begin named one. */
function onAny(e: TrackedEvent, objects: readonly ObjectRef[]): boolean {
  return objects.some((o) => touches(e.ev, o) || (e.opened !== undefined && touches(e.opened, o)));
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Threads the sentence calls by their spawn name, in uid order. Checkers write a thread as
 * `name[step]` (HungFaultCheck's holders), `name:` (lost writes) or `name (ctx)`, so a name
 * counts only so placed: a thread called `a` is not in "a freed folio".
 */
function threadsNamedIn(message: string, tracker: StackTracker): number[] {
  const uids = tracker.namedThreads().sort((a, b) => a - b);
  return uids.filter((uid) => new RegExp(`(?<![\\w@/:.-])${escape(tracker.threadName(uid))}(?=\\[|:|,|\\)| \\(|$)`).test(message));
}

/** Which objects, events and threads `problem` is about, from the tracker's kept events up to problem.seq. */
export function involvement(problem: Problem, tracker: StackTracker, window = WINDOW): Involvement {
  const events = tracker.recent().filter((e) => e.seq <= problem.seq);
  const objects = namedObjects(problem.message);
  const lookFor = withPfnFolios(objects, events);
  const onObjects = lookFor.length === 0 ? [] : events.filter((e) => onAny(e, lookFor));
  const groups = groupEvents(onObjects).slice(-window);
  const threads: InvolvedThread[] = [];
  const add = (e: TrackedEvent) => {
    if (!threads.some((t) => t.thread === e.thread)) threads.push({ thread: e.thread, name: tracker.threadName(e.thread), frames: frameNames(e.frame), lastSeq: e.seq });
  };
  for (const g of [...groups].sort((a, b) => b.last.seq - a.last.seq)) add(g.last);
  // A thread the sentence names (a holder, a hung thread) counts with its last event, where it
  // stopped; not its last on the objects, which may have left the kept window.
  for (const uid of threadsNamedIn(problem.message, tracker)) {
    const e = events.findLast((x) => x.thread === uid) ?? tracker.lastEventOf(uid);
    if (e !== undefined && e.seq <= problem.seq) add(e);
  }
  const creators = creatorsOf(objects, tracker, problem.seq);
  if (problem.check === "teardown" && creators.length > 0) return { objects, creators, groups, threads: creators, fallback: false };
  // Set-up's own events (thread -1) explain nothing when a thread also touched the objects.
  const named = threads.length > 1 ? threads.filter((t) => t.thread !== -1) : threads;
  if (named.length > 0) return { objects, creators, groups, threads: named, fallback: false };
  const last = events.at(-1);
  const stand = last === undefined ? [] : [{ thread: last.thread, name: tracker.threadName(last.thread), frames: frameNames(last.frame), lastSeq: last.seq }];
  return { objects, creators, groups, threads: stand, fallback: true };
}

function creatorsOf(objects: readonly ObjectRef[], tracker: StackTracker, uptoSeq: number): Creator[] {
  const creators: Creator[] = [];
  for (const o of objects) {
    const key = objectKey(o);
    const e = key === null ? undefined : tracker.creation(key);
    if (e === undefined || e.seq > uptoSeq) continue;
    creators.push({ object: describeObject(o), thread: e.thread, name: tracker.threadName(e.thread), frames: frameNames(e.frame), lastSeq: e.seq });
  }
  return creators;
}

/** The checker's sentence with every number (decimal or hex) as `#`. */
export function normalizeMessage(message: string): string {
  return message.replace(/0x[0-9a-fA-F]+|\d+(?:\.\d+)?/g, "#").replace(/\s+/g, " ").trim();
}

/** A stack as the signature writes it: `[a > b]`, or `(name)` for a thread outside any frame. */
export function renderStack(t: Pick<InvolvedThread, "frames" | "name">): string {
  return t.frames.length === 0 ? `(${t.name.replace(/\d+/g, "#")})` : `[${t.frames.join(" > ")}]`;
}

/**
 * The part of a stack a signature keeps: the kernel functions (issue #18: "the invariant and the
 * kernel functions on the stacks involved"). The workload's own frames (`step:<op>`, `access`)
 * are dropped, and only the innermost SIGNATURE_FRAMES kept, so one bug reached from a populate,
 * a GPU read or a GPU atomic is one finding;
 * a thread in no kernel function keeps its step (`[step:pin]`: what it holds matters).
 */
export function kernelFrames(frames: readonly string[]): string[] {
  const kernel = frames.filter((f) => !f.startsWith("step:") && f !== "access");
  // A thread in no kernel function (one holding a pin or a get between steps) is its step.
  return kernel.length > 0 ? kernel.slice(-SIGNATURE_FRAMES) : frames.slice(0, 1);
}

/**
 * Innermost kernel frames a signature keeps: where the bug is, not how it was entered (a GPU
 * fault handler or a populate step reach migrate_to_devmem through the same populate_mm).
 */
export const SIGNATURE_FRAMES = 2;

/** The sentence as the signature keeps it: numbers as `#`, and without a progress report's trail of recent events (where a loop was cut varies). */
function signatureMessage(problem: Problem): string {
  const message = problem.check === "no-progress" ? problem.message.split("; the last events:")[0]! : problem.message;
  return normalizeMessage(message);
}

/** `check | sentence with # | [kernel stack] …` (`-`: no event yet): equal for two runs of one bug, whatever their seeds, addresses, ids and workload steps. */
export function problemSignature(problem: Problem, stacks: StackTracker): string {
  const rendered = [...new Set(involvement(problem, stacks).threads.map((t) => {
    const frames = kernelFrames(t.frames);
    return frames.length === 0 ? "(no kernel frame)" : `[${frames.join(" > ")}]`;
  }))].sort();
  return `${problem.check} | ${signatureMessage(problem)} | ${rendered.length === 0 ? "-" : rendered.join(" ")}`;
}
