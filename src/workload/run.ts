import { Completion, sleep, type ProcessBody } from "../engine/index.ts";
import { errnoName, PAGE_SIZE } from "../kernel/constants.ts";
import { accessPresent, cpuAccess } from "../kernel/fault.ts";
import { folioPut } from "../kernel/folio.ts";
import { mmap, mmput, mprotect, mremap, munmap } from "../kernel/mm.ts";
import { fork } from "../kernel/fork.ts";
import { checkModelInvariants } from "../check/pagemap-invariants.ts";
import { HungFaultCheck, type HungFault, type RefHolder } from "../check/hung-fault.ts";
import { evictToRam } from "../pagemap/evict-to-ram.ts";
import { populateMm } from "../pagemap/populate-mm.ts";
import { returnMatches, type Workload, type WorkloadStep } from "./schema.ts";
import { createWorld, type World } from "../machine/world.ts";
import { XeDevice } from "../platform/xe-device.ts";
import { policyChoice } from "../policies/registry.ts";
import type { PteKind } from "../kernel/page-table.ts";
import { RunMetrics, type RunFigures } from "../machine/run-metrics.ts";
import { metricTable } from "../machine/metric-table.ts";
import type { GpuFaultReport, PlatformStats } from "../machine/platform-figures.ts";
import type { WorkStats } from "../machine/work-figures.ts";

/** What one step did: its thread, when it ran, and what it returned. */
export interface StepResult {
  thread: string;
  step: number;
  op: string;
  startNs: number;
  endNs: number;
  /** "0", "-EBUSY", or an access outcome such as "ok v3" / "SIGBUS". */
  ret: string;
  /** Page faults a read or write took (re-faults included); a GPU step's, its own thread's GPU faults. */
  faults?: number;
}

/** Where each page of the workload's mappings ended up. */
export interface PagePlacement {
  addr: number;
  where: "system" | "device" | "migrating";
  version: number;
}

export type { GpuFaultReport, PlatformStats, WorkStats };

/** The platform's figures from the log, and its VRAM allocator's state at the end. */
export type PlatformReport = PlatformStats & {
  vramFreePages: number;
  /** 1 − largest free block ÷ free pages (0: one free block). */
  vramFragmentation: number;
};

export interface RunReport {
  description: string;
  platformStats: PlatformReport | null;
  /** The platform profile's name, or "simple" for the flat-cost device. */
  platform: string;
  gpuFaults: GpuFaultReport[];
  seed: number;
  endNs: number;
  events: number;
  steps: StepResult[];
  /**
   * Every mapped page that has a page-table entry, where it is (see untouchedPages for the rest).
   * Built when first read: 16 M pages are 16 M objects (~1 GB); pageCounts needs none.
   */
  readonly placement: PagePlacement[];
  /** How many mapped pages are in system memory, device memory, migrating, or none (untouched). */
  pageCounts: Partial<Record<PagePlacement["where"] | "none", number>>;
  /** Mapped pages never touched (no page-table entry). */
  untouchedPages: number;
  contextViolations: { op: string; thread: string; ctx: string; tNs: number }[];
  faults: Record<string, { calls: number; injected: number }>;
  /** Broken invariants at the end of the run; empty when all hold. */
  invariants: string[];
  /** Reads that did not see the last write to their page (and writes on top of data their process never saw), from the log (src/check/write-versions.ts). */
  lostWrites: string[];
  /** Steps where the modelled kernel would oops or corrupt memory (kernel.bug events). */
  kernelBugs: string[];
  /** Steps that returned something other than their `expect`: "t[1] populate returned 0, expected -EBUSY". */
  failedSteps: string[];
  /** A CPU access that could never complete, which stopped the run (its sentence is in invariants too). */
  hang: HungFault | null;
  /** The migration policy (platform runs), or null. */
  policy: string | null;
  /** Work done per side, fault latencies, migrations and ping-pongs (docs/metrics.md). */
  work: WorkStats;
  /** Every metric by name, as run.json, results.sqlite and `pagesim metrics` hold them (src/machine/metric-table.ts). */
  metrics: Record<string, number>;
}

