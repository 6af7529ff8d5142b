import type { ExecContext } from "../engine/index.ts";
import type { ModelEventListener } from "../kernel/event-log.ts";
import type { RunEvent } from "../machine/run-events.ts";
import { EXIT_SEPARATOR, PAGEMAP_EXITS } from "../pagemap/exits.ts";
import { PAGEMAP_FUNCTIONS, type PagemapFunction } from "../pagemap/events.ts";

/**
 * Which exits of the drm_pagemap functions a run reached (design note §2.8): a fold over the log,
 * so the model keeps no counter of its own. Keys are "function:label" (src/pagemap/exits.ts).
 */
export type RunCoverage = Record<string, number>;

export function coverageKey(fn: string, label: string): string {
  return `${fn}:${label}`;
}

/** `<fn>.end` → fn, for the four logged functions. */
const END_KINDS: ReadonlyMap<string, PagemapFunction> = new Map(PAGEMAP_FUNCTIONS.map((fn) => [`${fn}.end`, fn]));

/** Returns logged by another event before `.begin` (migrate_to_ram's timeslice and policy): event kind → key. */
const EARLY_KINDS: ReadonlyMap<string, string> = new Map(
  PAGEMAP_FUNCTIONS.flatMap((fn) => PAGEMAP_EXITS[fn].flatMap((d) => (d.kind === "early" && d.event !== undefined ? [[d.event, coverageKey(fn, d.label)] as const] : []))),
);

/** Counts each exit a run's log shows; subscribe it to the log (it takes no engine events). */
export class CoverageFold implements ModelEventListener<RunEvent> {
  readonly labels: RunCoverage = {};

  onModelEvent(_seq: number, _tNs: number, _thread: number, _ctx: ExecContext, ev: RunEvent): void {
    this.add(ev);
  }

  add(ev: RunEvent): void {
    const fn = END_KINDS.get(ev.kind);
    if (fn !== undefined) {
      // evict_to_ram's exit is every attempt's label, then the outcome: each counts.
      for (const label of (ev as { exit: string }).exit.split(EXIT_SEPARATOR)) this.count(coverageKey(fn, label));
      return;
    }
    const early = EARLY_KINDS.get(ev.kind);
    if (early !== undefined) this.count(early);
  }

  private count(key: string): void {
    this.labels[key] = (this.labels[key] ?? 0) + 1;
  }
}

/** The coverage of a list of events (a log read back, or a test's hand-made one). */
export function coverageOf(events: Iterable<RunEvent>): RunCoverage {
  const fold = new CoverageFold();
  for (const ev of events) fold.add(ev);
  return fold.labels;
}

/** One label across an exploration: how many runs reached it, and the lowest such run index. */
export interface LabelTally {
  runs: number;
  firstRun: number;
}

/** The JSON form's rows, as coverage-report.ts writes them (what fromJson reads back). */
export interface CoverageJsonLabel {
  function: string;
  label: string;
  kind: string;
  runs: number;
  firstRun: number | null;
}

/**
 * An exploration's coverage: per "function:label", the runs that reached it and the first. Runs
 * may be added in any order (workers finish out of order); the first run is the lowest index.
 */
export class CoverageTable {
  private readonly tallies = new Map<string, LabelTally>();
  runs = 0;

  /** Adds one run's counts; returns the keys no earlier-added run had reached. */
  addRun(runIndex: number, labels: RunCoverage): string[] {
    this.runs++;
    const fresh: string[] = [];
    for (const [key, times] of Object.entries(labels)) {
      if (times <= 0) continue;
      if (this.reach(key, 1, runIndex)) fresh.push(key);
    }
    return fresh;
  }

  /** Joins another table (a shard's) into this one. */
  merge(other: CoverageTable): void {
    this.runs += other.runs;
    for (const [key, t] of other.tallies) this.reach(key, t.runs, t.firstRun);
  }

  tally(key: string): LabelTally | undefined {
    const t = this.tallies.get(key);
    return t === undefined ? undefined : { ...t };
  }

  /** Every key reached so far. */
  keys(): string[] {
    return [...this.tallies.keys()];
  }

  /** A table from coverage-report.ts's JSON form (a shard's coverage.json). */
  static fromJson(json: { runs: number; labels: readonly CoverageJsonLabel[] }): CoverageTable {
    const t = new CoverageTable();
    t.runs = json.runs;
    for (const l of json.labels) if (l.runs > 0 && l.firstRun !== null) t.reach(coverageKey(l.function, l.label), l.runs, l.firstRun);
    return t;
  }

  /** Records `runs` more runs reaching key, the first at `firstRun`; true when key is new. */
  private reach(key: string, runs: number, firstRun: number): boolean {
    const t = this.tallies.get(key);
    if (t === undefined) {
      this.tallies.set(key, { runs, firstRun });
      return true;
    }
    t.runs += runs;
    t.firstRun = Math.min(t.firstRun, firstRun);
    return false;
  }
}
