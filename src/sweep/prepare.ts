import { dirname, relative, resolve } from "node:path";
import type { SinkName } from "../record/run-dir.ts";
import { WorkloadError } from "../workload/errors.ts";
import { loadWorkload } from "../workload/load.ts";
import { estimateRun, type RunEstimate } from "./estimate.ts";
import { canonicalJson, runInputs, workloadHashes } from "./inputs.ts";
import { settingsOf, type PlannedRun } from "./plan.ts";
import type { PreparedRun } from "./resume.ts";

export interface PreparedPlan {
  runs: (PreparedRun & { estimate: RunEstimate })[];
}

/**
 * Loads every (workload, parameters) of the plan once: bad input is found before anything is
 * written, naming the run and the key. From each loaded workload come its input hashes (every
 * repetition shares them; the seed is hashed per run) and its size estimate.
 */
export function prepareRuns(runs: readonly PlannedRun[], sweepFile: string, sinks: readonly SinkName[]): PreparedPlan {
  const loaded = new Map<string, { workloadHash: string; platformHash: string; platformName: string; estimate: RunEstimate }>();
  const sweepDir = dirname(resolve(sweepFile));
  const seen = new Map<string, number>();
  const out: PreparedPlan["runs"] = [];
  for (const run of runs) {
    const configKey = `${run.workload}\0${canonicalJson(run.params)}`;
    let config = loaded.get(configKey);
    if (config === undefined) {
      try {
        const workload = loadWorkload(run.workload, settingsOf(run.params));
        config = { ...workloadHashes(workload), platformName: workload.platform ?? "", estimate: estimateRun(workload, sinks) };
      } catch (error) {
        if (error instanceof WorkloadError) throw new WorkloadError(`${sweepFile}: run ${run.id} (${Object.entries(run.params).map(([k, v]) => `${k}=${String(v)}`).join(", ") || "no parameters"}):\n${error.message}`);
        throw error;
      }
      loaded.set(configKey, config);
    }
    // A run's identity: its workload as the sweep names it, its parameters and seed (and, should
    // the plan hold the same run twice, which occurrence it is).
    const identity = canonicalJson({ workload: relative(sweepDir, run.workload), params: run.params, seed: run.seed });
    const occurrence = seen.get(identity) ?? 0;
    seen.set(identity, occurrence + 1);
    out.push({
      run,
      inputs: { ...runInputs(config, run.params, run.seed, sinks), runKey: occurrence === 0 ? identity : `${identity}#${occurrence}` },
      platformName: config.platformName,
      estimate: config.estimate,
    });
  }
  return { runs: out };
}