/** What a caller may attach to a run before its first event. */
export interface RunHooks {
  /** Called with the run's event log before anything happens (to attach a recorder). */
  onLog?: (log: World["log"]) => void;
}

/**
 * One workload being run. It advances in slices so that a caller can let Node's event loop run
 * between them (to notice SIGINT); runWorkload runs it in one go.
 */
export class WorkloadRun {
  readonly world: World;
  readonly seed: number;
  private readonly steps: StepResult[] = [];
  private readonly failedSteps: string[] = [];
  private blocked = 0;
  private done = false;
  private stepsTaken = 0;
  /** The run's metrics, read from its log as it is written (src/machine/run-metrics.ts). */
  private readonly metrics: RunMetrics;
  private readonly hung: HungFaultCheck;
  /** Folio → the pin and get steps still holding it (the hung-fault and teardown checks name them). */
  private readonly holders = new Map<number, RefHolder[]>();

  constructor(private readonly workload: Workload, seedOverride?: number, hooks: RunHooks = {}) {
    const seed = (this.seed = seedOverride ?? workload.seed);
    const threadNames = new Map<number, string>();
    const metrics = (this.metrics = new RunMetrics({ threadName: (uid) => threadNames.get(uid) ?? String(uid) }));
    // The metrics fold attaches with the recorder, before the first event: it reads the world's
    // own set-up (the copy engine's copy.init) from the log like the rest.
    const onLog = (log: Parameters<NonNullable<RunHooks["onLog"]>>[0]): void => {
      hooks.onLog?.(log);
      log.subscribe({
        onSpawn: (uid, name) => threadNames.set(uid, name),
        onModelEvent: (seq, tNs, thread, ctx, ev) => metrics.event(seq, tNs, thread, ctx, ev),
      });
    };
    const w = (this.world = createWorld(
      {
        seed,
        variant: workload.model.variant,
        zddRelease: workload.model.zddRelease,
        hz: workload.model.hz,
        thp: workload.model.thp,
        deviceThp: workload.model.deviceThp,
        faults: workload.faults,
        device: { vramPages: workload.device.vramPages, release: workload.device.release, copyNsPerPage: workload.device.copyNsPerPage },
        ...(workload.platformProfile === undefined ? {} : { platform: workload.platformProfile }),
        ...(workload.irqFrees === undefined ? {} : { irqFrees: { probability: workload.irqFrees.probability, delayNs: workload.irqFrees.delay } }),
        ...(workload.policy === undefined ? {} : { policy: policyChoice(workload.policy) }),
        schedule: workload.schedule,
      },
      onLog,
    ));
    const mms = [w.mm]; // process index -> mm
    const heldRefs = new Map<number, number[]>(); // addr -> folios referenced by `get`
    const pins = new Map<number, number[]>(); // addr -> folios pinned by `pin`, which `unpin` releases
    const holders = this.holders;
    const exited = new Set<number>(); // mms an exit step has put
    this.hung = new HungFaultCheck(w.engine, () => w.k.state, { threadName: (uid) => threadNames.get(uid) ?? String(uid), holders: (folio) => holders.get(folio) ?? [] });
    w.log.subscribe(this.hung);

    w.engine.spawn("setup", (function* (): ProcessBody {
      for (const m of workload.mappings) yield* mmap(w.k, w.mm, { addr: m.addr, lengthBytes: m.size, kind: m.kind, read: m.read, write: m.write });
    })());
    w.engine.run();

    const steps = this.steps;
    const failedSteps = this.failedSteps;
    const passed = stepCompletions(w, workload);
    for (const thread of workload.threads) {
      w.engine.spawn(thread.name, (function* (): ProcessBody {
        for (const [index, step] of thread.steps.entries()) {
          if (step.at !== undefined && step.at > w.engine.nowNs) yield sleep(step.at - w.engine.nowNs);
          if (step.after !== undefined) yield sleep(step.after);
          const startNs = w.engine.nowNs;
          const mm = mms[thread.process];
          w.log.commit({ kind: "step.begin", op: step.op, step: index });
          let out: { ret: string; faults?: number };
          if (step.op === "wait") {
            for (const replica of workload.threadGroups?.[step.thread] ?? [step.thread]) yield passed.get(`${replica}:${step.step ?? "end"}`)!.wait();
            out = { ret: "0" };
          } else if (mm === undefined) out = { ret: `no process ${thread.process} (yet)` };
          else out = yield* runStep(w, step, { mm, mms, exited, heldRefs, pins, holders, where: `${thread.name}[${index}]`, gpu: thread.ctx === "gpu" });
          w.log.commit({ kind: "step.end", op: step.op, step: index, result: out.ret });
          if (step.expect !== undefined && !returnMatches(out.ret, step.expect)) failedSteps.push(`${thread.name}[${index}] ${step.op} returned ${out.ret}, expected ${step.expect}`);
          steps.push({ thread: thread.name, step: index, op: step.op, startNs, endNs: w.engine.nowNs, ...out });
          passed.get(`${thread.name}:${index}`)?.completeAll();
        }
        passed.get(`${thread.name}:end`)?.completeAll();
      })(), thread.ctx);
    }
  }

