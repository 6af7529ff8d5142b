import { TIMESLICE_KEY, type RunTimeslice } from "../platform/timeslice.ts";
import { policyChoice, policySpec } from "../policies/registry.ts";
import type { Workload } from "./schema.ts";

/** A place in a workload that asks for a timeslice: its key path, as --set and sweeps name it, and its value. */
export interface TimesliceSource {
  key: string;
  ms: number;
}

/** The run's timeslice as recorded (run.json `parameters`, results.sqlite `run_params`). */
export interface RunTimesliceParams {
  /** The one timeslice the run asks for, in ms; "unused" or "mixed" (src/platform/timeslice.ts). */
  timesliceMs: RunTimeslice;
  /** The key paths it comes from, comma-separated ("" when unused): a sweep's axis, not another setting. */
  timesliceFrom: string;
}

/**
 * Every place a loaded workload asks for a timeslice: the policy's, on a platform whose policy
 * holds for one (its `timesliceMs` knob, else the profile's atomic_svm_timeslice_ms), and each
 * populate step's own (a direct drm_pagemap_populate_mm call's argument). Steps are named by
 * their thread's place in the file, replicas once.
 */
export function timesliceSources(w: Workload): TimesliceSource[] {
  const sources: TimesliceSource[] = [];
  if (w.platformProfile !== undefined) {
    const choice = policyChoice(w.policy ?? { name: "xe" });
    const spec = policySpec(choice.name);
    if (spec?.timesliceMs !== undefined) {
      const knobs = spec.knobs.parse(choice.knobs) as Record<string, unknown>;
      const ms = spec.timesliceMs(knobs, w.platformProfile);
      const fromKnob = choice.knobs[TIMESLICE_KEY] !== undefined;
      sources.push({ key: fromKnob ? `policy.${choice.name}.${TIMESLICE_KEY}` : `platform.${spec.profileDefaults?.[TIMESLICE_KEY] ?? "gpu.atomicTimesliceMs"}`, ms });
    }
  }
  const fileIndex = new Map<string, number>();
  Object.values(w.threadGroups ?? {}).forEach((replicas, i) => replicas.forEach((name) => fileIndex.set(name, i)));
  const seen = new Set<string>();
  w.threads.forEach((t, i) => {
    t.steps.forEach((s, j) => {
      if (s.op !== "populate") return;
      const key = `threads.${fileIndex.get(t.name) ?? i}.steps.${j}.${TIMESLICE_KEY}`;
      if (!seen.has(key)) sources.push({ key, ms: s.timesliceMs });
      seen.add(key);
    });
  });
  return sources;
}

/**
 * The run's timeslice: the one value its sources agree on, "mixed" if they differ, "unused"
 * without any; with the keys it came from, spelled as the run's overrides spelled them (a sweep
 * naming a thread, threads.gpu0.…, gets that name back), so the report can tell its axis apart.
 */
export function runTimeslice(w: Workload): RunTimesliceParams {
  const sources = timesliceSources(w);
  const values = [...new Set(sources.map((s) => s.ms))];
  const timesliceMs: RunTimeslice = values.length === 0 ? "unused" : values.length === 1 ? values[0]! : "mixed";
  const spelled = new Map(Object.entries(w.overrideKeys ?? {}).map(([asGiven, byPosition]) => [byPosition, asGiven]));
  return { timesliceMs, timesliceFrom: sources.map((s) => spelled.get(s.key) ?? s.key).join(",") };
}
