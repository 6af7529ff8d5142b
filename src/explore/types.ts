import type { z } from "zod";
import type { ExecContext } from "../engine/index.ts";
import type { RunEvent } from "../machine/run-events.ts";
import type { WorkloadSchema } from "../workload/schema.ts";

/**
 * The shapes `pagesim explore` (issue #18) passes between its parts: the generator, the per-run
 * harness, the signature and explanation, the shrinker and the driver. Design:
 * docs/design/explore.md.
 */

/** A workload as written in YAML (WorkloadSchema's input): what the generator draws, the shrinker edits and a finding stores. */
export type WorkloadInput = z.input<typeof WorkloadSchema>;

/** The class of check that found a problem; part of a finding's signature. */
export type ProblemCheck =
  | "invariant" // checkModelInvariants after a step
  | "platform-invariant" // checkPlatformInvariants after a step
  | "lost-write" // WriteVersionCheck: a read that missed the last write its process could see
  | "context" // Engine.contextViolations: sleeping in IRQ or atomic context
  | "kernel-bug" // a kernel.bug event: where the modelled kernel would oops
  | "illegal-transition" // the apply refused an event (double free, free with references)
  | "teardown" // memory balance after every process exited and the device unbound
  | "hung" // HungFaultCheck or a deadlock: a thread that nothing can release
  | "no-progress" // the watchdog: engine steps or simulated time past the limit
  | "signal"; // SIGBUS/OOM in a run with no fault injected

/** One problem a check found in one run. */
export interface Problem {
  check: ProblemCheck;
  /** The checker's sentence, as it printed it. */
  message: string;
  /** Sequence number of the last event committed when the check fired (-1 before any). */
  seq: number;
}

/** One committed event as explore keeps it (for the explanation and the stack rebuild). */
export interface LoggedEvent {
  seq: number;
  tNs: number;
  /** Thread uid, -1 for set-up. */
  thread: number;
  ctx: ExecContext;
  ev: RunEvent;
}

/** What one explored run returns. */
export interface ExploredRun {
  problems: Problem[];
  /** Engine steps and events the run took (for throughput). */
  engineSteps: number;
  events: number;
}
