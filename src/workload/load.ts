import { readFileSync } from "node:fs";
import { isMap, isScalar, isSeq, LineCounter, parse, parseDocument } from "yaml";
import { WorkloadSchema, type Workload } from "./schema.ts";
import { WorkloadError } from "./errors.ts";
import { expandThreads, validateThreads } from "./threads.ts";
import { closest, keysAt } from "./json-schema.ts";
import { validateWorkload } from "./validate.ts";
import { loadPlatform, resolvePlatformPath } from "./platform-schema.ts";

export { WorkloadError } from "./errors.ts";

/** Reads and validates a workload file (YAML). */
export function loadWorkload(path: string, overrides: Overrides = {}): Workload {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new WorkloadError(`${path}: cannot read: ${(error as Error).message}`);
  }
  return parseWorkload(text, path, overrides);
}

/** Key path ("model.hz", "threads.1.steps.0.timesliceMs") → value, applied over the file (--set, sweeps). */
export type Overrides = Record<string, unknown>;

/** Parses a --set value as YAML does a scalar: numbers, booleans and sizes stay what they say. */
export function parseOverrideValue(raw: string): unknown {
  return parse(raw) as unknown;
}

/**
 * "threads.gpu0.count" → ["threads", 2, "count"]: a number indexes a list, and a name picks the
 * list item (a thread) with that `name`, so overrides need not count positions.
 */
function resolveKeyPath(doc: ReturnType<typeof parseDocument>, key: string, path: string): (string | number)[] {
  const segments = key.split(".");
  if (segments.some((k) => k === "")) throw new WorkloadError(`${path}: --set ${key}: not a key path (keys joined by dots)`);
  const keyPath: (string | number)[] = [];
  for (const segment of segments) {
    const holder = doc.getIn(keyPath, true);
    if (/^\d+$/.test(segment)) keyPath.push(Number(segment));
    else if (isSeq(holder)) {
      const names = holder.items.map((item) => (isMap(item) ? item.get("name") : undefined)).filter((n): n is string => typeof n === "string");
      const index = holder.items.findIndex((item) => isMap(item) && item.get("name") === segment);
      if (index < 0) {
        const hint = closest(segment, names);
        throw new WorkloadError(`${path}: --set ${key}: ${keyPath.join(".")} has no item named "${segment}"${hint === undefined ? "" : ` (did you mean "${hint}"?)`}; the names are ${names.join(", ") || "(none)"}`);
      }
      keyPath.push(index);
    } else keyPath.push(segment);
  }
  return keyPath;
}

export function parseWorkload(text: string, path: string, overrides: Overrides = {}): Workload {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const { line, col } = lineCounter.linePos(e.pos[0]);
    throw new WorkloadError(`${path}:${line}:${col}: not valid YAML: ${e.message.split("\n")[0]}`);
  }
  const platformOverrides: Overrides = {};
  for (const [key, value] of Object.entries(overrides)) {
    if (key.startsWith("platform.")) {
      platformOverrides[key.slice("platform.".length)] = value;
      continue;
    }
    doc.setIn(resolveKeyPath(doc, key, path), value);
  }
  /** ":line:col" of the deepest node of `keyPath` that exists in the file, or "". */
  const locate = (keyPath: readonly PropertyKey[]): string => {
    for (let n = keyPath.length; n >= 0; n--) {
      const node = doc.getIn(keyPath.slice(0, n) as (string | number)[], true) as { range?: [number, number, number] } | undefined;
      if (node?.range !== undefined) {
        const { line, col } = lineCounter.linePos(node.range[0]);
        return `:${line}:${col}`;
      }
    }
    return "";
  };
  const result = WorkloadSchema.safeParse(doc.toJS());
  if (result.success) {
    const workload: Workload = result.data;
    if (workload.platform === undefined && Object.keys(platformOverrides).length > 0) throw new WorkloadError(`${path}: --set platform.…: the workload names no platform`);
    if (workload.platform !== undefined) workload.platformProfile = loadPlatform(resolvePlatformPath(workload.platform, path), platformOverrides);
    const problems = [...validateWorkload(workload), ...validateThreads(workload)];
    if (problems.length === 0) {
      workload.threadGroups = expandThreads(workload);
      return workload;
    }
    throw new WorkloadError(problems.map((pr) => `${path}${locate(pr.path)}: ${pr.path.join(".")}: ${pr.message}`).join("\n"));
  }
  const lines = result.error.issues.map((issue) => {
    const where = issue.path.join(".") || "(top level)";
    // Point at the deepest node of the path that exists in the document.
    let place = "";
    for (let n = issue.path.length; n >= 0; n--) {
      const node = doc.getIn(issue.path.slice(0, n) as (string | number)[], true) as { range?: [number, number, number] } | undefined;
      if (node?.range !== undefined) {
        const { line, col } = lineCounter.linePos(node.range[0]);
        place = `:${line}:${col}`;
        break;
      }
    }
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      // Point at the unknown key itself, not at the object holding it.
      const holder = issue.path.length === 0 ? doc.contents : doc.getIn(issue.path as (string | number)[], true);
      if (isMap(holder)) {
        const pair = holder.items.find((it) => isScalar(it.key) && it.key.value === issue.keys[0]);
        const range = pair !== undefined && isScalar(pair.key) ? pair.key.range : undefined;
        if (range != null) {
          const { line, col } = lineCounter.linePos(range[0]);
          place = `:${line}:${col}`;
        }
      }
      const known = keysAt(issue.path);
      const hints = issue.keys.map((k) => closest(k, known)).filter((k): k is string => k !== undefined);
      message = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}${hints.length > 0 ? ` (did you mean ${hints.map((h) => `"${h}"`).join(", ")}?)` : ""}; expected one of ${known.join(", ")}`;
    }
    return `${path}${place}: ${where}: ${message}`;
  });
  throw new WorkloadError(lines.join("\n"));
}