  /** Runs at most `maxSteps` process resumptions; true once the workload has finished. */
  advance(maxSteps = Infinity): boolean {
    if (this.done) return true;
    const until = this.workload.until ?? Infinity;
    const result = this.world.engine.run(until, maxSteps);
    this.stepsTaken += result.steps;
    if (result.steps < maxSteps || this.hung.found !== null) {
      this.done = true;
      this.blocked = result.blocked;
    }
    return this.done;
  }

  get finished(): boolean {
    return this.done;
  }

  /** The pin and get steps still holding `folio` ("cpu0[1] get"), oldest first. */
  stepHolders(folio: number): string[] {
    return (this.holders.get(folio) ?? []).map((h) => h.who);
  }

  /**
   * The run ended torn down: every process has exited, every device is unbound, and nothing is
   * left scheduled or blocked (deferred work drained). The report then checks memory balance
   * (checkModelInvariants' afterTeardown); src/explore/teardown.ts appends such an ending.
   */
  get tornDown(): boolean {
    const w = this.world;
    if (!this.done || this.hung.found !== null || this.blocked > 0 || w.engine.scheduledCount > 0) return false;
    for (const mm of w.k.state.mms.values()) if (mm.users > 0) return false;
    for (const d of w.p.state.dpagemaps.values()) if (!d.unbound) return false;
    return true;
  }

  /** Engine steps (process resumptions) the run has taken so far. */
  get engineSteps(): number {
    return this.stepsTaken;
  }

  /** Once finished: the CPU access found hung, or null. */
  get hang(): HungFault | null {
    return this.hung.found;
  }

  /** Once finished: threads left parked with nothing runnable (a deadlock), 0 if none. */
  get blockedThreads(): number {
    return this.blocked;
  }

  /** The report on the run so far: every step, the final placement and the checks. */
  report(): RunReport {
    const w = this.world;
    const holders = (folio: number): string[] => this.stepHolders(folio);
    const invariants = this.done ? checkModelInvariants(w.p.state, { deferredRelease: this.workload.model.zddRelease === "deferred", afterTeardown: this.tornDown, holders }) : [];
    if (this.hung.found !== null) invariants.push(this.hung.found.message);
    else if (this.blocked > 0) invariants.push(`${this.blocked} threads never finished (deadlock)`);
    if (w.gpu !== null && w.gpu.staleMappings > 0) invariants.push(`the GPU used ${w.gpu.staleMappings} stale mappings (an MMU notifier invalidation was missed)`);
    const figures = this.metrics.result(w.engine.nowNs, w.log.length);
    const contextViolations = w.engine.contextViolations.map((v) => ({ op: v.op, thread: v.procName, ctx: v.ctx, tNs: v.tNs }));
    const report: Omit<RunReport, "placement"> = {
      description: this.workload.description,
      platformStats: this.platformReport(figures),
      platform: this.workload.platformProfile?.name ?? "simple",
      gpuFaults: figures.gpuFaults,
      seed: this.seed,
      endNs: w.engine.nowNs,
      events: w.log.length,
      steps: this.steps,
      ...pageCounts(w, this.workload),
      contextViolations,
      faults: w.faults.counts(),
      invariants,
      lostWrites: figures.lostWrites,
      kernelBugs: figures.kernelBugs,
      failedSteps: this.failedSteps,
      hang: this.hung.found,
      policy: w.policy?.name ?? null,
      work: figures.work,
      metrics: metricTable(figures, { contextViolations: contextViolations.length, invariantsBroken: invariants.length, failedSteps: this.failedSteps.length }),
    };
    let pages: PagePlacement[] | undefined;
    return Object.defineProperty(report, "placement", { enumerable: true, get: () => (pages ??= placement(w)) }) as RunReport;
  }

