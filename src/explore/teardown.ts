import type { WorkloadInput } from "./types.ts";

/** Names of the threads withTeardown adds; a drawn workload's own threads should not start with it. */
export const TEARDOWN_PREFIX = "teardown.";

type Thread = WorkloadInput["threads"][number];
type Step = NonNullable<Thread["steps"]>[number];

/**
 * The workload with a full teardown appended, after which the run's report applies the memory
 * balance check (checkModelInvariants' `afterTeardown`, through WorkloadRun.tornDown):
 *  - one thread per process that may exist (process 0 and one per `fork` step of the file), on
 *    that process, which waits for every thread of the workload to finish and then exits it
 *    (`exit` of a process that already exited, or was never forked, is harmless);
 *  - then one thread that waits for those exits and unbinds the device;
 *  - no `until`: the run goes on until nothing is scheduled, so deferred work (the zdd release
 *    workqueue, an async BO put, a delayed IRQ free) has drained.
 * A fork in a thread with `count` replicas makes more processes than the file's fork steps;
 * those are not exited, tornDown stays false and the check does not apply.
 */
export function withTeardown(input: WorkloadInput): WorkloadInput {
  const { until: _until, ...rest } = input;
  const waitAll: Step[] = input.threads.map((t) => ({ op: "wait", thread: t.name }));
  const forks = input.threads.reduce((n, t) => n + (t.steps ?? []).filter((s) => s.op === "fork").length, 0);
  const exits: Thread[] = Array.from({ length: forks + 1 }, (_, process) => ({
    name: `${TEARDOWN_PREFIX}exit${process}`,
    process,
    steps: [...waitAll, { op: "exit" }],
  }));
  const unbind: Thread = { name: `${TEARDOWN_PREFIX}unbind`, steps: [...exits.map((t): Step => ({ op: "wait", thread: t.name })), { op: "unbind" }] };
  return { ...structuredClone(rest), threads: [...structuredClone(input.threads), ...exits, unbind] };
}
