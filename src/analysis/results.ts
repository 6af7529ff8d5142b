import { TIMESLICE_KEY } from "../platform/timeslice.ts";
import { isLabel, LABEL_PREFIX } from "../workload/labels.ts";
import type { Timeslice } from "./format.ts";
import { hasTable, type SqlSource } from "./sql-source.ts";

/** Bad input to the report: a missing results file or one that is not a sweep's (exit status 2). */
export class ResultsError extends Error {
  override name = "ResultsError";
}

/** One run of a sweep, tidy: its identity, the parameters the report groups by, and its figures. */
export interface RunRow {
  runId: string;
  runIndex: number;
  workload: string;
  seed: number;
  repetition: number;
  status: string;
  error: string | null;
  /** Param `policy.name` ("xe" when the sweep does not set it), with the knobs set for it (see policyLabel). */
  policy: string;
  /**
   * The run's timeslice as it recorded it (run param `timesliceMs`, src/workload/run-timeslice.ts):
   * ms, "unused", "mixed", or "unrecorded" in results of a pagesim that did not record it.
   */
  timeslice: Timeslice;
  /** The timeslice in ms when it is one value, else null. */
  timesliceMs: number | null;
  /** The key paths the run's timeslice came from (run param `timesliceFrom`): an axis, not another setting. */
  timesliceFrom: string[];
  /** Param `model.hz`, else null (the workload's own HZ). */
  hz: number | null;
  /** Every override the sweep set, as the sweep file gave it (number, text or boolean); recorded parameters apart. */
  params: Record<string, unknown>;
  /**
   * The sweep's labels on this run (params `label.<name>`, src/sweep/plan.ts), as [name, value]
   * sorted by name: `[["kernel", "seed-era"]]`. Shown in place of the settings they stand for.
   */
  labels: [string, string][];
  /** The settings the run's labels stand for (their zip group's other keys): named by the label instead. */
  labelled: string[];
  /** Every metric of the run (none for a failed run). */
  metrics: Record<string, number>;
}

/** One point of a run's time series (`series` table). */
export interface SeriesPoint {
  name: string;
  tMs: number;
  value: number;
}

const DEFAULT_POLICY = "xe";

/** Refuses a database that is not a sweep's results.sqlite, naming it. */
export function assertResults(src: SqlSource, label: string): void {
  if (!hasTable(src, "runs")) throw new ResultsError(`${label}: not a sweep results file (it has no runs table; pagesim sweep writes one)`);
}

/**
 * How run_params values read back. results.sqlite stores them typed (src/sweep/results.ts
 * paramValue): numbers as INTEGER or REAL, text as TEXT, booleans as the TEXT 'true' / 'false'.
 * Files of an older pagesim stored JSON text in a column declared TEXT ('"xe"', '100').
 */
function paramDecoder(src: SqlSource): (value: unknown) => unknown {
  const declared = src.all("PRAGMA table_info(run_params)").find((c) => c.name === "value")?.type;
  if (declared === "TEXT") {
    return (text) => {
      if (typeof text !== "string") return text;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
    };
  }
  return (value) => (value === "true" ? true : value === "false" ? false : typeof value === "bigint" ? Number(value) : value);
}

const numberOrNull = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** run_params rows a run records about itself (not a key path a sweep sets): src/workload/run-timeslice.ts. */
const TIMESLICE_FROM = "timesliceFrom";
const RECORDED_PARAMS: readonly string[] = [TIMESLICE_KEY, TIMESLICE_FROM];

/** The recorded timeslice: ms, "unused" or "mixed"; "unrecorded" when the row is missing or unreadable. */
function recordedTimeslice(value: unknown): Timeslice {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  return value === "unused" || value === "mixed" ? value : "unrecorded";
}

/** Which settings each label stands for, as the sweep recorded it (`sweep` key `labels`); {} when absent or unreadable. */
function labelCoverage(src: SqlSource): Record<string, string[]> {
  try {
    const parsed = JSON.parse(loadSweepMeta(src).labels ?? "{}") as unknown;
    if (typeof parsed !== "object" || parsed === null) return {};
    return Object.fromEntries(Object.entries(parsed).filter(([, v]) => Array.isArray(v)).map(([k, v]) => [k, (v as unknown[]).map(String)]));
  } catch {
    return {};
  }
}

