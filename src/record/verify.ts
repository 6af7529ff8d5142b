import { existsSync } from "node:fs";
import { checkModelInvariants } from "../check/pagemap-invariants.ts";
import { checkPlatformInvariants } from "../check/platform-invariants.ts";
import { stateDigest, stateSummary } from "../check/digest.ts";
import { WriteVersionCheck } from "../check/write-versions.ts";
import { IllegalTransition } from "../kernel/apply.ts";
import { createModelState } from "../pagemap/state.ts";
import { withPlatformState } from "../platform/events.ts";
import { applyRunEvent } from "../machine/run-events.ts";
import { checkArrowFile, decodeEvent, readEventRows, type EventRow } from "./reader.ts";
import { RunDirError, runDirFiles, type RunManifest } from "./run-dir.ts";
import { readManifest } from "./run-files.ts";
import { dropIntermediateArrow, fillRunSqlite, sqlitePending } from "./sqlite-fill.ts";
import type { Divergence } from "./divergence.ts";
import { SqliteLogCheck } from "./verify-sqlite.ts";
import { isEngineKind, refcountAfter, RUN_EVENT_SPECS } from "./schema.ts";

export type { Divergence } from "./divergence.ts";

export interface VerifyResult {
  events: number;
  /** How many times the full invariant set was checked (whenever no workload step was in flight). */
  invariantChecks: number;
  digest: { recorded: string; replayed: string };
  /** events.sqlite, when the run directory has one: its rows compared with the log's; filled when verify had to fill it first. */
  sqlite: { rows: number; filled: boolean } | null;
  divergence: Divergence | null;
}

/**
 * `pagesim verify`: replays a run's log from an empty state with the same apply function the run
 * used, and stops at the first event where the log disagrees with itself or with the run: a row
 * whose checksum no longer matches its values, a sequence gap, time going backwards, a transition
 * the model refuses, a read that did not see the last write its process could see (or a write on
 * top of data the process never saw: src/check/write-versions.ts), a refcount other than the one
 * recorded, a broken invariant, or a final state whose digest differs from run.json's.
 */
export async function verifyRun(dir: string): Promise<VerifyResult> {
  const files = runDirFiles(dir);
  let manifest = readManifest(files.manifest);
  if (!existsSync(files.arrow)) throw new RunDirError(`${dir}: no events.arrow (the run recorded with --sink ${manifest.sinks.join(",") || "none"}); verify replays the Arrow log`);
  await checkArrowFile(files.arrow);
  // A run cut short during its SQLite fill (or stopped by its budget) is finished here first.
  const filled = sqlitePending(dir, manifest);
  if (filled) manifest = (await fillRunSqlite(dir, manifest, { keepArrow: true })).manifest;
  const opened = existsSync(files.sqlite) ? SqliteLogCheck.open(files.sqlite) : null;
  const sqlite = opened instanceof SqliteLogCheck ? opened : null;
  const replay = new Replay(manifest);
  let divergence: Divergence | null = opened !== null && !(opened instanceof SqliteLogCheck) ? opened : null;
  try {
    if (divergence === null) {
      for await (const row of readEventRows(files.arrow)) {
        divergence = replay.checkRow(row, () => sqlite?.compare(row) ?? null);
        if (divergence !== null) break;
      }
    }
    divergence ??= sqlite?.finish(replay.expectedSeq - 1) ?? null;
  } finally {
    sqlite?.close();
  }
  divergence ??= replay.finish();
  if (filled) dropIntermediateArrow(dir, manifest); // only now: the replay read it
  const sqliteResult = opened === null ? null : { rows: sqlite?.rows ?? 0, filled };
  return { events: replay.expectedSeq, invariantChecks: replay.invariantChecks, digest: { recorded: manifest.digest, replayed: stateDigest(replay.state) }, sqlite: sqliteResult, divergence };
}

/** The log replayed row by row from an empty state, with everything checked along the way. */
class Replay {
  readonly state = withPlatformState(createModelState());
  expectedSeq = 0;
  invariantChecks = 0;
  private lastNs = 0;
  private inFlight = 0;
  private readonly deferredRelease: boolean;
  private readonly writes = new WriteVersionCheck();

