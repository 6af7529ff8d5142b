import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { documentValue, parseYamlFile, readTextFile } from "./yaml-file.ts";
import * as z from "zod";
import type { PlatformProfile } from "../platform/profile.ts";
import { pcieLinkBytesPerSec, type PcieLink } from "../platform/pcie.ts";
import { DEFAULT_ATOMIC_TIMESLICE_MS, timesliceMsSchema } from "../platform/timeslice.ts";
import { parseDurationNs, parseSizeBytes } from "./units.ts";
import { WorkloadError } from "./errors.ts";
import { closest } from "./did-you-mean.ts";

/** A time: nanoseconds (fractions allowed, for per-page costs) or a number with ns, us, ms or s. */
const ns = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === "number") return v;
  const m = /^([0-9.]+)\s*(ns|us|µs|ms|s)$/.exec(v.trim());
  const scale = m === null ? undefined : { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 }[m[2] as "ns"];
  const value = m === null ? NaN : Number(m[1]) * scale!;
  if (!Number.isFinite(value)) {
    const whole = parseDurationNs(v);
    if (whole !== null) return whole;
    ctx.addIssue({ code: "custom", message: `expected a time: nanoseconds or a number with ns, us, ms or s; got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return value;
});
const bytes = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  const b = parseSizeBytes(v);
  if (b === null || b <= 0) {
    ctx.addIssue({ code: "custom", message: `expected a size: bytes or a number with KiB, MiB or GiB; got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return b;
});
// The per-mapping parts may be left out: a profile written before them charged everything per page.
const dmaCosts = z.strictObject({ mapNs: ns.default(0), mapNsPerPage: ns, unmapNs: ns.default(0), unmapNsPerPage: ns });
const iovaCosts = z.strictObject({ allocNs: ns, linkNs: ns, syncNs: ns, unlinkNs: ns, unlinkNsPerLink: ns, freeNs: ns });

/** A number from a fixed set, refused with the set named. */
function oneOf(values: readonly number[], what: string) {
  return z.number({ error: `expected ${what}: one of ${values.join(", ")}` }).refine((v) => values.includes(v), { message: `expected ${what}: one of ${values.join(", ")}` });
}

/** Keys profiles used before get_pages was charged per entry and the bind per PTE (a 4 KiB page is one of each). */
const OLD_GPU_KEYS: Record<string, string> = { getPagesNsPerPage: "getPagesNsPerEntry", bindNsPerPage: "bindNsPerPte" };
/** Keys profiles used before migrate_vma's steps were charged per entry walked (a 4 KiB page is one entry). */
const OLD_CPU_KEYS: Record<string, string> = {
  migrateSetupNsPerPage: "migrateSetupNsPerEntry",
  migratePagesNsPerPage: "migratePagesNsPerEntry",
  migrateFinalizeNsPerPage: "migrateFinalizeNsPerEntry",
};

/** An old key is read as its new name, unless the new name is there too (then the old one is refused as unknown). */
function renameOldKeys(section: unknown, oldKeys: Record<string, string>): unknown {
  if (typeof section !== "object" || section === null || Array.isArray(section)) return section;
  const out: Record<string, unknown> = { ...(section as Record<string, unknown>) };
  for (const [old, now] of Object.entries(oldKeys)) {
    if (old in out && !(now in out)) {
      out[now] = out[old];
      delete out[old];
    }
  }
  return out;
}

/** The YAML shape of workloads/platforms/*.yaml; see src/platform/profile.ts for each field. */
export const PlatformSchema = z.strictObject({
  name: z.string(),
  description: z.string(),
  cpu: z.preprocess((cpu) => renameOldKeys(cpu, OLD_CPU_KEYS), z.strictObject({
    faultEntryNs: ns,
    pageZeroNs: ns,
    migrateSetupNsPerEntry: ns,
    migratePagesNsPerEntry: ns,
    migrateFinalizeNsPerEntry: ns,
    systemRamBytes: z.union([z.literal(0), bytes]).default(0),
  })),
  // The link API's costs may be left out of a profile that never runs in iova mode.
  dma: z
    .strictObject({ iommu: z.enum(["strict", "lazy", "off", "iova"]), costs: z.strictObject({ strict: dmaCosts, lazy: dmaCosts, off: dmaCosts, iova: iovaCosts.optional() }) })
    .superRefine((dma, ctx) => {
      if (dma.iommu === "iova" && dma.costs.iova === undefined) {
        ctx.addIssue({ code: "custom", path: ["costs", "iova"], message: "iommu: iova needs the link API's costs here (allocNs, linkNs, syncNs, unlinkNs, unlinkNsPerLink, freeNs)" });
      }
    }),
  // The link the copy's bandwidth follows from; a profile may give copy.bandwidthGBps instead (or as well: it overrides).
  pcie: z
    .strictObject({
      gen: oneOf([1, 2, 3, 4, 5], "a PCIe generation"),
      lanes: oneOf([1, 2, 4, 8, 16], "a link width in lanes"),
      maxPayloadBytes: oneOf([128, 256, 512, 1024, 2048, 4096], "a Max_Payload_Size in bytes"),
    })
    .optional(),
  // descriptorNs may be left out (0): a profile written before it charged bytes over bandwidth only.
  copy: z.strictObject({ channels: z.number().int().positive(), latencyNs: ns, descriptorNs: ns.default(0), bandwidthGBps: z.number().positive().optional(), maxJobBytes: bytes }),
  vram: z.strictObject({ sizeBytes: bytes, allocNs: ns, retrySleepNs: ns, retryTimeoutNs: ns, release: z.enum(["sync", "async"]) }),
  gpu: z.preprocess((gpu) => renameOldKeys(gpu, OLD_GPU_KEYS), z.strictObject({
    faultDeliveryNs: ns,
    faultReplayNs: ns,
    findRangeNs: ns,
    getPagesNsPerEntry: ns,
    bindNs: ns,
    bindNsPerPte: ns,
    invalidateNs: ns,
    accessNs: ns,
    faultWorkers: z.number().int().positive(),
    chunkSizes: z.array(bytes).min(1),
    checkPagesThresholdBytes: bytes,
    atomicTimesliceMs: timesliceMsSchema.default(DEFAULT_ATOMIC_TIMESLICE_MS),
    atomicMigrateTries: z.number().int().positive(),
    migrateNonAtomic: z.boolean(),
    minMigrateBytes: bytes,
  })),
}).superRefine((profile, ctx) => {
  if (profile.pcie === undefined && profile.copy.bandwidthGBps === undefined) {
    ctx.addIssue({ code: "custom", path: ["pcie"], message: "expected the GPU's PCIe link (pcie: { gen, lanes, maxPayloadBytes }) or copy.bandwidthGBps" });
  }
});

/** Where the bundled platforms are: workloads/platforms/ of the package (src/ or dist/src/ up). */
function bundledPlatformsDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, "workloads", "platforms");
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