  /** The platform's figures from the log, with the VRAM allocator's state now (platform runs only). */
  private platformReport(figures: RunFigures): PlatformReport | null {
    const dev = this.world.dev;
    if (figures.platformStats === null || !(dev instanceof XeDevice)) return null;
    return { ...figures.platformStats, vramFreePages: dev.freeVramPages, vramFragmentation: dev.vramFragmentation };
  }
}

/**
 * A completion for every step some `wait` step waits for ("thread:index", or "thread:end" for a
 * whole thread), made before any thread starts so that none is completed before it exists.
 */
function stepCompletions(w: World, workload: Workload): Map<string, Completion> {
  const passed = new Map<string, Completion>();
  for (const t of workload.threads) {
    for (const s of t.steps) {
      if (s.op !== "wait") continue;
      for (const replica of workload.threadGroups?.[s.thread] ?? [s.thread]) {
        const key = `${replica}:${s.step ?? "end"}`;
        if (!passed.has(key)) passed.set(key, new Completion(w.engine, `step ${key}`));
      }
    }
  }
  return passed;
}

/** Runs a workload to completion and reports every step, the final placement and the checks. */
export function runWorkload(workload: Workload, seedOverride?: number, hooks: RunHooks = {}): { report: RunReport; world: World } {
  const run = new WorkloadRun(workload, seedOverride, hooks);
  run.advance();
  return { report: run.report(), world: run.world };
}

/**
 * unpin_user_page on the folio the `pin` step at this address pinned (the kernel unpins the page
 * it was handed, not whatever the address maps now: a munmap or mremap in between does not lose
 * the pin). The pin's reference goes with it; the last one frees the folio through folio_put.
 */
function* unpinStep(w: World, addr: number, s: StepState): ProcessBody<{ ret: string }> {
  const folio = s.pins.get(addr)?.pop();
  if (folio === undefined) return { ret: "no pin held (use pin first)" };
  w.k.commit({ kind: "folio.unpin", folio });
  const held = s.holders.get(folio) ?? [];
  const pin = held.findLastIndex((h) => h.who.endsWith(" pin"));
  if (pin !== -1) held.splice(pin, 1);
  if (held.length === 0) s.holders.delete(folio);
  if (w.k.state.folios.get(folio)!.refcount === 0) {
    w.k.commit({ kind: "folio.get", folio }); // the unpin's put goes through folio_put, which frees
    yield* folioPut(w.k, folio);
  }
  return { ret: "0" };
}

/** The `which`-th (modulo their number) device-memory allocation not yet detached that a live zdd still points to, in id order. */
function liveDevmem(w: World, which: number): number | undefined {
  const live = [...w.p.state.devmems.values()].filter((d) => !d.detached && [...w.p.state.zdds.values()].some((z) => z.devmem === d.id && !z.destroyed));
  return live.length === 0 ? undefined : live[which % live.length]!.id;
}

