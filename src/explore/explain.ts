import { describeObject } from "./objects.ts";
import { groupEvents, involvement, WINDOW, type EventGroup, type InvolvedThread } from "./signature.ts";
import { StackTracker } from "./stacks.ts";
import type { LoggedEvent, Problem, ProblemCheck } from "./types.ts";

/**
 * A finding's explanation (design note §2.6), generated from the log: which check fired and
 * its sentence, which threads the problem involves and their stacks, and the interleaving that
 * led there as a short excerpt of the last events on the objects the sentence names, one line
 * each: `seq @time thread kind field=value …` (a run of one thread's repeated action as one
 * line, `first–last` seq and `(×N)`). `markdown` is the same for finding.md.
 */
export interface Explanation {
  paragraph: string;
  excerpt: string[];
  markdown: string;
}

/** What each check is, in a sentence's subject. */
const CHECK_TEXT: Record<ProblemCheck, string> = {
  invariant: "The model invariants (checkModelInvariants, after a step)",
  "platform-invariant": "The platform invariants (checkPlatformInvariants, after a step)",
  "lost-write": "The data-integrity check (WriteVersionCheck: every read sees the last write its process could see)",
  context: "The execution-context check (no sleeping in IRQ or atomic context)",
  "kernel-bug": "A kernel.bug event (the modelled kernel would oops or corrupt memory here)",
  "illegal-transition": "The event apply (it refused an illegal transition)",
  teardown: "The memory-balance check after teardown (every process exited, the device unbound)",
  hung: "The liveness check (a thread nothing left can release)",
  "no-progress": "The progress watchdog",
  signal: "The signal check (SIGBUS or OOM with no fault injected)",
};

const FIELD_ORDER_SKIP = new Set(["kind"]);

/** `12.345µs`: simulated time, exact to the nanosecond. */
function micros(tNs: number): string {
  return `${(tNs / 1000).toFixed(3)}µs`;
}

function fieldText(v: unknown): string {
  if (Array.isArray(v)) return v.length <= 4 ? `[${v.join(",")}]` : `[${v[0]}…${v.at(-1)} (${v.length})]`;
  return typeof v === "number" && Number.isInteger(v) && v >= 0x10000 ? `0x${v.toString(16)}` : String(v);
}

/** One excerpt line: a field that changed along the group shows `first…last`. */
export function excerptLine(g: EventGroup, threadName: (uid: number) => string): string {
  const seq = g.count === 1 ? `${g.last.seq}` : `${g.first.seq}–${g.last.seq}`;
  const first = g.first.ev as unknown as Record<string, unknown>;
  const fields = Object.entries(g.last.ev)
    .filter(([k]) => !FIELD_ORDER_SKIP.has(k))
    .map(([k, v]) => {
      const a = fieldText(first[k]);
      const b = fieldText(v);
      return `${k}=${a === b ? b : `${a}…${b}`}`;
    });
  const count = g.count === 1 ? "" : ` (×${g.count})`;
  return [seq, `@${micros(g.last.tNs)}`, threadName(g.last.thread), g.last.ev.kind, ...fields].join(" ") + count;
}

function threadText(t: InvolvedThread, ctx: string, now: string[] | undefined, target: string | null): string {
  const where = t.frames.length === 0 ? "outside any step or function" : `in ${t.frames.join(" > ")}`;
  const at = now === undefined || now.join(">") === t.frames.join(">")
    ? ""
    : now.length === 0 ? ", and was between steps at the failure" : `, and was in ${now.join(" > ")} at the failure`;
  return `${t.name} (${ctx}) ${target === null ? "was" : `last touched ${target}`} ${where}${at}`;
}

function objectsText(involved: ReturnType<typeof involvement>): string {
  if (involved.objects.length === 0) return "It names no model object";
  return `It names ${involved.objects.map(describeObject).join(", ")}`;
}

/**
 * Explains `problem` from the events logged up to it. `threadNames`: uid → spawn name (the
 * onSpawn names); a thread not in it is `thread N`.
 */
export function explainProblem(problem: Problem, events: readonly LoggedEvent[], threadNames: ReadonlyMap<number, string>): Explanation {
  const tracker = StackTracker.fromEvents(events, threadNames, problem.seq, Infinity);
  const involved = involvement(problem, tracker);
  const ctxOf = new Map<number, string>();
  for (const e of events) if (e.seq <= problem.seq) ctxOf.set(e.thread, e.ctx);
  const now = tracker.stacksAt();
  const name = (uid: number) => tracker.threadName(uid);
  const last = events.findLast((e) => e.seq <= problem.seq);
  const when = last === undefined ? "before any event" : `at seq ${problem.seq} (${micros(last.tNs)})`;

  const target = involved.fallback || involved.groups.length === 0 ? null : involved.objects.length === 1 ? describeObject(involved.objects[0]!) : "them";
  const ctx = (uid: number) => ctxOf.get(uid) ?? "process";
  const threads = involved.threads.map((t) => threadText(t, ctx(t.thread), now.get(t.thread)?.frames, target));
  const created = involved.creators.slice(0, 3).map((c) => `${c.object} by ${c.name} (${ctx(c.thread)}) in ${c.frames.length === 0 ? "no step" : c.frames.join(" > ")} at seq ${c.lastSeq}`);
  const leak = problem.check === "teardown" && !involved.fallback && involved.creators.length > 0;
  const who = leak
    ? `What leaked came from where it was created: ${created.join("; ")}.`
    : involved.fallback
    ? threads.length === 0
      ? "No event was logged before it."
      : `No logged event touched ${involved.objects.length === 0 ? "a named object" : "them"}, so the thread that committed the last event stands for it: ${threads[0]}.`
    : `The thread${threads.length === 1 ? "" : "s"} involved: ${threads.join("; ")}.`;

  // The excerpt: the named objects' last events; with none, the last events of the threads involved.
  const ofThreads = involved.groups.length === 0;
  const groups = ofThreads ? threadGroups(tracker, involved.threads.map((t) => t.thread), problem.seq) : involved.groups;
  const excerpt = groups.map((g) => excerptLine(g, name));
  const whose = ofThreads ? (involved.threads.length === 1 ? "of that thread" : "of those threads") : `on ${target}`;
  const span = excerpt.length === 0 ? "" : ` The last ${excerpt.length === 1 ? "event" : `${excerpt.length} lines of events`} ${whose}, oldest first, show the interleaving that led there.`;
  const origin = leak || created.length === 0 ? "" : ` Created: ${created.join("; ")}.`;
  const paragraph = `${CHECK_TEXT[problem.check]} reported ${when}: “${problem.message}”. ${objectsText(involved)}. ${who}${origin}${span}`;
  const markdown = `### ${problem.check}: ${problem.message}\n\n${paragraph}\n` + (excerpt.length === 0 ? "" : `\n\`\`\`text\n${excerpt.join("\n")}\n\`\`\`\n`);
  return { paragraph, excerpt, markdown };
}

function threadGroups(tracker: StackTracker, threads: readonly number[], seq: number): EventGroup[] {
  if (threads.length === 0) return [];
  return groupEvents(tracker.recent().filter((e) => threads.includes(e.thread) && e.seq <= seq)).slice(-WINDOW);
}