/**
 * Finds a platform by name or path: a path ending in .yaml is taken relative to the workload
 * file; a name is looked for in the workload's own platforms/ folder, then in pagesim's.
 */
export function resolvePlatformPath(ref: string, workloadFile: string, who = `${workloadFile}: platform`): string {
  if (ref.endsWith(".yaml")) return resolve(dirname(workloadFile), ref);
  const local = join(dirname(workloadFile), "platforms", `${ref}.yaml`);
  if (existsSync(local)) return local;
  const bundled = bundledPlatformsDir();
  if (bundled !== undefined && existsSync(join(bundled, `${ref}.yaml`))) return join(bundled, `${ref}.yaml`);
  const known = [dirname(local), bundled].flatMap((dir) => (dir !== undefined && existsSync(dir) ? readdirSync(dir) : [])).filter((f) => f.endsWith(".yaml")).map((f) => f.slice(0, -".yaml".length));
  const names = [...new Set(known)].sort();
  const hint = closest(ref, names);
  throw new WorkloadError(`${who}: no profile named "${ref}"${hint === undefined ? "" : ` (did you mean "${hint}"?)`}; the profiles are ${names.join(", ") || "(none found)"}, or give a .yaml path`);
}

/**
 * Reads and validates a platform profile, naming the file, line and key on any problem; or the
 * override (by its label, keyed like `overrides`) when one wrote the key that is wrong.
 */
export function loadPlatform(path: string, overrides: Record<string, unknown> = {}, labels: Record<string, string> = {}): PlatformProfile {
  const { doc, at } = parseYamlFile(readTextFile(path, "platform profile"), path);
  // --set platform.gpu.atomicTimesliceMs=10 and sweep parameters reach into the profile.
  for (const [key, value] of Object.entries(overrides)) doc.setIn(key.split(".").map((k) => (/^\d+$/.test(k) ? Number(k) : k)), value);
  const result = PlatformSchema.safeParse(documentValue(doc));
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = issue.path.join(".");
    const written = (issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0]] : issue.path).join(".");
    const by = Object.keys(overrides).find((k) => written === k || written.startsWith(`${k}.`));
    if (by !== undefined) throw new WorkloadError(`${labels[by] ?? `platform.${by}=${JSON.stringify(overrides[by])}`}: platform.${key || "(top level)"}: ${issue.message}`);
    const node = doc.getIn(issue.path as (string | number)[], true) as { range?: [number, number, number] } | undefined;
    throw new WorkloadError(`${path}${node?.range === undefined ? "" : at(node.range[0])}: ${key || "(top level)"}: ${issue.message}`);
  }
  const { copy, pcie, ...rest } = result.data;
  // An explicit bandwidthGBps overrides the link's (sweeps and what-ifs); otherwise it follows from the link.
  const bandwidthBytesPerSec = copy.bandwidthGBps !== undefined ? copy.bandwidthGBps * 1e9 : pcieLinkBytesPerSec(pcie as PcieLink);
  return { ...rest, pcie: pcie as PcieLink | undefined, copy: { channels: copy.channels, latencyNs: copy.latencyNs, descriptorNs: copy.descriptorNs, maxJobBytes: copy.maxJobBytes, bandwidthBytesPerSec } };
}
