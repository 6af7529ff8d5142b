import { dirname, relative, resolve } from "node:path";
import type { YAMLMap } from "yaml";
import * as z from "zod";
import { isLabel } from "../workload/labels.ts";
import { WorkloadError } from "../workload/errors.ts";
import { documentValue, notAMapping, parseYamlFile, readTextFile, type YamlFile } from "../workload/yaml-file.ts";

/** A parameter's values: a list, or a numeric range with a step (both ends included). */
const values = z.union([
  z.array(z.union([z.number(), z.string(), z.boolean()])).min(1),
  z.strictObject({ from: z.number(), to: z.number(), step: z.number().positive() }),
]);

/**
 * A sweep file (workloads/sweeps/*.yaml): workloads × the cartesian product of `parameters` ×
 * each row of every `zip` group (parameters that vary together) × repetitions, the parameter
 * study OMNeT++ made standard. Parameters are key paths into the workload, as `--set` takes them.
 */
export const SweepSchema = z.strictObject({
  description: z.string(),
  /** Workload files, relative to the sweep file. */
  workloads: z.array(z.string()).min(1),
  parameters: z.record(z.string(), values).default({}),
  zip: z.array(z.record(z.string(), z.array(z.union([z.number(), z.string(), z.boolean()])).min(1))).default([]),
  /**
   * The constraint: drop every configuration that matches all the keys of one entry (a value,
   * or a list of values), e.g. `- { model.hz: 100, platform.gpu.atomicTimesliceMs: [0, 1] }`.
   */
  exclude: z.array(z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.array(z.union([z.number(), z.string(), z.boolean()]))]))).default([]),
  repetitions: z.number().int().positive().default(1),
  /** Repetition r of every configuration runs with seed + r (common random numbers across configurations). */
  seed: z.number().int().nonnegative().default(1),
  /** What each run records in its own directory: its event log (Arrow, default), SQLite too, or none ([]: metrics only). */
  sinks: z.array(z.enum(["arrow", "sqlite"])).default(["arrow"]),
});
export type Sweep = z.infer<typeof SweepSchema>;

/** The parameters a run applies to its workload (as `--set` would): all but its labels. */
export function settingsOf(params: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).filter(([k]) => !isLabel(k)));
}

/**
 * Which settings each label stands for: a label in a zip group, that group's other parameters
 * (they vary with it row by row); a label among `parameters`, none. Stored in results.sqlite's
 * `sweep` table (key `labels`, JSON) for the report (src/analysis/results.ts).
 */
export function labelCoverage(sweep: Sweep): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const k of Object.keys(sweep.parameters)) if (isLabel(k)) out[k] = [];
  for (const group of sweep.zip) {
    const keys = Object.keys(group);
    for (const k of keys.filter(isLabel)) out[k] = keys.filter((o) => !isLabel(o)).sort();
  }
  return out;
}

/** One run of a sweep: which workload, which parameter values, which seed. */
export interface PlannedRun {
  /** r0000, r0001, … in plan order: stable, so resume and shards agree on names. */
  id: string;
  index: number;
  workload: string;
  /** The workload file's path as the sweep names it (for tables and reports). */
  workloadName: string;
  params: Record<string, unknown>;
  repetition: number;
  seed: number;
}

function expand(v: z.infer<typeof values>): unknown[] {
  if (Array.isArray(v)) return v;
  const out: number[] = [];
  for (let x = v.from; x <= v.to + 1e-9 * Math.abs(v.step); x += v.step) out.push(Number(x.toPrecision(12)));
  return out;
}

/** Every combination, in a fixed order: the first parameter varies slowest. */
function product(params: [string, unknown[]][]): Record<string, unknown>[] {
  let rows: Record<string, unknown>[] = [{}];
  for (const [key, vals] of params) rows = rows.flatMap((row) => vals.map((v) => ({ ...row, [key]: v })));
  return rows;
}

/** How many values a parameter takes, counted without listing them. */
function valueCount(v: z.infer<typeof values>): number {
  if (Array.isArray(v)) return v.length;
  return v.to < v.from ? 0 : Math.floor((v.to - v.from) / v.step + 1e-9) + 1;
}

/** The zip groups' row counts, refusing a group whose parameters have different numbers of values. */
function zipRows(sweep: Sweep, sweepFile: string): number[] {
  return sweep.zip.map((group, g) => {
    const lengths = new Set(Object.values(group).map((v) => v.length));
    if (lengths.size > 1) throw new WorkloadError(`${sweepFile}: zip.${g}: every parameter of a zip group needs the same number of values`);
    return [...lengths][0] ?? 1;
  });
}

