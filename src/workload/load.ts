import { readFileSync } from "node:fs";
import { isMap, isScalar, LineCounter, parse, parseDocument } from "yaml";
import { WorkloadSchema, type Workload } from "./schema.ts";
import { WorkloadError } from "./errors.ts";
import { expandPattern } from "./patterns.ts";
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
    const keyPath = key.split(".").map((k) => (/^\d+$/.test(k) ? Number(k) : k));
    if (keyPath.some((k) => k === "")) throw new WorkloadError(`${path}: --set ${key}: not a key path (keys joined by dots)`);
    doc.setIn(keyPath, value);
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
    for (const t of workload.threads) if (t.pattern !== undefined) t.steps.push(...expandPattern(t.pattern, t.name, workload.seed));
    if (workload.platform === undefined && Object.keys(platformOverrides).length > 0) throw new WorkloadError(`${path}: --set platform.…: the workload names no platform`);
    if (workload.platform !== undefined) workload.platformProfile = loadPlatform(resolvePlatformPath(workload.platform, path), platformOverrides);
    const problems = validateWorkload(workload);
    if (problems.length === 0) return workload;
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
