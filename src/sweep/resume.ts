import type { RunInputs } from "./inputs.ts";
import type { PlannedRun } from "./plan.ts";
import type { RecordedRun } from "./results.ts";

/** A planned run with what it is computed from: its identity in the plan and its input hashes. */
export interface PreparedRun {
  run: PlannedRun;
  inputs: RunInputs & { runKey: string };
  /** The platform profile the workload names, for the reason a run re-runs ("" for none). */
  platformName: string;
}

/** What --resume does with each run: keep it (maybe under a new id), run it, or remove it. */
export interface ResumeDecision {
  /** Planned runs whose recorded results stand, with the recorded run each comes from. */
  kept: { run: PlannedRun; from: RecordedRun }[];
  /** Planned runs to run: re-runs of changed or failed runs, and runs new to the plan. */
  toRun: PreparedRun[];
  /** Why runs re-run: a reason ("the model changed") → how many. */
  rerunReasons: Map<string, number>;
  rerun: number;
  fresh: number;
  /** Recorded runs the plan no longer has. */
  removed: RecordedRun[];
  /** Recorded runs whose rows go: removed ones, and the old rows of runs that re-run. */
  dropped: string[];
  /** Kept runs whose id changed (the grid grew or shrank before them). */
  moved: { from: string; to: PlannedRun }[];
}

/** Why a recorded run with the same identity as a planned one cannot be kept, or null if it can. */
function changed(p: PreparedRun, r: RecordedRun): string | null {
  if (r.inputsHash === null) return "recorded by an older pagesim, without input hashes";
  if (r.status !== "complete") return `it ${r.status === "failed" ? "failed" : "did not complete"} before`;
  if (r.inputsHash === p.inputs.inputsHash) return null;
  if (r.modelHash !== p.inputs.modelHash) return "the model changed";
  if (r.workloadHash !== p.inputs.workloadHash) return `workload ${p.run.workloadName} changed`;
  if (r.platformHash !== p.inputs.platformHash) return `platform profile ${p.platformName} changed`;
  return "the sweep's sinks changed";
}

/**
 * Matches the plan against the runs a results file holds. A run is identified by its key (its
 * workload as the sweep names it, its parameters and seed), not by its id: ids are positions in
 * the plan and shift when the grid changes, so a kept run may move to a new id. A run is kept
 * only when it completed and every input hash matches; results files without hashes match by id
 * and keep nothing.
 */
export function decideResume(plan: readonly PreparedRun[], recorded: readonly RecordedRun[]): ResumeDecision {
  const byKey = new Map<string, RecordedRun>();
  const byId = new Map<string, RecordedRun>();
  for (const r of recorded) {
    if (r.runKey !== null) byKey.set(r.runKey, r);
    else byId.set(r.runId, r);
  }
  const d: ResumeDecision = { kept: [], toRun: [], rerunReasons: new Map(), rerun: 0, fresh: 0, removed: [], dropped: [], moved: [] };
  const matched = new Set<RecordedRun>();
  for (const p of plan) {
    const r = byKey.get(p.inputs.runKey) ?? byId.get(p.run.id);
    if (r === undefined) {
      d.fresh++;
      d.toRun.push(p);
      continue;
    }
    matched.add(r);
    const why = changed(p, r);
    if (why === null) {
      d.kept.push({ run: p.run, from: r });
      if (r.runId !== p.run.id) d.moved.push({ from: r.runId, to: p.run });
      continue;
    }
    d.rerun++;
    d.rerunReasons.set(why, (d.rerunReasons.get(why) ?? 0) + 1);
    d.toRun.push(p);
    d.dropped.push(r.runId);
  }
  for (const r of recorded) {
    if (matched.has(r)) continue;
    d.removed.push(r);
    d.dropped.push(r.runId);
  }
  return d;
}

/** "3 re-run: workload workloads/x.yaml changed; 144 re-run: the model changed". */
export function formatReasons(reasons: ReadonlyMap<string, number>): string {
  return [...reasons].map(([why, n]) => `${n} re-run: ${why}`).join("; ");
}
