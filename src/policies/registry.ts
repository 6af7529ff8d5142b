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

/** A workload's `policy:` section: the name and that policy's knobs. */
export interface PolicyChoice {
  name: string;
  knobs: Record<string, unknown>;
}

/**
 * Checks a policy choice's knobs against the policy's schema: the problems (key, message), or
 * none. Loading a workload reports them with their place in the file.
 */
export function checkPolicyKnobs(choice: PolicyChoice): { key: string; message: string }[] {
  const spec = registry.get(choice.name);
  if (spec === undefined) return [{ key: "name", message: `no policy named "${choice.name}"; the policies are ${policyNames().join(", ")}` }];
  const result = (spec.knobs as z.ZodObject).safeParse(choice.knobs);
  if (result.success) return [];
  return result.error.issues.map((issue: z.core.$ZodIssue) => ({
    key: issue.path.length > 0 ? issue.path.join(".") : "",
    message: issue.code === "unrecognized_keys" ? `unknown knob${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k: string) => `"${k}"`).join(", ")} for policy "${choice.name}"; its knobs are ${Object.keys(spec.knobs.shape).join(", ") || "(none)"}` : issue.message,
  }));
}

export function createPolicy(choice: PolicyChoice, ctx: PolicyContext): MigrationPolicy {
  const spec = registry.get(choice.name);
  if (spec === undefined) throw new Error(`no policy named "${choice.name}"`);
  return spec.create(spec.knobs.parse(choice.knobs), ctx);
}