/** A sweep's size, counted arithmetically (nothing is listed, so a 10^8-run grid costs nothing). */
export interface PlanSize {
  /** workloads × configurations × repetitions; an upper bound when `exclude` rules drop some. */
  runs: number;
  workloads: number;
  /** Configurations per workload before `exclude`: the product of every parameter's values and zip rows. */
  configurations: number;
  repetitions: number;
}

export function countPlan(sweep: Sweep, sweepFile: string): PlanSize {
  let configurations = 1;
  for (const v of Object.values(sweep.parameters)) configurations *= valueCount(v);
  for (const rows of zipRows(sweep, sweepFile)) configurations *= rows;
  return { runs: sweep.workloads.length * configurations * sweep.repetitions, workloads: sweep.workloads.length, configurations, repetitions: sweep.repetitions };
}

/** Expands a sweep into its runs, in a deterministic order. */
export function planSweep(sweep: Sweep, sweepFile: string): PlannedRun[] {
  let configs = product(Object.entries(sweep.parameters).map(([k, v]) => [k, expand(v)]));
  const rowCounts = zipRows(sweep, sweepFile);
  for (const [g, group] of sweep.zip.entries()) {
    const n = rowCounts[g]!;
    const rows = Array.from({ length: n }, (_, i) => Object.fromEntries(Object.entries(group).map(([k, v]) => [k, v[i]])));
    configs = configs.flatMap((c) => rows.map((r) => ({ ...c, ...r })));
  }
  const matches = (c: Record<string, unknown>, rule: Record<string, unknown>) =>
    Object.entries(rule).every(([k, v]) => (Array.isArray(v) ? v.includes(c[k] as never) : c[k] === v));
  for (const [i, rule] of sweep.exclude.entries()) {
    for (const k of Object.keys(rule)) {
      if (!(k in sweep.parameters) && !sweep.zip.some((g) => k in g)) throw new WorkloadError(`${sweepFile}: exclude.${i}.${k}: not a parameter of this sweep`);
    }
  }
  configs = configs.filter((c) => !sweep.exclude.some((rule) => matches(c, rule)));
  const runs: PlannedRun[] = [];
  for (const w of sweep.workloads) {
    const workload = resolve(dirname(sweepFile), w);
    for (const params of configs) {
      for (let r = 0; r < sweep.repetitions; r++) {
        const index = runs.length;
        runs.push({ id: `r${String(index).padStart(4, "0")}`, index, workload, workloadName: relative(".", workload), params, repetition: r, seed: sweep.seed + r });
      }
    }
  }
  return runs;
}

/** Refuses a file that is not a sweep at all: empty, a list, or a workload file. */
function checkIsSweep(file: YamlFile, path: string): void {
  const expected = `expected keys ${Object.keys(SweepSchema.shape).join(", ")}`;
  const why = notAMapping(file.doc);
  if (why !== undefined) {
    const range = (file.doc.contents as { range?: [number, number, number] } | null)?.range;
    throw new WorkloadError(`${path}${why === "it is empty" || range === undefined ? "" : file.at(range[0])}: not a sweep file (${why}): ${expected}`);
  }
  const top = file.doc.contents as YAMLMap;
  if (top.has("threads") && !top.has("workloads")) throw new WorkloadError(`${path}: a workload file, not a sweep file (it has threads: and no workloads:); run it with pagesim run, or give a sweep file: ${expected}`);
}

/** Reads and validates a sweep file, naming the file, line and key on any problem. */
export function loadSweep(path: string): Sweep {
  const file = parseYamlFile(readTextFile(path, "sweep file"), path);
  checkIsSweep(file, path);
  const result = SweepSchema.safeParse(documentValue(file.doc));
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const node = file.doc.getIn(issue.path as (string | number)[], true) as { range?: [number, number, number] } | undefined;
    throw new WorkloadError(`${path}${node?.range === undefined ? "" : file.at(node.range[0])}: ${issue.path.join(".") || "(top level)"}: ${issue.message}`);
  }
  return result.data;
}

/** The runs of shard k of n (1-based k): every n-th run, so shards are disjoint and cover the sweep. */
export function shardOf(runs: PlannedRun[], k: number, n: number): PlannedRun[] {
  return runs.filter((r) => r.index % n === k - 1);
}