interface StepState {
  /** The mm of the step's process; `mms` lists every process's. */
  mm: number;
  mms: number[];
  /** The mms an `exit` step has put: a second exit of the same process is refused, not a second mmput. */
  exited: Set<number>;
  heldRefs: Map<number, number[]>;
  /** The folios `pin` steps pinned, by the address they named: `unpin` releases the folio it pinned, wherever it is mapped now. */
  pins: Map<number, number[]>;
  /** Who holds each folio by a pin or get step (the hung-fault check names them). */
  holders: Map<number, RefHolder[]>;
  where: string;
  /** The step runs on a GPU thread: its accesses are GPU accesses. */
  gpu: boolean;
}

function* runStep(w: World, step: WorkloadStep, s: StepState): ProcessBody<{ ret: string; faults?: number }> {
  switch (step.op) {
    case "read":
    case "write":
    case "atomic": {
      if (s.gpu) return yield* gpuSteps(w, step.op, step.addr, step.pages, s);
      const access = step.op === "read" ? "read" : "write";
      let faults = 0;
      let version = -1; // the last page's, formatted once the step is done
      for (let i = 0; i < step.pages; i++) {
        const addr = step.addr + i * PAGE_SIZE;
        // An access that needs no fault is its page event alone; one that faults is marked.
        version = accessPresent(w.k, s.mm, addr, access);
        if (version >= 0) continue;
        w.log.commit({ kind: "access.begin", mm: s.mm, addr, access: step.op });
        const r = yield* cpuAccess(w.k, s.mm, addr, access);
        w.log.commit({ kind: "access.end", ok: r.outcome === "ok", stallNs: 0 });
        faults += r.faults;
        if (r.outcome !== "ok") return { ret: r.outcome, faults };
        version = r.version;
      }
      return { ret: version < 0 ? "ok" : `ok v${version}`, faults };
    }
    case "populate":
      return { ret: errnoName(yield* populateMm(w.p, w.dev.dpagemap, step.start, step.end, s.mm, step.timesliceMs)) };
    case "mmap":
      return { ret: errnoName(yield* mmap(w.k, s.mm, { addr: step.addr, lengthBytes: step.size, kind: step.kind, read: step.read, write: step.write })) };
    case "munmap": {
      return { ret: errnoName(yield* munmap(w.k, s.mm, step.addr, step.size)) };
    }
    case "mprotect":
      return { ret: errnoName(yield* mprotect(w.k, s.mm, step.addr, step.size, step.read, step.write)) };
    case "mremap":
      return { ret: errnoName(yield* mremap(w.k, s.mm, step.addr, step.size, step.newAddr)) };
    case "evict": {
      const devmem = step.which === undefined ? step.devmem! : liveDevmem(w, step.which);
      if (devmem === undefined) return { ret: "no live devmem" };
      if (!w.p.state.devmems.has(devmem)) return { ret: `no devmem ${devmem}` };
      return { ret: errnoName(yield* evictToRam(w.p, devmem)) };
    }
    case "pin":
    case "get": {
      const pte = w.k.state.mms.get(s.mm)!.ptes.get(Math.floor(step.addr / PAGE_SIZE));
      if (pte === undefined || pte.kind === "migration") return { ret: "no page" };
      const refs = step.op === "pin" ? s.pins : s.heldRefs;
      w.k.commit(step.op === "pin" ? { kind: "folio.pin", folio: pte.folio } : { kind: "folio.get", folio: pte.folio });
      refs.set(step.addr, [...(refs.get(step.addr) ?? []), pte.folio]);
      s.holders.set(pte.folio, [...(s.holders.get(pte.folio) ?? []), { who: `${s.where} ${step.op}`, sinceNs: w.engine.nowNs }]);
      return { ret: "0" };
    }
    case "unpin":
      return yield* unpinStep(w, step.addr, s);
    case "irq_put": {
      const held = s.heldRefs.get(step.addr) ?? [];
      const folio = held.shift();
      if (folio === undefined) return { ret: "no reference held (use get first)" };
      const holders = s.holders.get(folio) ?? [];
      const get = holders.findIndex((h) => h.who.endsWith(" get"));
      if (get !== -1) holders.splice(get, 1);
      const irq = w.engine.spawn(`irq@0x${step.addr.toString(16)}`, folioPut(w.k, folio), "irq");
      yield w.engine.join(irq);
      return { ret: "0" };
    }
    case "unbind": {
      const failed = yield* w.dev.unbindAndEvict();
      return { ret: failed.length === 0 ? "0" : `evict failed for devmem ${failed.join(", ")}` };
    }
    case "fork": {
      const child = yield* fork(w.k, s.mm);
      s.mms.push(child);
      return { ret: `process ${s.mms.length - 1}` };
    }
    case "exit":
      if (s.exited.has(s.mm)) return { ret: `process ${s.mms.indexOf(s.mm)} has exited` };
      s.exited.add(s.mm);
      yield* mmput(w.k, s.mm);
      return { ret: "0" };
    case "sleep":
      yield sleep(step.duration);
      return { ret: "0" };
    case "wait":
      throw new Error("a wait step is run by its thread's loop, which holds the completions");
  }
}

