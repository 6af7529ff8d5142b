import { validateThreads } from "../workload/threads.ts";
import { validateWorkload } from "../workload/validate.ts";
import { WorkloadSchema } from "../workload/schema.ts";
import { simplifications } from "./shrink-edits.ts";
import { removeSteps, removeThreads } from "./shrink-refs.ts";
import type { WorkloadInput } from "./types.ts";

export { workloadSize } from "./shrink-refs.ts";

/**
 * The explore shrinker (design note §2.5): delta debugging over the workload as written (YAML
 * input), not over a generator's choices, so that it shrinks user-written files too. Rounds of
 * three passes until a round changes nothing or the budget is spent: remove threads (ddmin:
 * halves, then smaller chunks, down to single threads), remove steps the same way (over every
 * thread's steps as one list), then simplify (src/explore/shrink-edits.ts). A candidate is kept
 * only when `fails` says it still fails; the caller's predicate decides what "fails" means (the
 * same signature, for explore).
 *
 * Validity: candidates are checked here, with WorkloadSchema and the whole-file checks pagesim
 * applies when it loads a file (validateWorkload, validateThreads), so `fails` only ever sees a
 * workload `pagesim run` would accept. The exception is what needs the file's location: the
 * platform profile is not loaded, so problems under `platform` and `policy` (keys the shrinker
 * never edits) are the caller's. Invalid candidates are not runs and do not count.
 *
 * Deterministic: candidates are tried in a fixed order and each distinct candidate is run at
 * most once (a deterministic predicate is assumed), so the same input and predicate give the
 * same result, unless the time budget cut it short (`timedOut`). `fails` receives its own copy.
 * An exception from `fails` propagates: the harness turns run failures into problems itself.
 * The caller has seen `input` fail; it is not run again. An input that would not load throws a
 * RangeError (the CLI loads a user's file, with its own messages, before shrinking it).
 */

export interface ShrinkBudget {
  /** Calls of `fails` at most (default 500). */
  maxRuns?: number;
  /** Wall time in milliseconds at most (default 60 000), checked before each run. */
  maxMs?: number;
}

export interface ShrinkResult {
  /** The smallest failing workload found (the input itself when nothing smaller fails). */
  input: WorkloadInput;
  /** Calls of `fails`. */
  runs: number;
  /** Candidates kept (each smaller or simpler than the one before). */
  accepted: number;
  /** The budget (runs or time) ran out before a round changed nothing: the result may shrink further. */
  timedOut: boolean;
}

export const DEFAULT_SHRINK_BUDGET = { maxRuns: 500, maxMs: 60_000 } as const;

/** Object keys sorted, so that equal workloads give equal keys whatever order fields were set in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** Why pagesim would not load `w` ("key.path: message"), apart from platform and policy, which need the file's place. */
export function loadProblems(w: WorkloadInput): string[] {
  const parsed = WorkloadSchema.safeParse(w);
  if (!parsed.success) return parsed.error.issues.map((i) => `${i.path.join(".") || "(top level)"}: ${i.message}`);
  const problems = [...validateWorkload(parsed.data), ...validateThreads(parsed.data)];
  return problems.filter((p) => p.path[0] !== "platform" && p.path[0] !== "policy").map((p) => `${p.path.join(".")}: ${p.message}`);
}

class Shrinker {
  current: WorkloadInput;
  runs = 0;
  accepted = 0;
  stopped = false;
  private readonly tried = new Map<string, boolean>();
  private readonly startMs = performance.now();
  private readonly maxRuns: number;
  private readonly maxMs: number;

  constructor(input: WorkloadInput, private readonly fails: (candidate: WorkloadInput) => boolean, budget: ShrinkBudget) {
    const problems = loadProblems(input);
    // Every candidate of an unloadable input would be refused too: say so rather than return it unshrunk.
    if (problems.length > 0) throw new RangeError(`shrinkWorkload: the input is not a loadable workload (${problems[0]})`);
    this.current = structuredClone(input);
    this.maxRuns = budget.maxRuns ?? DEFAULT_SHRINK_BUDGET.maxRuns;
    this.maxMs = budget.maxMs ?? DEFAULT_SHRINK_BUDGET.maxMs;
    this.tried.set(canonical(this.current), true);
  }

  /** Whether `candidate` still fails; when it does, it becomes the current workload. */
  test(candidate: WorkloadInput): boolean {
    const key = canonical(candidate);
    let fails = this.tried.get(key);
    if (fails === undefined) {
      if (loadProblems(candidate).length > 0) fails = false;
      else {
        if (this.runs >= this.maxRuns || performance.now() - this.startMs >= this.maxMs) this.stopped = true;
        if (this.stopped) return false;
        this.runs++;
        fails = this.fails(structuredClone(candidate));
      }
      this.tried.set(key, fails);
    }
    if (fails && key !== canonical(this.current)) {
      this.current = candidate;
      this.accepted++;
    }
    return fails;
  }
}

/**
 * Delta debugging's reduction loop over `count` items: try removing each of n chunks of what is
 * left (n = 2 first); a removal that still fails is kept and n shrinks by one, otherwise n
 * doubles, until n reaches single items and none can go. `fails` is asked with every item
 * removed so far plus the chunk.
 */
function ddmin(count: number, fails: (removed: ReadonlySet<number>) => boolean, stopped: () => boolean): void {
  let remaining = Array.from({ length: count }, (_, i) => i);
  let removed = new Set<number>();
  let n = 2;
  while (remaining.length > 0 && !stopped()) {
    const size = Math.ceil(remaining.length / Math.min(n, remaining.length));
    let cut = false;
    for (let at = 0; at < remaining.length && !stopped(); at += size) {
      const chunk = remaining.slice(at, at + size);
      const trial = new Set([...removed, ...chunk]);
      if (fails(trial)) {
        removed = trial;
        remaining = remaining.filter((i) => !trial.has(i));
        n = Math.max(n - 1, 2);
        cut = true;
        break;
      }
    }
    if (cut) continue;
    if (size === 1) return;
    n = Math.min(n * 2, remaining.length);
  }
}

function threadsPass(s: Shrinker): void {
  const base = s.current;
  ddmin(base.threads.length, (removed) => s.test(removeThreads(base, (ti) => removed.has(ti))), () => s.stopped);
}

function stepsPass(s: Shrinker): void {
  const base = s.current;
  const offsets: number[] = [];
  let total = 0;
  for (const t of base.threads) {
    offsets.push(total);
    total += (t.steps ?? []).length;
  }
  ddmin(total, (removed) => s.test(removeSteps(base, (ti, si) => removed.has(offsets[ti]! + si))), () => s.stopped);
}

function simplifyPass(s: Shrinker): void {
  for (const edit of simplifications(s.current)) {
    for (let again = true; again && !s.stopped; ) {
      again = false;
      for (const candidate of edit.candidates(s.current)) {
        if (s.test(candidate)) {
          again = edit.repeat;
          break;
        }
      }
    }
  }
}

/** Shrinks a failing workload to a smaller one that `fails` still accepts (see the module comment). */
export function shrinkWorkload(input: WorkloadInput, fails: (candidate: WorkloadInput) => boolean, budget: ShrinkBudget = {}): ShrinkResult {
  const s = new Shrinker(input, fails, budget);
  for (let before = -1; before !== s.accepted && !s.stopped; ) {
    before = s.accepted;
    threadsPass(s);
    stepsPass(s);
    simplifyPass(s);
  }
  return { input: s.current, runs: s.runs, accepted: s.accepted, timedOut: s.stopped };
}
