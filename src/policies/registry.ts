import type * as z from "zod";
import type { MigrationPolicy } from "../platform/policy.ts";
import { backoffPolicy } from "./backoff.ts";
import { nonePolicy } from "./none.ts";
import { notifierBlockPolicy } from "./notifier-block.ts";
import type { AnyPolicySpec, PolicyContext } from "./policy-spec.ts";
import { rateLimitPolicy } from "./rate-limit.ts";
import { twoFaultPolicy } from "./two-fault.ts";
import { uvmPolicy } from "./uvm.ts";
import { xePolicy } from "./xe.ts";

/** Every policy a workload may name (`policy: { name: … }`). A new policy: its file, and one line here. */
const POLICIES: AnyPolicySpec[] = [
  xePolicy,
  nonePolicy,
  notifierBlockPolicy,
  uvmPolicy,
  backoffPolicy,
  twoFaultPolicy,
  rateLimitPolicy,
];

const registry = new Map<string, AnyPolicySpec>(POLICIES.map((p) => [p.name, p]));

/** Adds a policy at run time (a test's toy policy, or a user's own without editing this file). */
export function registerPolicy(spec: AnyPolicySpec): void {
  if (registry.has(spec.name)) throw new Error(`a policy named "${spec.name}" is registered already`);
  registry.set(spec.name, spec);
}

export function policyNames(): string[] {
  return [...registry.keys()];
}

export function policySpec(name: string): AnyPolicySpec | undefined {
  return registry.get(name);
}

/** The policy a run uses: its name and its knobs. */
export interface PolicyChoice {
  name: string;
  knobs: Record<string, unknown>;
}

/**
 * A workload's `policy:` section: `name`, and a knob section per policy (`xe: { timesliceMs: 10 }`,
 * `uvm: { lapseUs: 5000 }`), of which the named policy's applies. Sections of other policies are
 * checked too, so that one sweep can vary the policy and each policy's own knobs.
 */
export type PolicySection = { name: string } & Record<string, unknown>;

export function policyChoice(section: PolicySection): PolicyChoice {
  const knobs = section[section.name];
  return { name: section.name, knobs: typeof knobs === "object" && knobs !== null ? (knobs as Record<string, unknown>) : {} };
}

/** Problems with a policy section, each with its key path under `policy` and a message; none if it is sound. */
export function checkPolicySection(section: PolicySection): { path: string[]; message: string }[] {
  const problems: { path: string[]; message: string }[] = [];
  if (!registry.has(section.name)) problems.push({ path: ["name"], message: `no policy named "${section.name}"; the policies are ${policyNames().join(", ")}` });
  for (const [key, knobs] of Object.entries(section)) {
    if (key === "name") continue;
    const spec = registry.get(key);
    if (spec === undefined) {
      problems.push({ path: [key], message: `"${key}" is not a policy; a policy's knobs go under its name (${policyNames().join(", ")})` });
      continue;
    }
    const result = (spec.knobs as z.ZodObject).safeParse(knobs ?? {});
    if (result.success) continue;
    for (const issue of result.error.issues as z.core.$ZodIssue[]) {
      const message = issue.code === "unrecognized_keys" ? `unknown knob${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k: string) => `"${k}"`).join(", ")} for policy "${key}"; its knobs are ${Object.keys(spec.knobs.shape).join(", ") || "(none)"}` : issue.message;
      problems.push({ path: [key, ...issue.path.map(String)], message });
    }
  }
  return problems;
}

export function createPolicy(choice: PolicyChoice, ctx: PolicyContext): MigrationPolicy {
  const spec = registry.get(choice.name);
  if (spec === undefined) throw new Error(`no policy named "${choice.name}"`);
  return spec.create(spec.knobs.parse(choice.knobs), ctx);
}