/** A GPU thread's accesses, page by page, through GPU SVM (faulting where nothing is mapped). */
function* gpuSteps(w: World, access: "read" | "write" | "atomic", addr: number, pages: number, s: StepState): ProcessBody<{ ret: string; faults?: number }> {
  if (w.gpu === null) return { ret: "no GPU: GPU accesses need a platform (set platform: in the workload)" };
  let faults = 0; // this thread's own GPU faults
  let version = -1; // the last page's, formatted once the step is done
  for (let i = 0; i < pages; i++) {
    const page = addr + i * PAGE_SIZE;
    // An access through a valid mapping is its page event alone; one that faults is marked.
    version = yield* w.gpu.accessMapped(s.mm, page, access);
    if (version >= 0) continue;
    w.log.commit({ kind: "access.begin", mm: s.mm, addr: page, access });
    const r = yield* w.gpu.access(s.mm, page, access);
    w.log.commit({ kind: "access.end", ok: r.ret === 0, stallNs: r.stallNs });
    faults += r.faults;
    if (r.ret !== 0) return { ret: errnoName(r.ret), faults };
    version = r.version;
  }
  return { ret: version < 0 ? "0" : `ok v${version}`, faults };
}

/**
 * How many pages of the workload's initial mappings and of the VMAs at the end are where, and how
 * many have no page-table entry. Proportional to the pages touched, not to the address space: a
 * 64 GiB mapping with a few pages touched reports quickly.
 */
function pageCounts(w: World, workload: Workload): { untouchedPages: number; pageCounts: RunReport["pageCounts"] } {
  const mm = w.k.state.mms.get(w.mm)!;
  const ranges = [...workload.mappings.map((m) => [m.addr, m.addr + m.size] as const), ...mm.vmas.map((v) => [v.startAddr, v.endAddr] as const)].sort((a, b) => a[0] - b[0]);
  let mappedPages = 0;
  let coveredTo = -1;
  for (const [start, end] of ranges) {
    const from = Math.max(start, coveredTo);
    if (end > from) mappedPages += (end - from) / PAGE_SIZE;
    coveredTo = Math.max(coveredTo, end);
  }
  const counts: RunReport["pageCounts"] = {};
  const untouched = mappedPages - mm.ptes.size;
  if (untouched > 0) counts.none = untouched;
  mm.ptes.forEach((_vpn, kind) => {
    const where = whereOf(kind);
    counts[where] = (counts[where] ?? 0) + 1;
  });
  return { untouchedPages: untouched, pageCounts: counts };
}

function whereOf(kind: PteKind): PagePlacement["where"] {
  return kind === "present" ? "system" : kind === "device-private" ? "device" : "migrating";
}

/** Every page with a page-table entry, in address order (every entry lies in a VMA: munmap zaps what it unmaps). */
function placement(w: World): PagePlacement[] {
  const pages: PagePlacement[] = [];
  w.k.state.mms.get(w.mm)!.ptes.forEach((vpn, kind, folio, index) => {
    pages.push({ addr: vpn * PAGE_SIZE, where: whereOf(kind), version: w.k.state.folios.version(folio, index) });
  });
  return pages;
}
