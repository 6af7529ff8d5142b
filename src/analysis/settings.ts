import { policyNames, policySpec } from "../policies/registry.ts";
import { paramText, type Timeslice } from "./format.ts";
import { isLabel } from "../workload/labels.ts";
import type { RunRow } from "./results.ts";

/**
 * Which of a run's swept settings apply to it. A sweep crosses every parameter with every other,
 * so an xe run carries `policy.uvm.lapseUs` and a `none` run carries the platform's atomic
 * timeslice, though neither reads it. The report and the sweep table show, and group by, only the
 * settings that apply (docs/policies.md): a policy's own knobs, the platform settings it reads,
 * and everything that is not a policy knob. Everything else a sweep varies stays apart.
 */

/**
 * A run's timeslice as the charts place it: the run's recorded one (ms, "unused" when nothing in
 * the run asks for one, "mixed" when its parts ask for different ones: src/platform/timeslice.ts),
 * or "unrecorded" in results of a pagesim that did not record it.
 */
export { timesliceText, type Timeslice } from "./format.ts";

const DEFAULT_POLICY = "xe";

/** The run's policy name (`policy.name`; xe when the sweep does not set it). */
export function policyNameOf(params: Readonly<Record<string, unknown>>): string {
  const name = params["policy.name"];
  return typeof name === "string" ? name : DEFAULT_POLICY;
}

/** The registered policies that read a profile setting (`gpu.atomicTimesliceMs`) as a knob's default. */
function readersOf(profilePath: string): { policy: string; knob: string }[] {
  return policyNames().flatMap((policy) =>
    Object.entries(policySpec(policy)?.profileDefaults ?? {})
      .filter(([, path]) => path === profilePath)
      .map(([knob]) => ({ policy, knob })),
  );
}

/**
 * Whether the swept setting `name` acts on the run: `policy.<p>.<knob>` only for policy p; a
 * `platform.<path>` that some policy reads as a knob's default only for those policies, and only
 * while the run does not set that knob itself. Unknown policies (not in this build's registry)
 * keep every setting: nothing is hidden on a guess.
 */
export function settingApplies(name: string, params: Readonly<Record<string, unknown>>): boolean {
  const policy = policyNameOf(params);
  const own = /^policy\.([^.]+)\.(.+)$/.exec(name);
  if (own !== null) return own[1] === policy || policySpec(own[1]!) === undefined;
  if (!name.startsWith("platform.") || policySpec(policy) === undefined) return true;
  const readers = readersOf(name.slice("platform.".length));
  if (readers.length === 0) return true;
  return readers.some((r) => r.policy === policy && params[`policy.${policy}.${r.knob}`] === undefined);
}

/**
 * The applicable settings that are not the policy (with its own knobs, part of its label), the
 * timeslice (the keys the run recorded it came from) or HZ, sorted by name: what else tells two
 * configurations of one workload apart.
 */
export function otherSettings(run: Pick<RunRow, "params" | "timesliceFrom" | "labelled">): [string, unknown][] {
  const params = run.params;
  const policy = policyNameOf(params);
  // A label (shown as itself) and the settings it stands for are named by the label.
  const axes = new Set(["policy.name", "model.hz", ...run.timesliceFrom, ...run.labelled]);
  return Object.keys(params)
    .filter((k) => !axes.has(k) && !isLabel(k) && !k.startsWith(`policy.${policy}.`) && settingApplies(k, params))
    .sort()
    .map((k) => [k, params[k]]);
}

/** A workload's file name: "workloads/atomic-ping-pong.yaml" → "atomic-ping-pong.yaml". */
export const shortWorkload = (path: string): string => path.split("/").pop() ?? path;

/**
 * What a chart keeps apart besides its own axes and colour: the workload and the other applicable
 * settings ("atomic-ping-pong.yaml" or "atomic-ping-pong.yaml · platform.gpu.accessNs=20").
 */
export function variantOf(run: Pick<RunRow, "workload" | "params" | "timesliceFrom" | "labels" | "labelled">): string {
  return [shortWorkload(run.workload), ...run.labels.map(([name, value]) => `${name}: ${value}`), ...otherSettings(run).map(([k, v]) => `${k}=${paramText(v)}`)].join(" · ");
}

/**
 * What each label value stands for, from the runs: "kernel: seed-era = model.thp=never,
 * model.variant=seed; current = …" (the report's header says it, so a label hides nothing).
 */
export function labelMeanings(runs: readonly Pick<RunRow, "params" | "labels" | "labelled">[]): string[] {
  const byName = new Map<string, Map<string, string>>();
  for (const run of runs) {
    for (const [name, value] of run.labels) {
      const values = byName.get(name) ?? new Map<string, string>();
      const covered = run.labelled.filter((k) => k in run.params).map((k) => `${k}=${paramText(run.params[k])}`);
      if (!values.has(value)) values.set(value, covered.join(", "));
      byName.set(name, values);
    }
  }
  return [...byName].map(([name, values]) => `${name}: ${[...values].map(([v, means]) => (means === "" ? v : `${v} = ${means}`)).join("; ")}`);
}

/** Timeslices in axis order: values ascending, then "mixed", "not recorded", "not used". */
export function compareTimeslices(a: Timeslice, b: Timeslice): number {
  const rank = (t: Timeslice) => (typeof t === "number" ? [0, t] : [{ mixed: 1, unrecorded: 2, unused: 3 }[t], 0]);
  const [ra, va] = rank(a);
  const [rb, vb] = rank(b);
  return ra! - rb! || va! - vb!;
}
