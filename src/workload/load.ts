import { isMap, isScalar, isSeq, parse, type Document, type YAMLMap } from "yaml";
import type * as z from "zod";
import { WorkloadSchema, type Workload } from "./schema.ts";
import { WorkloadError } from "./errors.ts";
import { expandThreads, validateThreads } from "./threads.ts";
import { closest, keysAt } from "./json-schema.ts";
import { validateWorkload } from "./validate.ts";
import { loadPlatform, resolvePlatformPath } from "./platform-schema.ts";
import { documentValue, notAMapping, parseYamlFile, readTextFile, type YamlFile } from "./yaml-file.ts";

export { WorkloadError } from "./errors.ts";

/**
 * How an override is named in messages, keyed like the overrides: as the user wrote it ("--set
 * model.hz=333", "--platform nope"). Unlabelled overrides (a sweep's parameters) read "key=value".
 */
export type OverrideLabels = Record<string, string>;

/** Reads and validates a workload file (YAML). */
export function loadWorkload(path: string, overrides: Overrides = {}, labels: OverrideLabels = {}): Workload {
  return parseWorkload(readTextFile(path, "workload"), path, overrides, labels);
}

/** Key path ("model.hz", "threads.1.steps.0.timesliceMs") → value, applied over the file (--set, sweeps). */
export type Overrides = Record<string, unknown>;

/** Parses a --set value as YAML does a scalar: numbers, booleans and sizes stay what they say. */
export function parseOverrideValue(raw: string): unknown {
  return parse(raw) as unknown;
}

const label = (key: string, value: unknown, labels: OverrideLabels): string => labels[key] ?? `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`;

/**
 * "threads.gpu0.count" → ["threads", 2, "count"]: a number indexes a list, and a name picks the
 * list item (a thread) with that `name`, so overrides need not count positions. `who` names the
 * override in messages.
 */
function resolveKeyPath(doc: Document.Parsed, key: string, who: string): (string | number)[] {
  const segments = key.split(".");
  if (segments.some((k) => k === "")) throw new WorkloadError(`${who}: ${key} is not a key path (keys joined by dots, e.g. model.hz)`);
  const keyPath: (string | number)[] = [];
  for (const segment of segments) {
    const holder = doc.getIn(keyPath, true);
    if (keyPath.length > 0 && holder !== undefined && !isMap(holder) && !isSeq(holder)) {
      throw new WorkloadError(`${who}: ${keyPath.join(".")} is a single value in the workload, so it has no "${segment}"; expected a key path to a value`);
    }
    if (/^\d+$/.test(segment)) keyPath.push(Number(segment));
    else if (isSeq(holder)) {
      const names = holder.items.map((item) => (isMap(item) ? item.get("name") : undefined)).filter((n): n is string => typeof n === "string");
      const index = holder.items.findIndex((item) => isMap(item) && item.get("name") === segment);
      if (index < 0) {
        const hint = closest(segment, names);
        throw new WorkloadError(`${who}: ${keyPath.join(".")} has no item named "${segment}"${hint === undefined ? "" : ` (did you mean "${hint}"?)`}; the names are ${names.join(", ") || "(none)"}`);
      }
      keyPath.push(index);
    } else keyPath.push(segment);
  }
  return keyPath;
}

/** Refuses a file that is not a workload at all: empty, a list, or a sweep file. */
function checkIsWorkload(file: YamlFile, path: string): void {
  const why = notAMapping(file.doc);
  const expected = `expected keys ${Object.keys(WorkloadSchema.shape).join(", ")}`;
  if (why !== undefined) {
    const range = (file.doc.contents as { range?: [number, number, number] } | null)?.range;
    throw new WorkloadError(`${path}${why === "it is empty" || range === undefined ? "" : file.at(range[0])}: not a workload file (${why}): ${expected}`);
  }
  const top = file.doc.contents as YAMLMap;
  if (top.has("workloads") && !top.has("threads")) throw new WorkloadError(`${path}: a sweep file, not a workload (it has workloads: and no threads:); run it with pagesim sweep`);
}

/**
 * Where a problem at a key path is reported: `override` names the override that wrote that key
 * (or a parent of it), if one did; `line` is "file:line:col" of the deepest node that exists.
 */
interface Placer {
  override(keyPath: readonly PropertyKey[]): string | undefined;
  line(keyPath: readonly PropertyKey[]): string;
}

