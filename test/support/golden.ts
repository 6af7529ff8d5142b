// Golden files (test/golden/): what every bundled workload ends with at its default seed. Shared
// by test/golden.test.ts, which compares, and scripts/golden.ts (`npm run golden`), which rewrites.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { stateDigest } from "../../src/check/digest.ts";
import { loadWorkload } from "../../src/workload/load.ts";
import { runWorkload } from "../../src/workload/run.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const WORKLOADS_DIR = `${ROOT}workloads`;
export const GOLDEN_DIR = `${ROOT}test/golden`;
/** What to run to rewrite the files, as the test's failure message says it. */
export const REWRITE_COMMAND = "npm run golden";

/** One workload's golden record: the final-state digest, the run's size and its sweep metrics. */
export interface GoldenRecord {
  workload: string;
  seed: number;
  digest: string;
  events: number;
  endNs: number;
  metrics: Record<string, number>;
}

/** One value that moved: its path in the record ("metrics.gpu_faults"), its old and new text. */
export interface GoldenChange {
  value: string;
  expected: string;
  found: string;
}

/** The bundled workloads' names (workloads/NAME.yaml), sorted. */
export function bundledWorkloads(): string[] {
  return readdirSync(WORKLOADS_DIR)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => f.slice(0, -".yaml".length))
    .sort();
}

/** The names that have a golden file (test/golden/NAME.json), sorted. */
export function goldenNames(): string[] {
  if (!existsSync(GOLDEN_DIR)) return [];
  return readdirSync(GOLDEN_DIR)
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -".json".length))
    .sort();
}

export const goldenPath = (name: string): string => `${GOLDEN_DIR}/${name}.json`;
/** How the file is named in messages: relative to the repository. */
export const goldenLabel = (name: string): string => `test/golden/${name}.json`;

/**
 * Runs workloads/NAME.yaml in-process at its own seed with no sink (the digest and metrics need
 * none) and reads what the sweep would store for it: the digest, events, end time and its metric table.
 */
export function goldenRecord(name: string): GoldenRecord {
  const workload = loadWorkload(`${WORKLOADS_DIR}/${name}.yaml`);
  const { report, world } = runWorkload(workload);
  return { workload: `workloads/${name}.yaml`, seed: report.seed, digest: stateDigest(world.p.state), events: report.events, endNs: report.endNs, metrics: report.metrics };
}

/**
 * A number as JSON writes it (the shortest text that reads back as the same double, so a change
 * in the last bit shows); the values JSON has no number for are written as strings.
 */
function numberValue(n: number): number | string {
  if (Object.is(n, -0)) return "-0";
  return Number.isFinite(n) ? n : String(n);
}

/** The file's text: fixed top-level order, metrics sorted by name, one value a line. */
export function formatGolden(r: GoldenRecord): string {
  const metrics: Record<string, number | string> = {};
  for (const key of Object.keys(r.metrics).sort()) metrics[key] = numberValue(r.metrics[key]!);
  const ordered = { workload: r.workload, seed: r.seed, digest: r.digest, events: numberValue(r.events), endNs: numberValue(r.endNs), metrics };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** Every value of a record, flattened to path → text ("metrics.gpu_faults" → "12"). */
function flatValues(r: GoldenRecord): Map<string, string> {
  const text = (v: unknown): string => (typeof v === "number" ? JSON.stringify(numberValue(v)) : JSON.stringify(v));
  const out = new Map<string, string>([
    ["workload", text(r.workload)],
    ["seed", text(r.seed)],
    ["digest", text(r.digest)],
    ["events", text(r.events)],
    ["endNs", text(r.endNs)],
  ]);
  for (const key of Object.keys(r.metrics).sort()) out.set(`metrics.${key}`, text(r.metrics[key]));
  return out;
}

/** Reads a golden file back into a record. */
export function readGolden(name: string): GoldenRecord {
  return parseGolden(readFileSync(goldenPath(name), "utf8"), goldenLabel(name));
}

/** A golden file's text as a record; its number-strings ("NaN", "-0") become numbers again. */
export function parseGolden(text: string, label: string): GoldenRecord {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${label} is not valid JSON (${(error as Error).message}); \`${REWRITE_COMMAND}\` rewrites it`);
  }
  const num = (v: unknown): number => (typeof v === "string" ? Number(v) : (v as number));
  const metrics: Record<string, number> = {};
  for (const [key, v] of Object.entries((raw.metrics ?? {}) as Record<string, unknown>)) metrics[key] = num(v);
  return { workload: raw.workload as string, seed: num(raw.seed), digest: raw.digest as string, events: num(raw.events), endNs: num(raw.endNs), metrics };
}

/** The values that differ, in the file's order; a value on one side only reads "(absent)" on the other. */
export function goldenChanges(expected: GoldenRecord, found: GoldenRecord): GoldenChange[] {
  const a = flatValues(expected);
  const b = flatValues(found);
  const changes: GoldenChange[] = [];
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const was = a.get(key) ?? "(absent)";
    const now = b.get(key) ?? "(absent)";
    if (was !== now) changes.push({ value: key, expected: was, found: now });
  }
  return changes;
}
