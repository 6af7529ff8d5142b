import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Workload } from "../workload/schema.ts";

/**
 * What a run of a sweep is computed from, as content hashes, so that `--resume` keeps a run only
 * when none of it changed: the resolved workload (the file with the run's parameters applied,
 * patterns expanded), the platform profile it resolved to (its contents, whether named or a path),
 * the parameters, the seed, the sinks, and the model: the simulator's own code.
 */
export interface RunInputs {
  /** sha256 of everything below together: equal hashes, equal runs. */
  inputsHash: string;
  /** The resolved workload, its platform profile left out. */
  workloadHash: string;
  /** The resolved platform profile ("" when the workload names none). */
  platformHash: string;
  modelHash: string;
}

/**
 * The module directories (and the files of src/sweep) that compute a run: what src/sweep/worker.ts
 * imports, directly or not (test/sweep-resume-inputs.test.ts checks the list against the imports).
 * analysis/, cli/ and the sweep's planning do not change what a run computes.
 */
export const MODEL_DIRS = ["engine", "kernel", "pagemap", "platform", "policies", "machine", "faults", "check", "workload", "record"] as const;
export const MODEL_SWEEP_FILES = ["worker"] as const;

let modelHashCache: string | undefined;

/**
 * sha256 over the model's source files, read relative to this module: the .ts sources under tsx,
 * the compiled .js under dist/ (so a dist build and the sources hash differently; either is
 * stable for the same code). Computed once per process.
 */
export function modelHash(): string {
  if (modelHashCache !== undefined) return modelHashCache;
  const self = import.meta.url;
  const ext = self.endsWith(".ts") ? ".ts" : ".js";
  const hash = createHash("sha256");
  const add = (url: URL, name: string): void => {
    hash.update(`${name}\0`);
    hash.update(readFileSync(url));
    hash.update("\0");
  };
  for (const dir of MODEL_DIRS) {
    const dirUrl = new URL(`../${dir}/`, self);
    const files = readdirSync(fileURLToPath(dirUrl))
      .filter((f) => f.endsWith(ext) && !f.endsWith(".d.ts"))
      .sort();
    for (const f of files) add(new URL(f, dirUrl), `${dir}/${f}`);
  }
  for (const f of MODEL_SWEEP_FILES) add(new URL(`./${f}${ext}`, self), `sweep/${f}${ext}`);
  return (modelHashCache = hash.digest("hex"));
}

/** JSON with object keys sorted, so equal values give equal text whatever the key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
  });
}

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/**
 * The hashes of one (workload, parameters) as loaded: what every repetition of it shares. The
 * description counts (run.json records it); comments do not reach the loaded workload.
 */
export function workloadHashes(workload: Workload): { workloadHash: string; platformHash: string } {
  const { platformProfile, ...rest } = workload;
  return { workloadHash: sha256(canonicalJson(rest)), platformHash: platformProfile === undefined ? "" : sha256(canonicalJson(platformProfile)) };
}

/** A run's inputs: its loaded workload's hashes, parameters, seed, sinks and the model. */
export function runInputs(loaded: { workloadHash: string; platformHash: string }, params: Record<string, unknown>, seed: number, sinks: readonly string[]): RunInputs {
  const model = modelHash();
  const inputsHash = sha256(canonicalJson({ workload: loaded.workloadHash, platform: loaded.platformHash, params, seed, sinks, model }));
  return { inputsHash, workloadHash: loaded.workloadHash, platformHash: loaded.platformHash, modelHash: model };
}
