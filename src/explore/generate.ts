import { RandomStreams, type RandomStream } from "../engine/random.ts";
import { FAULT_POINTS, type FaultPoint } from "../faults/injector.ts";
import type { WorkloadInput } from "./types.ts";

/**
 * The explorer's workload generator (issue #18, docs/design/explore.md §2.1, §2.3): the property
 * test's scenarios (test/model.property.test.ts) drawn as workload files, with swarm testing: per
 * run each feature (an op kind, a fault point, a model option) is on with probability ½, so runs
 * differ in what they leave out as much as in what they do. A pure function of the seed, the
 * variant and the weights.
 */

const PAGE_BYTES = 4096;
const MIB = 1 << 20;
/** Where the 4 MiB mapping lies: 2 MiB aligned, as THP and Xe ranges like (the property test's BASE). */
export const EXPLORE_BASE = 64 * MIB;
const RANGE_PAGES = 1024; // 4 MiB: two 2 MiB GPU chunks
const PMD_PAGES = 512;
/** The platform every drawn run uses: 16 MiB of VRAM, so eviction runs too. */
export const EXPLORE_PLATFORM = "xe-pcie4x8-iommu-vram16m";

/** The op kinds of the property test, plus a CPU atomic; their weights are the property's. */
const OP_WEIGHTS = { cpu: 6, cpuAtomic: 1, gpuAccess: 4, gpu: 3, fork: 2, munmap: 1, evict: 1, mprotect: 1, mremap: 1, pin: 1, irqput: 1 } as const;
type OpKind = keyof typeof OP_WEIGHTS;
const OP_KINDS = Object.keys(OP_WEIGHTS) as OpKind[];

/**
 * Every feature a run may switch off: op kinds (`op:…`), steps in a forked child (`child`), each
 * fault point (`fault:…`), and the model's options. The steering doubles the weight of those that
 * enable a label not yet reached.
 */
export const ENABLERS = [
  ...OP_KINDS.map((k) => `op:${k}` as const),
  "child",
  ...(Object.keys(FAULT_POINTS) as FaultPoint[]).map((p) => `fault:${p}` as const),
  "model.thp",
  "model.deviceThp",
  "model.zddRelease.deferred",
  "vram.release.sync",
  "irqFrees",
  "schedule.ties",
  "schedule.jitter",
] as const;
export type Enabler = (typeof ENABLERS)[number];

export interface GenerateOptions {
  variant: "seed" | "newest";
  /** Scales a feature's chance of being on (½ × weight, at most 1); absent is 1. */
  weights?: Partial<Record<Enabler, number>>;
}

type Thread = WorkloadInput["threads"][number];
type Step = NonNullable<Thread["steps"]>[number];

/** The workload of run `seed`: the same seed, variant and weights give the same object. */
export function generateWorkload(seed: number, opts: GenerateOptions): WorkloadInput {
  const r = new RandomStreams(seed).stream("explore:generate");
  const chance = (e: Enabler): number => Math.min(1, 0.5 * (opts.weights?.[e] ?? 1));
  const on = (e: Enabler): boolean => r.bernoulli(chance(e));
  if (OP_KINDS.every((k) => !(chance(`op:${k}`) > 0))) throw new RangeError("generateWorkload: every op kind has weight 0; a run needs at least one");
  let kinds: OpKind[] = [];
  while (kinds.length === 0) kinds = OP_KINDS.filter((k) => on(`op:${k}`)); // every op kind off: redraw
  const child = on("child");
  const faults: Record<string, { probability?: number; nth?: number[] }> = {};
  for (const point of Object.keys(FAULT_POINTS) as FaultPoint[]) if (on(`fault:${point}`)) faults[point] = faultRule(r);
  const thp = on("model.thp");
  const deviceThp = on("model.deviceThp") && opts.variant === "newest";
  const deferred = on("model.zddRelease.deferred");
  const syncRelease = on("vram.release.sync");
  const irqFrees = on("irqFrees") ? { probability: [0.1, 0.5, 1][r.int(0, 2)]!, delay: r.int(0, 20_000) } : undefined;
  // Schedule perturbation (docs/design/explore.md §2.2): same-instant ties shuffled, every modelled latency jittered.
  const ties = on("schedule.ties") ? "shuffle" : "fifo";
  const jitter = on("schedule.jitter") ? [0.05, 0.1, 0.2][r.int(0, 2)]! : 0;

  const ops = Array.from({ length: r.int(1, 12) }, () => pick(r, kinds));
  const firstFork = firstForkThread(ops, r);
  const threads = ops.map((kind, i) => opThread(r, kind, i, child && firstFork.name !== null, firstFork));
  return {
    description: `pagesim explore: run ${seed} (${opts.variant}), drawn by src/explore/generate.ts`,
    seed,
    platform: EXPLORE_PLATFORM,
    // The Xe device reads its release mode from the profile (XeDevice.release), so the draw goes there.
    ...(syncRelease ? { platformOverrides: { "vram.release": "sync" } } : {}),
    ...(irqFrees === undefined ? {} : { irqFrees }),
    model: { variant: opts.variant, zddRelease: deferred ? "deferred" : "inline", thp: thp ? "always" : "never", ...(deviceThp ? { deviceThp: true } : {}) },
    ...(ties !== "fifo" || jitter > 0 ? { schedule: { ties, jitter } } : {}),
    faults,
    mappings: [{ addr: hex(EXPLORE_BASE), size: "4MiB" }],
    threads,
  };
}

/** A fault rule: fail with a probability per call, or at one to three given call numbers. */
function faultRule(r: RandomStream): { probability?: number; nth?: number[] } {
  if (r.bernoulli(0.5)) return { probability: [0.05, 0.2, 0.5][r.int(0, 2)]! };
  const nth = new Set(Array.from({ length: r.int(1, 3) }, () => r.int(1, 8)));
  return { nth: [...nth].sort((a, b) => a - b) };
}