/** Every run with its params and metrics, in run order. Works whether or not metrics exist. */
export function loadRuns(src: SqlSource): RunRow[] {
  const coverage = labelCoverage(src);
  const params = new Map<string, Record<string, unknown>>();
  const decode = paramDecoder(src);
  for (const row of src.all("SELECT run_id, name, value FROM run_params ORDER BY run_id, name")) {
    const id = String(row.run_id);
    params.set(id, { ...(params.get(id) ?? {}), [String(row.name)]: decode(row.value) });
  }
  const metrics = new Map<string, Record<string, number>>();
  for (const row of src.all("SELECT run_id, name, value FROM metrics ORDER BY run_id, name")) {
    const id = String(row.run_id);
    const value = numberOrNull(row.value);
    if (value !== null) metrics.set(id, { ...(metrics.get(id) ?? {}), [String(row.name)]: value });
  }
  return src.all("SELECT run_id, run_index, workload, repetition, seed, status, error FROM runs ORDER BY run_index, run_id").map((row) => {
    const id = String(row.run_id);
    const all = params.get(id) ?? {};
    const p = Object.fromEntries(Object.entries(all).filter(([k]) => !RECORDED_PARAMS.includes(k)));
    const policy = p["policy.name"];
    const timeslice = recordedTimeslice(all[TIMESLICE_KEY]);
    const from = all[TIMESLICE_FROM];
    const timesliceFrom = typeof from === "string" && from !== "" ? from.split(",") : [];
    return {
      runId: id,
      runIndex: Number(row.run_index),
      workload: String(row.workload),
      seed: Number(row.seed),
      repetition: Number(row.repetition),
      status: String(row.status),
      error: row.error === null || row.error === undefined ? null : String(row.error),
      policy: policyLabel(typeof policy === "string" ? policy : DEFAULT_POLICY, p, timesliceFrom),
      timeslice,
      timesliceMs: typeof timeslice === "number" ? timeslice : null,
      timesliceFrom,
      hz: numberOrNull(p["model.hz"]),
      params: p,
      labels: Object.keys(p).filter(isLabel).sort().map((k) => [k.slice(LABEL_PREFIX.length), String(p[k])] as [string, string]),
      labelled: [...new Set(Object.keys(p).flatMap((k) => (isLabel(k) ? (coverage[k] ?? []) : [])))].sort(),
      metrics: metrics.get(id) ?? {},
    };
  });
}

/**
 * A run's policy as the charts name it: the policy, plus the knobs the sweep set for that policy
 * (`policy.uvm.lapseUs` → "uvm lapseUs=5000"), so that variants of one policy are not averaged
 * together. Knobs of other policies do not apply to the run and are left out; the timeslice (the
 * keys it was recorded as coming from) is an axis of its own.
 */
function policyLabel(name: string, params: Record<string, unknown>, timesliceFrom: readonly string[]): string {
  const prefix = `policy.${name}.`;
  const knobs = Object.keys(params)
    .filter((k) => k.startsWith(prefix) && !timesliceFrom.includes(k))
    .sort()
    .map((k) => `${k.slice(prefix.length)}=${String(params[k])}`);
  return [name, ...knobs].join(" ");
}

/** The series names recorded for each run (empty when the results predate the series table). */
export function seriesNames(src: SqlSource): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!hasTable(src, "series")) return out;
  for (const row of src.all("SELECT DISTINCT run_id, name FROM series ORDER BY run_id, name")) {
    const id = String(row.run_id);
    out.set(id, [...(out.get(id) ?? []), String(row.name)]);
  }
  return out;
}

/** One run's time series, in time order; names filters them (all when omitted). */
export function loadSeries(src: SqlSource, runId: string, names?: readonly string[]): SeriesPoint[] {
  if (!hasTable(src, "series")) return [];
  const points = src
    .all("SELECT name, t_ms, value FROM series WHERE run_id = ? ORDER BY name, t_ms", runId)
    .map((row) => ({ name: String(row.name), tMs: Number(row.t_ms), value: Number(row.value) }))
    .filter((p) => Number.isFinite(p.tMs) && Number.isFinite(p.value));
  return names === undefined ? points : points.filter((p) => names.includes(p.name));
}

/** The sweep's own description (`sweep` table): its file, text, planned run count. */
export function loadSweepMeta(src: SqlSource): Record<string, string> {
  if (!hasTable(src, "sweep")) return {};
  return Object.fromEntries(src.all("SELECT key, value FROM sweep ORDER BY key").map((row) => [String(row.key), String(row.value ?? "")]));
}
