import type { ModelVariant } from "../pagemap/context.ts";
import type { RunHooks } from "../workload/run.ts";
import { CoverageFold } from "./coverage.ts";
import { explainProblem, type Explanation } from "./explain.ts";
import { generateWorkload, type Enabler } from "./generate.ts";
import { runSeedOf } from "./plan.ts";
import { exploreRun } from "./run-one.ts";
import { shrinkWorkload } from "./shrink.ts";
import { problemSignature } from "./signature.ts";
import { StackTracker } from "./stacks.ts";
import type { ModelEventListener } from "../kernel/event-log.ts";
import type { RunEvent } from "../machine/run-events.ts";
import type { LoggedEvent, Problem, WorkloadInput } from "./types.ts";

/**
 * One run of an exploration, and the shrinking of a failure: what a worker (or, with test hooks,
 * the driver itself) does. A run's failure is its first problem; its signature needs the stacks
 * at that point, so a failing run is run once more keeping its events (runs are deterministic).
 */

/** The model variant explored (docs/fidelity.md). */
export type Variant = ModelVariant;

export interface RunRequest {
  kind: "run";
  runIndex: number;
  seed: number;
  variant: Variant;
  weights: Partial<Record<Enabler, number>>;
}

export interface Failure {
  problem: Problem;
  signature: string;
}

export interface RunOutcome {
  kind: "run";
  runIndex: number;
  runSeed: number;
  labels: Record<string, number>;
  engineSteps: number;
  events: number;
  failure?: Failure & { input: WorkloadInput };
}

export interface ShrinkRequest {
  kind: "shrink";
  id: number;
  input: WorkloadInput;
  signature: string;
  budget: { maxRuns: number; maxMs: number };
}

export interface ShrinkOutcome {
  kind: "shrink";
  id: number;
  input: WorkloadInput;
  runs: number;
  accepted: number;
  timedOut: boolean;
  /** The shrunk workload's failure as replayed: its problem, paragraph and event excerpt. */
  problem: Problem;
  paragraph: string;
  excerpt: string[];
  /** The explanation as finding.md's section. */
  markdown: string;
}

/** Events kept for a finding's excerpt: the last ones before the problem (a livelock logs millions). */
const EXCERPT_EVENTS = 20_000;

/**
 * The input's first problem, with its signature and what explains it; undefined when it runs
 * clean. Two runs: the first finds the problem's seq (skipped when the caller has just run the
 * input and passes its first problem); the second stops its stack tracker and event ring just
 * after that seq (before any later event), so neither holds the whole log.
 */
export function diagnose(input: WorkloadInput, hooks: RunHooks = {}, known?: Problem): (Failure & Explanation) | undefined {
  const problem = known ?? exploreRun(input, { hooks }).problems[0];
  if (problem === undefined) return undefined;
  const tracker = new StackTracker();
  const names = new Map<number, string>();
  const ring: LoggedEvent[] = [];
  let at: (Failure & Explanation) | undefined;
  const snapshot = (): void => {
    const events = ring.length <= EXCERPT_EVENTS ? ring : ring.slice(-EXCERPT_EVENTS);
    at = { problem, signature: problemSignature(problem, tracker), ...explainProblem(problem, events, names) };
  };
  // Subscribed before the tracker: it sees the first event past the problem before the tracker does.
  const watch: ModelEventListener<RunEvent> = {
    onSpawn: (uid, name) => names.set(uid, name),
    onModelEvent: (seq, tNs, thread, ctx, ev) => {
      if (at !== undefined) return;
      if (seq > problem.seq) return snapshot();
      ring.push({ seq, tNs, thread, ctx, ev });
      if (ring.length >= 2 * EXCERPT_EVENTS) ring.splice(0, ring.length - EXCERPT_EVENTS);
    },
  };
  exploreRun(input, { hooks, listeners: [watch, tracker] });
  if (at === undefined) snapshot();
  return at;
}

/** Draws run `runIndex`'s workload, runs it with the checks and the coverage fold, and classifies it. */
export function exploreIndex(req: RunRequest, hooks: RunHooks = {}): RunOutcome {
  const runSeed = runSeedOf(req.seed, req.runIndex);
  const input = generateWorkload(runSeed, { variant: req.variant, weights: req.weights });
  const coverage = new CoverageFold();
  const run = exploreRun(input, { hooks, listeners: [coverage] });
  const outcome: RunOutcome = { kind: "run", runIndex: req.runIndex, runSeed, labels: coverage.labels, engineSteps: run.engineSteps, events: run.events };
  if (run.problems.length === 0) return outcome;
  const found = diagnose(input, hooks, run.problems[0]!)!;
  return { ...outcome, failure: { problem: found.problem, signature: found.signature, input } };
}

/** Shrinks a failing workload to a small one failing with the same signature, and explains it. */
export function shrinkFailure(req: ShrinkRequest, hooks: RunHooks = {}): ShrinkOutcome {
  const same = (candidate: WorkloadInput): boolean => diagnose(candidate, hooks)?.signature === req.signature;
  const shrunk = shrinkWorkload(req.input, same, req.budget);
  const final = diagnose(shrunk.input, hooks) ?? diagnose(req.input, hooks)!;
  return { kind: "shrink", id: req.id, input: shrunk.input, runs: shrunk.runs, accepted: shrunk.accepted, timedOut: shrunk.timedOut, problem: final.problem, paragraph: final.paragraph, excerpt: final.excerpt, markdown: final.markdown };
}