  constructor(private readonly manifest: RunManifest) {
    this.deferredRelease = manifest.workload.resolved.model.zddRelease === "deferred";
  }

  /** The row's own checks, then `other` (the SQLite copy's row), then the model's: the first that fails. */
  checkRow(row: EventRow, other: () => Divergence | null): Divergence | null {
    const at = { seq: row.seq, kind: row.kind };
    if (row.recordedCheck !== row.computedCheck) return { ...at, what: "the row's values do not match its checksum: the log was altered here", expected: hex(row.recordedCheck), found: hex(row.computedCheck) };
    if (row.seq !== this.expectedSeq) return { ...at, what: "events are missing or out of order", expected: `seq ${this.expectedSeq}`, found: `seq ${row.seq}` };
    if (row.tNs < this.lastNs) return { ...at, what: "simulated time went backwards", expected: `t_ns >= ${this.lastNs}`, found: `t_ns ${row.tNs}` };
    const elsewhere = other();
    if (elsewhere !== null) return elsewhere;
    this.expectedSeq++;
    this.lastNs = row.tNs;
    if (isEngineKind(row.kind)) return null;
    if (!Object.hasOwn(RUN_EVENT_SPECS, row.kind)) return { ...at, what: "unknown event kind" };
    const decoded = decodeEvent(row);
    if ("missing" in decoded) return { ...at, what: `the row lacks the field ${decoded.missing}` };
    // Before the apply: a read's version is checked against what its process could see first.
    const lost = this.writes.event(decoded.ev);
    if (lost !== null) return { ...at, what: `lost or leaked write: ${lost.what}`, expected: lost.expected, found: lost.found };
    try {
      applyRunEvent(this.state, decoded.ev);
    } catch (error) {
      if (!(error instanceof IllegalTransition)) throw error;
      return { ...at, what: `the model refuses this event: ${error.message}` };
    }
    const refcount = refcountAfter(this.state, decoded.ev);
    const recorded = row.values.refcount;
    if (refcount !== (recorded ?? null)) return { ...at, what: "refcount after the event differs from the one recorded", expected: String(recorded ?? "none"), found: String(refcount ?? "none") };
    if (row.kind === "step.begin") this.inFlight++;
    if (row.kind === "step.end" && --this.inFlight === 0) {
      this.invariantChecks++;
      const problems = this.invariants();
      if (problems.length > 0) return { ...at, what: `invariants broken after this step (${problems.length}): ${problems.slice(0, 3).join("; ")}` };
    }
    return null;
  }

  /** The model's invariants and the platform's (GPU bindings, VRAM, copy engine), on the replayed state. */
  private invariants(): string[] {
    return [...checkModelInvariants(this.state, { deferredRelease: this.deferredRelease }), ...checkPlatformInvariants(this.state)];
  }

  /** After the last row: the log's length, the invariants at the end, the final state's digest. */
  finish(): Divergence | null {
    const m = this.manifest;
    if (this.expectedSeq !== m.events) return { seq: -1, kind: "(log)", what: "the log's length differs from run.json", expected: `${m.events} events`, found: `${this.expectedSeq} events` };
    if (m.status === "complete") {
      this.invariantChecks++;
      const problems = this.invariants();
      if (problems.length > 0) return { seq: -1, kind: "(end)", what: `invariants broken at the end (${problems.length}): ${problems.slice(0, 3).join("; ")}` };
    }
    const replayed = stateDigest(this.state);
    if (replayed === m.digest) return null;
    const now = stateSummary(this.state);
    const differing = Object.keys(now).filter((k) => now[k] !== m.state[k]);
    return {
      seq: -1,
      kind: "(final state)",
      what: `the replayed final state differs from the run's${differing.length > 0 ? ` (${differing.map((k) => `${k}: ${m.state[k]} vs ${now[k]}`).join(", ")})` : ""}`,
      expected: m.digest,
      found: replayed,
    };
  }
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
