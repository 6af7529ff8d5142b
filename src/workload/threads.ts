import { closest } from "./did-you-mean.ts";
import { expandPattern } from "./patterns.ts";
import type { Workload } from "./schema.ts";
import type { WorkloadProblem } from "./validate.ts";

type Thread = Workload["threads"][number];

/** How many steps a thread runs: its own, then its pattern's. */
const stepCount = (t: Thread): number => t.steps.length + (t.pattern?.count ?? 0);

/**
 * Checks the threads as a set, before replicas and patterns are expanded (so problems point at
 * the file's own threads): names are unique, every `wait` names a thread of the workload and a
 * step it has, interrupt threads do not wait, and the waits cannot deadlock.
 */
export function validateThreads(w: Workload): WorkloadProblem[] {
  const problems: WorkloadProblem[] = [];
  const byName = new Map<string, number>();
  w.threads.forEach((t, ti) => {
    if (t.name.includes("#")) problems.push({ path: ["threads", ti, "name"], message: `"${t.name}": "#" is reserved for replica names (NAME#0, NAME#1, …)` });
    const first = byName.get(t.name);
    if (first !== undefined) problems.push({ path: ["threads", ti, "name"], message: `"${t.name}" is already the name of threads.${first}` });
    else byName.set(t.name, ti);
  });
  const names = [...byName.keys()];
  w.threads.forEach((t, ti) => {
    t.steps.forEach((s, si) => {
      if (s.op !== "wait") return;
      const target = byName.get(s.thread);
      if (target === undefined) {
        const hint = closest(s.thread, names);
        problems.push({ path: ["threads", ti, "steps", si, "thread"], message: `no thread named "${s.thread}"${hint === undefined ? "" : ` (did you mean "${hint}"?)`}; the threads are ${names.join(", ")}` });
      } else if (s.step !== undefined && s.step >= stepCount(w.threads[target]!)) {
        problems.push({ path: ["threads", ti, "steps", si, "step"], message: `thread "${s.thread}" has ${stepCount(w.threads[target]!)} steps (0 to ${stepCount(w.threads[target]!) - 1}); there is no step ${s.step}` });
      }
      if (t.ctx === "irq") problems.push({ path: ["threads", ti, "steps", si], message: "an irq thread cannot sleep, so it cannot wait; wait from a process or gpu thread" });
    });
  });
  if (problems.length === 0) problems.push(...deadlocks(w, byName));
  return problems;
}

/**
 * Runs the threads' step order without time: a thread advances past a wait once the thread it
 * waits for has passed the step. Threads left unable to advance wait on each other for ever.
 */
function deadlocks(w: Workload, byName: Map<string, number>): WorkloadProblem[] {
  const done = w.threads.map(() => 0); // steps each thread has passed
  for (let progress = true; progress; ) {
    progress = false;
    w.threads.forEach((t, ti) => {
      while (done[ti]! < stepCount(t)) {
        const s = t.steps[done[ti]!];
        if (s?.op === "wait") {
          const target = byName.get(s.thread)!;
          const needed = s.step ?? stepCount(w.threads[target]!) - 1;
          if (done[target]! <= needed) break;
        }
        done[ti]!++;
        progress = true;
      }
    });
  }
  const problems: WorkloadProblem[] = [];
  w.threads.forEach((t, ti) => {
    const s = t.steps[done[ti]!];
    if (s?.op !== "wait") return;
    const what = s.step === undefined ? "to finish" : `to finish step ${s.step}`;
    problems.push({ path: ["threads", ti, "steps", done[ti]!], message: `waits for "${s.thread}" ${what}, which can never happen: the threads wait on each other (deadlock)` });
  });
  return problems;
}

/**
 * Expands each thread into its `count` replicas (NAME#i when more than one) and each pattern into
 * steps, drawn per replica so that copies touch their own pages. Returns the replica names of
 * every thread of the file.
 */
export function expandThreads(w: Workload): Record<string, string[]> {
  const groups: Record<string, string[]> = {};
  const threads: Thread[] = [];
  for (const t of w.threads) {
    const names = t.count === 1 ? [t.name] : Array.from({ length: t.count }, (_, i) => `${t.name}#${i}`);
    groups[t.name] = names;
    for (const name of names) {
      const steps = t.pattern === undefined ? [...t.steps] : [...t.steps, ...expandPattern(t.pattern, name, w.seed)];
      threads.push({ ...t, name, count: 1, steps });
    }
  }
  w.threads = threads;
  return groups;
}