export function parseWorkload(text: string, path: string, overrides: Overrides = {}, labels: OverrideLabels = {}): Workload {
  const file = parseYamlFile(text, path);
  checkIsWorkload(file, path);
  const { doc } = file;
  const platformOverrides: Overrides = {};
  const platformLabels: OverrideLabels = {};
  const applied: { key: string; keyPath: (string | number)[]; who: string }[] = [];
  for (const [key, value] of Object.entries(overrides)) {
    if (key.startsWith("platform.")) {
      platformOverrides[key.slice("platform.".length)] = value;
      platformLabels[key.slice("platform.".length)] = label(key, value, labels);
      continue;
    }
    const keyPath = resolveKeyPath(doc, key, label(key, value, labels));
    doc.setIn(keyPath, value);
    applied.push({ key, keyPath, who: label(key, value, labels) });
  }
  const placer: Placer = {
    override: (keyPath) => applied.find((o) => o.keyPath.length <= keyPath.length && o.keyPath.every((k, i) => k === keyPath[i]))?.who,
    line: (keyPath) => {
      for (let n = keyPath.length; n >= 0; n--) {
        const node = doc.getIn(keyPath.slice(0, n) as (string | number)[], true) as { range?: [number, number, number] } | undefined;
        if (node?.range !== undefined) return `${path}${file.at(node.range[0])}`;
      }
      return path;
    },
  };
  const place = (keyPath: readonly PropertyKey[]): string => placer.override(keyPath) ?? placer.line(keyPath);
  const result = WorkloadSchema.safeParse(documentValue(doc));
  if (!result.success) throw new WorkloadError(result.error.issues.map((issue) => schemaProblem(issue, file, placer)).join("\n"));
  const workload: Workload = result.data;
  const firstPlatformLabel = Object.values(platformLabels)[0];
  if (workload.platform === undefined && firstPlatformLabel !== undefined) throw new WorkloadError(`${firstPlatformLabel}: the workload names no platform (set platform: in it, or --platform)`);
  const inFile = workload.platformOverrides ?? {};
  if (workload.platform === undefined && Object.keys(inFile).length > 0) throw new WorkloadError(`${place(["platformOverrides"])}: platformOverrides: the workload names no platform to change (set platform:)`);
  if (workload.platform !== undefined) {
    const who = "platform" in overrides ? label("platform", overrides.platform, labels) : `${path}: platform`;
    // The file's own changes first, the command line's (--set platform.KEY) over them.
    const fileLabels = Object.fromEntries(Object.keys(inFile).map((key) => [key, `${place(["platformOverrides", key])}: platformOverrides.${key}`]));
    workload.platformProfile = loadPlatform(resolvePlatformPath(workload.platform, path, who), { ...inFile, ...platformOverrides }, { ...fileLabels, ...platformLabels });
  }
  const problems = [...validateWorkload(workload), ...validateThreads(workload)];
  if (problems.length > 0) throw new WorkloadError(problems.map((pr) => `${place(pr.path)}: ${pr.path.join(".")}: ${pr.message}`).join("\n"));
  workload.threadGroups = expandThreads(workload);
  workload.overrideKeys = Object.fromEntries(Object.keys(overrides).map((key) => [key, applied.find((o) => o.key === key)?.keyPath.join(".") ?? key]));
  return workload;
}

/** One schema issue as "place: key.path: what was expected". */
function schemaProblem(issue: z.core.$ZodIssue, file: YamlFile, placer: Placer): string {
  const where = issue.path.join(".") || "(top level)";
  if (issue.code !== "unrecognized_keys") return `${placer.override(issue.path) ?? placer.line(issue.path)}: ${where}: ${issue.message}`;
  const known = keysAt(issue.path);
  const hints = issue.keys.map((k) => closest(k, known)).filter((k): k is string => k !== undefined);
  const message = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}${hints.length > 0 ? ` (did you mean ${hints.map((h) => `"${h}"`).join(", ")}?)` : ""}; expected one of ${known.join(", ")}`;
  // Point at the unknown key itself (or the --set that added it), not at the object holding it.
  const byOverride = placer.override([...issue.path, issue.keys[0]!]);
  if (byOverride !== undefined) return `${byOverride}: ${where}: ${message}`;
  const holder = issue.path.length === 0 ? file.doc.contents : file.doc.getIn(issue.path as (string | number)[], true);
  const pair = isMap(holder) ? holder.items.find((it) => isScalar(it.key) && it.key.value === issue.keys[0]) : undefined;
  const range = pair !== undefined && isScalar(pair.key) ? pair.key.range : undefined;
  return `${range == null ? placer.line(issue.path) : `${file.path}${file.at(range[0])}`}: ${where}: ${message}`;
}
