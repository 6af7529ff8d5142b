import * as z from "zod";
import { SUPPORTED_HZ } from "../engine/index.ts";
import { FAULT_POINTS } from "../faults/injector.ts";
import { Errno, errnoName, PAGE_SIZE } from "../kernel/constants.ts";
import { parseAddress, parseDurationNs, parseSizeBytes } from "./units.ts";
import type { PlatformProfile } from "../platform/profile.ts";
import { NO_TIMESLICE_MS, timesliceMsSchema } from "../platform/timeslice.ts";
import type { StepOp } from "../machine/run-events.ts";

const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ns = parseDurationNs(v);
  if (ns === null) {
    ctx.addIssue({ code: "custom", message: `expected a duration: integer nanoseconds or a number with ns, us, ms or s; got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return ns;
});
const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const bytes = parseSizeBytes(v);
  if (bytes === null || bytes % PAGE_SIZE !== 0 || bytes === 0) {
    ctx.addIssue({ code: "custom", message: `expected a nonzero multiple of 4 KiB: bytes or a number with KiB, MiB or GiB; got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return bytes;
});
const address = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const addr = parseAddress(v);
  if (addr === null) {
    ctx.addIssue({ code: "custom", message: `expected an address (a number or 0x… hex); got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return addr;
});

/**
 * What a step is expected to return, as the report prints it: "0", an errno ("-ENOENT", or the
 * number -2), a CPU access's signal ("SIGSEGV", "SIGBUS"), or "ok" for an access that succeeds
 * (whatever data version it sees). A step that returns anything else fails the run.
 */
const EXPECT_SIGNALS = ["SIGSEGV", "SIGBUS", "OOM"];
const expectation = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const text = typeof v === "number" ? errnoName(v) : v;
  const known = text === "0" || text === "ok" || EXPECT_SIGNALS.includes(text) || (text.startsWith("-E") && text.slice(1) in Errno);
  if (!known) {
    ctx.addIssue({ code: "custom", message: `expected a step's return value: 0, ok, ${EXPECT_SIGNALS.join(", ")} or an errno (${Object.keys(Errno).map((e) => `-${e}`).join(", ")}); got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return text;
}).describe("What the step must return: 0, ok (an access that succeeds), SIGSEGV, SIGBUS, OOM or an errno such as -ENOENT; a step outside every mapping needs one (an error)");

/** Whether a step's return value is the one it expects (`ok` is any successful access). */
export function returnMatches(ret: string, expected: string): boolean {
  return ret === expected || (expected === "ok" && ret.startsWith("ok v"));
}

/** An expectation of success: "0" or "ok". */
export const expectsSuccess = (expected: string): boolean => expected === "0" || expected === "ok";

/**
 * When a step starts: `at` an absolute time, or `after` a delay from the previous step's end; and
 * what it must return (`expect`), which also lets a step aim outside every mapping on purpose.
 */
const stepCommon = { at: duration.optional(), after: duration.optional(), expect: expectation.optional() };

const step = z.discriminatedUnion("op", [
  z.strictObject({ op: z.literal("read"), addr: address, pages: z.number().int().positive().default(1), ...stepCommon }),
  z.strictObject({ op: z.literal("write"), addr: address, pages: z.number().int().positive().default(1), ...stepCommon }),
  /** A CPU atomic read-modify-write: to the mm, a write access. */
  z.strictObject({ op: z.literal("atomic"), addr: address, pages: z.number().int().positive().default(1), ...stepCommon }),
  z.strictObject({ op: z.literal("populate"), start: address, end: address, timesliceMs: timesliceMsSchema.default(NO_TIMESLICE_MS), ...stepCommon }),
  z.strictObject({ op: z.literal("munmap"), addr: address, size, ...stepCommon }),
  z.strictObject({ op: z.literal("mmap"), addr: address, size, kind: z.enum(["anon-private", "anon-shared", "file"]).default("anon-private"), read: z.boolean().default(true), write: z.boolean().default(true), ...stepCommon }),
  z.strictObject({ op: z.literal("mprotect"), addr: address, size, read: z.boolean().default(true), write: z.boolean().default(true), ...stepCommon }),
  z.strictObject({ op: z.literal("mremap"), addr: address, size, newAddr: address, ...stepCommon }),
  /**
   * Evict one device-memory allocation to RAM: `devmem: ID` names it by id; `which: N` picks, when
   * the step runs, the N-th allocation still live (not detached, with a zdd), counted modulo how
   * many are live, so a step written before the allocations exist still evicts one.
   */
  z
    .strictObject({ op: z.literal("evict"), devmem: z.number().int().nonnegative().optional(), which: z.number().int().nonnegative().optional(), ...stepCommon })
    .refine((s) => (s.devmem === undefined) !== (s.which === undefined), { message: "evict names one allocation: devmem: ID (by id) or which: N (the N-th live one when the step runs), not both or neither" }),
  z.strictObject({ op: z.literal("pin"), addr: address, ...stepCommon }),
  z.strictObject({ op: z.literal("unpin"), addr: address, ...stepCommon }),
  z.strictObject({ op: z.literal("get"), addr: address, ...stepCommon }),
  z.strictObject({ op: z.literal("irq_put"), addr: address, ...stepCommon }),
  z.strictObject({ op: z.literal("unbind"), ...stepCommon }),
  z.strictObject({ op: z.literal("exit"), ...stepCommon }),
  z.strictObject({ op: z.literal("fork"), ...stepCommon }),
  z.strictObject({ op: z.literal("sleep"), duration, ...stepCommon }),
  /**
   * Wait until another thread has finished its step `step` (an index into its steps, pattern
   * steps counted after them), or all its steps when `step` is left out. A thread with `count`
   * replicas is waited for in every replica. The workload's own synchronisation (a fence the CPU
   * waits on, a phase boundary), not a kernel wait.
   */
  z.strictObject({ op: z.literal("wait"), thread: z.string().min(1), step: z.number().int().nonnegative().optional(), ...stepCommon }),
]);

/**
 * An access pattern, expanded into steps when the file loads (deterministically, from its seed):
 * `count` accesses of `pages` pages each inside [addr, addr+size), `every` apart, starting `at`.
 * sequential walks the region page by page (wrapping), strided by `stride`, random picks pages
 * uniformly, hotcold sends `hotProbability` of the accesses to the first `hotFraction` of it.
 */
const pattern = z.strictObject({
  kind: z.enum(["sequential", "strided", "random", "hotcold"]),
  access: z.enum(["read", "write", "atomic"]).default("read"),
  addr: address,
  size,
  count: z.number().int().positive(),
  pages: z.number().int().positive().default(1),
  stride: size.optional(),
  every: duration.default(0),
  at: duration.optional(),
  hotFraction: z.number().gt(0).max(1).default(0.1),
  hotProbability: z.number().min(0).max(1).default(0.9),
  seed: z.number().int().nonnegative().default(1),
});
export type AccessPattern = z.infer<typeof pattern>;

const jitterError = (issue: { input?: unknown }): string => `expected a fraction from 0 to 0.5 (how far each latency may move); got ${JSON.stringify(issue.input)}`;

const faultRule = z.strictObject({ probability: z.number().min(0).max(1).optional(), nth: z.array(z.number().int().positive()).optional() });

export const WorkloadSchema = z.strictObject({
  description: z.string(),
  seed: z.number().int().nonnegative().default(1),
  /**
   * The machine: a profile name from workloads/platforms/ (or a .yaml path relative to this
   * file). With one, GPU threads' read/write/atomic steps are GPU accesses through GPU SVM.
   * Without one, the model runs on a minimal flat-cost device (`device` below).
   */
  platform: z.string().optional(),
  /**
   * Changes to the named platform profile, by key path into it, as `--set platform.KEY=VALUE`
   * makes them (which win over these): e.g. `{ vram.release: sync }`. Lets a file carry a variant
   * of a bundled profile without a copy of it.
   */
  platformOverrides: z.record(z.string().min(1), z.unknown()).optional(),
  /**
   * GPU work holding device-page references that a completion interrupt drops later: with
   * `probability` per GPU access to a device page, dropped `delay` after it (platform runs).
   */
  irqFrees: z.strictObject({ probability: z.number().min(0).max(1), delay: duration }).optional(),
  /**
   * The migration policy (src/policies, docs/policies.md): its name, and knobs under each
   * policy's own name, e.g. `{ name: uvm, uvm: { lapseUs: 5000 } }`; default the kernel's own,
   * xe. Platform runs only.
   */
  policy: z.looseObject({ name: z.string().min(1).default("xe") }).optional(),
  model: z
    .strictObject({
      variant: z.enum(["seed", "newest"]).default("seed"),
      zddRelease: z.enum(["inline", "deferred"]).default("inline"),
      hz: z
        .union([z.literal(100), z.literal(250), z.literal(300), z.literal(1000)], { error: (issue) => `expected one of ${SUPPORTED_HZ.join(", ")} (the kernel's CONFIG_HZ choices); got ${JSON.stringify(issue.input)}` })
        .default(250),
      thp: z.enum(["always", "never"]).default("never"),
      /**
       * Device-private THP (newest only): drm_pagemap's migrate_vma calls add
       * MIGRATE_VMA_SELECT_COMPOUND, so a PMD-mapped THP or an empty aligned 2 MiB block
       * migrates as one order-9 device folio (docs/design/device-thp.md).
       */
      deviceThp: z.boolean().default(false),
    })
    .default({ variant: "seed", zddRelease: "inline", hz: 250, thp: "never", deviceThp: false }),
  device: z
    .strictObject({
      vramPages: z.number().int().positive().default(4096),
      release: z.enum(["sync", "async"]).default("async"),
      copyNsPerPage: z.number().int().nonnegative().default(500),
    })
    .default({ vramPages: 4096, release: "async", copyNsPerPage: 500 }),
  faults: z.partialRecord(z.enum(Object.keys(FAULT_POINTS) as [keyof typeof FAULT_POINTS, ...(keyof typeof FAULT_POINTS)[]]), faultRule).default({}),
  mappings: z
    .array(z.strictObject({ addr: address, size, kind: z.enum(["anon-private", "anon-shared", "file"]).default("anon-private"), read: z.boolean().default(true), write: z.boolean().default(true) }))
    .default([]),
  threads: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        ctx: z.enum(["process", "gpu", "irq", "workqueue"]).default("process"),
        /** Which process the thread belongs to: 0 is the first, n the n-th child forked. */
        process: z.number().int().nonnegative().default(0),
        /**
         * Run this many copies of the thread (named NAME#0, NAME#1, …): the same steps, and each
         * copy draws its own pattern pages. `--set threads.NAME.count=8` scales a workload.
         */
        count: z.number().int().positive().max(4096).default(1),
        steps: z.array(step).default([]),
        /** Accesses generated from a pattern, run after `steps`. */
        pattern: pattern.optional(),
      }).refine((t) => t.steps.length > 0 || t.pattern !== undefined, { message: "a thread needs steps or a pattern" }),
    )
    .min(1),
  /**
   * Schedule perturbation, drawn from the run's seed (`pagesim explore` sets it; a finding's file
   * keeps it so that `pagesim run` reproduces): `ties: shuffle` runs the threads due at the same
   * instant in a random order instead of the order they were scheduled; `jitter` J moves every
   * modelled latency by a factor in [1 − J, 1 + J]. Default fifo and 0: the unperturbed model.
   */
  schedule: z
    .strictObject(
      {
        ties: z.enum(["fifo", "shuffle"], { error: (issue) => `expected fifo or shuffle (how threads due at the same instant are ordered); got ${JSON.stringify(issue.input)}` }).default("fifo"),
        jitter: z.number({ error: jitterError }).min(0, { error: jitterError }).max(0.5, { error: jitterError }).default(0),
      },
      { error: (issue) => (issue.code === "invalid_type" ? `expected a map { ties: fifo or shuffle, jitter: 0 to 0.5 }; got ${JSON.stringify(issue.input)}` : undefined) },
    )
    .default({ ties: "fifo", jitter: 0 }),
  /** Stop the run at this simulated time (default: when every thread has finished). */
  until: duration.optional(),
});

/**
 * A workload as loaded: the schema's output with every thread's replicas and pattern steps
 * expanded, plus the platform profile it names, resolved. `threadGroups` maps each thread name of
 * the file to the names of its replicas (itself when `count` is 1). `overrideKeys` maps each
 * override as it was spelled ("threads.gpu0.steps.0.timesliceMs") to the key path it set, by
 * position ("threads.1.steps.0.timesliceMs"); platform.* overrides map to themselves.
 */
export type Workload = z.infer<typeof WorkloadSchema> & { platformProfile?: PlatformProfile; threadGroups?: Record<string, string[]>; overrideKeys?: Record<string, string> };
export type WorkloadStep = Workload["threads"][number]["steps"][number];

// The log records a step's op from machine's STEP_OPS: fails to compile when the two lists differ.
type SchemaOp = WorkloadStep["op"];
const opsMatchTheLog: [Exclude<SchemaOp, StepOp>, Exclude<StepOp, SchemaOp>] extends [never, never] ? true : false = true;
void opsMatchTheLog;