/** An op kind by the property's weights, among those switched on. */
function pick(r: RandomStream, kinds: OpKind[]): OpKind {
  const total = kinds.reduce((n, k) => n + OP_WEIGHTS[k], 0);
  let x = r.int(0, total - 1);
  for (const k of kinds) {
    x -= OP_WEIGHTS[k];
    if (x < 0) return k;
  }
  return kinds[kinds.length - 1]!;
}

/**
 * The `at` of every op is drawn first (ops are drawn in order), so the first fork is known before
 * the child's steps are written: a child step waits for it (the property test ran such a step in
 * the parent; a workload would return "no process 1 (yet)" and lose the op).
 */
function firstForkThread(ops: OpKind[], r: RandomStream): { name: string | null; ats: number[] } {
  const ats = ops.map(() => drawAt(r));
  let name: string | null = null;
  let best = Infinity;
  ops.forEach((k, i) => {
    if (k === "fork" && ats[i]! < best) {
      best = ats[i]!;
      name = threadName(i, k);
    }
  });
  return { name, ats };
}

const threadName = (i: number, kind: OpKind): string => `op${i}-${kind}`;
const hex = (n: number): string => `0x${n.toString(16)}`;
const addrOf = (page: number): string => hex(EXPLORE_BASE + page * PAGE_BYTES);
const sizeOf = (pages: number): string => `${pages * 4}KiB`;

/** Up to 3 ms: a 2 MiB migration takes about 1 ms on this platform, so ops land before, during and after one. */
const drawAt = (r: RandomStream): number => (r.bernoulli(0.5) ? r.int(0, 40_000) : r.int(0, 3_000_000));
/** Any page, or a 2 MiB boundary as often, so whole PMD leaves are moved and zapped too. */
const drawPage = (r: RandomStream): number => (r.bernoulli(0.5) ? r.int(0, RANGE_PAGES - 1) : r.int(0, RANGE_PAGES / PMD_PAGES - 1) * PMD_PAGES);
const drawSpan = (r: RandomStream): number => (r.bernoulli(0.5) ? r.int(1, 600) : PMD_PAGES);

/** One op as one thread, as the property test ran one engine process per op. */
function opThread(r: RandomStream, kind: OpKind, i: number, childOn: boolean, fork: { name: string | null; ats: number[] }): Thread {
  const name = threadName(i, kind);
  const at = fork.ats[i]!;
  // A step in the child only when the run forks at all; it waits for the first fork to be done.
  const inChild = (): boolean => childOn && kind !== "fork" && r.bernoulli(0.5);
  const onProcess = (steps: Step[], ctx: Thread["ctx"], child: boolean): Thread => ({
    name,
    ...(ctx === undefined ? {} : { ctx }),
    ...(child ? { process: 1, steps: [{ op: "wait", thread: fork.name!, step: 0 }, ...steps] } : { steps }),
  });
  switch (kind) {
    case "cpu":
    case "cpuAtomic": {
      const page = drawPage(r);
      const op = kind === "cpuAtomic" ? "atomic" : r.bernoulli(0.5) ? "write" : "read";
      return onProcess([{ op, addr: addrOf(page), at }], undefined, inChild());
    }
    case "gpuAccess": {
      const page = drawPage(r);
      const pages = Math.min(r.int(1, 8), RANGE_PAGES - page);
      const op = (["read", "write", "atomic"] as const)[r.int(0, 2)]!;
      return onProcess([{ op, addr: addrOf(page), pages, at }], "gpu", inChild());
    }
    case "gpu": {
      const chunk = r.int(0, 1);
      const timesliceMs = [0, 1, 5][r.int(0, 2)]!;
      return onProcess([{ op: "populate", start: hex(EXPLORE_BASE + chunk * 2 * MIB), end: hex(EXPLORE_BASE + (chunk + 1) * 2 * MIB), timesliceMs, at }], "gpu", false);
    }
    case "fork":
      return onProcess([{ op: "fork", at }], undefined, false);
    case "munmap": {
      const page = drawPage(r);
      const pages = Math.min(drawSpan(r), RANGE_PAGES - page);
      return onProcess([{ op: "munmap", addr: addrOf(page), size: sizeOf(pages), at }], undefined, inChild());
    }
    case "mprotect": {
      const page = drawPage(r);
      const pages = Math.min(drawSpan(r), RANGE_PAGES - page);
      return onProcess([{ op: "mprotect", addr: addrOf(page), size: sizeOf(pages), write: r.bernoulli(0.5), at }], undefined, false);
    }
    case "mremap": {
      // Part of the range moved elsewhere inside it (whatever is at the target is unmapped).
      const page = drawPage(r);
      const span = drawSpan(r);
      const toPage = drawPage(r);
      const pages = Math.min(span, RANGE_PAGES - page, RANGE_PAGES - toPage);
      return onProcess([{ op: "mremap", addr: addrOf(page), size: sizeOf(pages), newAddr: addrOf(toPage), at }], undefined, inChild());
    }
    case "evict":
      return onProcess([{ op: "evict", which: r.int(0, 7), at }], "workqueue", false);
    case "pin":
    case "irqput": {
      const addr = addrOf(drawPage(r));
      const holdNs = r.int(0, 20_000);
      const [take, drop] = kind === "pin" ? (["pin", "unpin"] as const) : (["get", "irq_put"] as const);
      return onProcess([{ op: take, addr, at }, { op: "sleep", duration: holdNs }, { op: drop, addr }], undefined, false);
    }
  }
}
