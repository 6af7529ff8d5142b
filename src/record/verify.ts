import { existsSync, readFileSync } from "node:fs";
import { checkModelInvariants } from "../check/pagemap-invariants.ts";
import { stateDigest, stateSummary } from "../check/digest.ts";
import { IllegalTransition } from "../kernel/apply.ts";
import { createModelState } from "../pagemap/state.ts";
import { withPlatformState } from "../platform/events.ts";
import { applyRunEvent, type RunEvent } from "../workload/events.ts";
import { readEventRows, type EventRow } from "./reader.ts";
import { RunDirError, runDirFiles, type RunManifest } from "./run-dir.ts";
import { isEngineKind, refcountAfter, RUN_EVENT_SPECS, type ColumnName } from "./schema.ts";

/** The first place where the log and the run disagree. */
export interface Divergence {
  /** The event's seq, or -1 when the disagreement is about the whole log (its length, the final state). */
  seq: number;
  kind: string;
  what: string;
  expected?: string;
  found?: string;
}

export interface VerifyResult {
  events: number;
  /** How many times the full invariant set was checked (whenever no workload step was in flight). */
  invariantChecks: number;
  digest: { recorded: string; replayed: string };
  divergence: Divergence | null;
}

/** Rebuilds a run event from its row; null when the row lacks a field its kind needs. */
function decodeEvent(row: EventRow): { ev: RunEvent } | { missing: string } {
  const spec = RUN_EVENT_SPECS[row.kind as RunEvent["kind"]];
  const ev: Record<string, unknown> = { kind: row.kind };
  for (const [field, column] of Object.entries(spec.fields as Record<string, ColumnName>)) {
    const value = row.values[column];
    if (value === undefined) return { missing: `${field} (column ${column})` };
    ev[field] = value;
  }
  return { ev: ev as RunEvent };
}

/**
 * `pagesim verify`: replays a run's log from an empty state with the same apply function the run
 * used, and stops at the first event where the log disagrees with itself or with the run: a row
 * whose checksum no longer matches its values, a sequence gap, time going backwards, a transition
 * the model refuses, a refcount other than the one recorded, a broken invariant, or a final state
 * whose digest differs from run.json's.
 */
export async function verifyRun(dir: string): Promise<VerifyResult> {
  const files = runDirFiles(dir);
  const manifest = JSON.parse(readFileSync(files.manifest, "utf8")) as RunManifest;
  if (!existsSync(files.arrow)) throw new RunDirError(`${dir}: no events.arrow (the run recorded with --sink ${manifest.sinks.join(",") || "none"}); verify replays the Arrow log`);
  const deferredRelease = manifest.workload.resolved.model.zddRelease === "deferred";
  const state = withPlatformState(createModelState());
  let expectedSeq = 0;
  let lastNs = 0;
  let inFlight = 0;
  let invariantChecks = 0;
  let divergence: Divergence | null = null;
  const diverge = (d: Divergence) => {
    divergence = d;
  };

  for await (const row of readEventRows(files.arrow)) {
    const at = { seq: row.seq, kind: row.kind };
    if (row.recordedCheck !== row.computedCheck) {
      diverge({ ...at, what: "the row's values do not match its checksum: the log was altered here", expected: hex(row.recordedCheck), found: hex(row.computedCheck) });
      break;
    }
    if (row.seq !== expectedSeq) {
      diverge({ ...at, what: "events are missing or out of order", expected: `seq ${expectedSeq}`, found: `seq ${row.seq}` });
      break;
    }
    if (row.tNs < lastNs) {
      diverge({ ...at, what: "simulated time went backwards", expected: `t_ns >= ${lastNs}`, found: `t_ns ${row.tNs}` });
      break;
    }
    expectedSeq++;
    lastNs = row.tNs;
    if (isEngineKind(row.kind)) continue;
    if (!Object.hasOwn(RUN_EVENT_SPECS, row.kind)) {
      diverge({ ...at, what: "unknown event kind" });
      break;
    }
    const decoded = decodeEvent(row);
    if ("missing" in decoded) {
      diverge({ ...at, what: `the row lacks the field ${decoded.missing}` });
      break;
    }
    try {
      applyRunEvent(state, decoded.ev);
    } catch (error) {
      if (!(error instanceof IllegalTransition)) throw error;
      diverge({ ...at, what: `the model refuses this event: ${error.message}` });
      break;
    }
    const refcount = refcountAfter(state, decoded.ev);
    const recorded = row.values.refcount;
    if (refcount !== (recorded ?? null)) {
      diverge({ ...at, what: "refcount after the event differs from the one recorded", expected: String(recorded ?? "none"), found: String(refcount ?? "none") });
      break;
    }
    if (row.kind === "step.begin") inFlight++;
    if (row.kind === "step.end") {
      inFlight--;
      if (inFlight === 0) {
        invariantChecks++;
        const problems = checkModelInvariants(state, { deferredRelease });
        if (problems.length > 0) {
          diverge({ ...at, what: `invariants broken after this step (${problems.length}): ${problems.slice(0, 3).join("; ")}` });
          break;
        }
      }
    }
  }

  const replayed = stateDigest(state);
  if (divergence === null && expectedSeq !== manifest.events) {
    diverge({ seq: -1, kind: "(log)", what: "the log's length differs from run.json", expected: `${manifest.events} events`, found: `${expectedSeq} events` });
  }
  if (divergence === null && manifest.status === "complete") {
    invariantChecks++;
    const problems = checkModelInvariants(state, { deferredRelease });
    if (problems.length > 0) diverge({ seq: -1, kind: "(end)", what: `invariants broken at the end (${problems.length}): ${problems.slice(0, 3).join("; ")}` });
  }
  if (divergence === null && replayed !== manifest.digest) {
    const now = stateSummary(state);
    const differing = Object.keys(now).filter((k) => now[k] !== manifest.state[k]);
    diverge({
      seq: -1,
      kind: "(final state)",
      what: `the replayed final state differs from the run's${differing.length > 0 ? ` (${differing.map((k) => `${k}: ${manifest.state[k]} vs ${now[k]}`).join(", ")})` : ""}`,
      expected: manifest.digest,
      found: replayed,
    });
  }
  return { events: expectedSeq, invariantChecks, digest: { recorded: manifest.digest, replayed }, divergence };
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
