import type * as z from "zod";
import type { Engine } from "../engine/index.ts";
import type { MigrationPolicy } from "../platform/policy.ts";
import type { PlatformProfile } from "../platform/profile.ts";

export type { MigrationPolicy } from "../platform/policy.ts";

/** What a policy may use: the clock (and jiffies), random streams, and the machine's profile. */
export interface PolicyContext {
  engine: Engine;
  profile: PlatformProfile;
}

/**
 * One policy: its name, a one-line summary, its knobs as a zod object (validated when a workload
 * loads, so a typo is an error with its place in the file) and a factory. A new policy is one file
 * exporting a PolicySpec and one line in registry.ts.
 */
export interface PolicySpec<Knobs extends z.ZodObject = z.ZodObject> {
  name: string;
  summary: string;
  knobs: Knobs;
  /**
   * Knobs whose default is a platform profile setting (knob → its path under the profile, e.g.
   * `{ timesliceMs: "gpu.atomicTimesliceMs" }`). Only such policies read that setting, so reports
   * and the sweep table show a swept `platform.<path>` only for them (src/analysis/settings.ts).
   */
  profileDefaults?: Readonly<Record<string, string>>;
  /**
   * Policies that hold for the run's timeslice (src/platform/timeslice.ts): the one they use with
   * these knobs on this profile. The run records it (run parameter `timesliceMs`); a policy
   * without it holds by other means, and records none.
   */
  timesliceMs?(knobs: z.infer<Knobs>, profile: PlatformProfile): number;
  create(knobs: z.infer<Knobs>, ctx: PolicyContext): MigrationPolicy;
}

/** A policy of any knobs (the registry's element type). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPolicySpec = PolicySpec<any>;

/** Declares a policy, inferring its knobs' type from its schema. */
export function definePolicy<Knobs extends z.ZodObject>(spec: PolicySpec<Knobs>): PolicySpec<Knobs> {
  return spec;
}

/** Policies track history per 2 MiB block of an address space (a UVM VA block; Xe's largest chunk). */
export const BLOCK_BYTES = 2 * 1024 * 1024;

export function blockKey(mm: number, addr: number): number {
  return mm * 2 ** 32 + Math.floor(addr / BLOCK_BYTES);
}

/** A no-op for the observation hooks a policy does not need. */
export function ignore(): void {}

/**
 * The time a hold of `ms` stamped now ends, rounded to jiffies as Xe's timeslice is
 * (msecs_to_jiffies rounds up; the stamp counts from the current tick), in ns.
 */
export function holdEndNs(engine: Engine, ms: number): number {
  const j = engine.jiffies;
  return j.nsAtJiffies(j.getJiffies64() + j.msecsToJiffies(ms));
}
