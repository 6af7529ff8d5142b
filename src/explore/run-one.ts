import { stringify } from "yaml";
import { SimulationError, type ExecContext, type ProcessBody } from "../engine/index.ts";
import { PAGE_SIZE } from "../kernel/constants.ts";
import { cpuAccess } from "../kernel/fault.ts";
import { mmput } from "../kernel/mm.ts";
import type { ModelEventListener } from "../kernel/event-log.ts";
import { IllegalTransition } from "../kernel/apply.ts";
import { checkModelInvariants } from "../check/pagemap-invariants.ts";
import { checkPlatformInvariants } from "../check/platform-invariants.ts";
import { WriteVersionCheck } from "../check/write-versions.ts";
import type { RunEvent } from "../machine/run-events.ts";
import type { World } from "../machine/world.ts";
import { parseWorkload } from "../workload/load.ts";
import { WorkloadRun, type RunHooks } from "../workload/run.ts";
import type { ExploredRun, LoggedEvent, Problem, ProblemCheck, WorkloadInput } from "./types.ts";

/**
 * One explored run (issue #18, docs/design/explore.md §2.4): the workload as `pagesim run` runs
 * it, then a read-back of every written page in every process and a teardown (every process
 * exits, the device unbinds, everything drains), with every check the explorer makes reported as
 * a Problem instead of thrown.
 */

export interface ExploreRunOptions {
  /** Attached to the run's log before its first event (after explore's own hooks: see below). */
  hooks?: RunHooks;
  /** Extra listeners on the log (the coverage fold), subscribed after the harness's checks. */
  listeners?: ModelEventListener<RunEvent>[];
  /** Keep every model event (for a finding's explanation). */
  capture?: boolean;
  /** Engine steps without a workload step ending before the run counts as making no progress (default 2 M). */
  stepLimit?: number;
  /**
   * Simulated time past which the run counts as making no progress (default 1 s: every drawn step
   * starts before 3 ms; Xe doubles a range's timeslice on every retry, so a legitimate CPU stall
   * can pass 160 ms; loops that log fast hit the event limit first).
   */
  timeLimitNs?: number;
  /** Engine steps per slice, the watchdog's granularity (default 2,000, at most stepLimit). */
  sliceSteps?: number;
  /** The name the input is validated under in messages (and platform paths resolved against); default "explore.yaml". */
  path?: string;
}

/**
 * What one explored run returns. `log` holds every model event when `capture` is set (named so
 * because ExploredRun.events is the event count); `threadNames` maps thread uids to names.
 */
export type ExploreRunResult = ExploredRun & { log?: LoggedEvent[]; threadNames: Map<number, string> };

const STEP_LIMIT = 2_000_000; // the property test's livelock limit
const TIME_LIMIT_NS = 1_000_000_000;
/** Engine steps per slice: the watchdog looks between slices. */
const SLICE_STEPS = 2_000;
/** Events without a workload step ending before the run counts as making no progress (one engine step may commit thousands). */
const EVENT_LIMIT = 1_000_000;
/** Problems a run keeps: a broken invariant repeats at every later check. */
const MAX_PROBLEMS = 20;
const LOOP_EVENTS = 40;
const SIGNALS = new Set(["SIGBUS", "OOM"]);

/** Runs `input` with explore's checks; a bad input throws WorkloadError (it is not a finding). */
export function exploreRun(input: WorkloadInput, opts: ExploreRunOptions = {}): ExploreRunResult {
  const workload = parseWorkload(stringify(input), opts.path ?? "explore.yaml");
  const checks = new RunChecks(workload.model.zddRelease === "deferred", opts.capture === true);
  const run = new WorkloadRun(workload, undefined, {
    onLog: (log) => {
      opts.hooks?.onLog?.(log);
      checks.attach(log);
      for (const l of opts.listeners ?? []) log.subscribe(l);
    },
  });
  const w = run.world;
  const stepLimit = opts.stepLimit ?? STEP_LIMIT;
  const slice = Math.min(opts.sliceSteps ?? SLICE_STEPS, stepLimit);
  const watchdog = new Watchdog(stepLimit, opts.timeLimitNs ?? TIME_LIMIT_NS, checks);
  let extraSteps = 0;
  try {
    for (let stepsBefore = 0; !run.advance(slice); stepsBefore = run.engineSteps) {
      if (watchdog.stuck(w, run.engineSteps - stepsBefore)) return checks.result(run.engineSteps, w);
    }
    if (run.blockedThreads > 0 && run.hang === null) checks.add("hung", `${run.blockedThreads} threads never finished (deadlock)`);
    // After the workload: read back, then tear down, as engine threads of their own.
    for (const [name, body] of [["final-read", finalRead(w, checks)], ["teardown", teardown(w)]] as const) {
      if (hung(run, checks)) break;
      w.engine.spawn(name, body);
      extraSteps += drain(w, slice, watchdog, checks);
    }
    if (!hung(run, checks)) checks.atTeardown(w, (folio) => run.stepHolders(folio));
  } catch (error) {
    if (!(error instanceof SimulationError)) throw error;
    const illegal = error.cause instanceof IllegalTransition;
    checks.add("illegal-transition", illegal ? `the model refuses an event: ${error.message}` : `the model threw: ${error.message}`);
  }
  return checks.result(run.engineSteps + extraSteps, w);
}

/** A hung fault (HungFaultCheck stops the engine, also during the read-back) or any other stop: nothing more is run. */
function hung(run: WorkloadRun, checks: RunChecks): boolean {
  if (run.hang !== null) checks.add("hung", run.hang.message);
  return checks.stopped;
}

/** Runs the engine until it is idle or stopped, in slices, watching progress; returns the steps it took. */
function drain(w: World, slice: number, watchdog: Watchdog, checks: RunChecks): number {
  let total = 0;
  for (;;) {
    const r = w.engine.run(Infinity, slice);
    total += r.steps;
    if (r.steps < slice) {
      if (r.blocked > 0 && w.engine.scheduledCount === 0) checks.add("hung", `${r.blocked} threads never finished after the workload (deadlock)`);
      return total;
    }
    if (watchdog.stuck(w, r.steps)) return total;
  }
}

/** Each process reads back every page any process wrote that it still maps (the property test's final-read). */
function* finalRead(w: World, checks: RunChecks): ProcessBody {
  const mms = [...w.k.state.mms.keys()].sort((a, b) => a - b);
  const pages = [...new Set(mms.flatMap((mm) => checks.writes.written(mm).map(([vpn]) => vpn)))].sort((x, y) => x - y);
  for (const [index, mm] of mms.entries()) {
    w.log.commit({ kind: "step.begin", op: "read", step: index });
    let ret = "0";
    for (const vpn of pages) {
      const addr = vpn * PAGE_SIZE;
      if (!w.k.state.mms.get(mm)!.vmas.some((v) => v.read && addr >= v.startAddr && addr < v.endAddr)) continue; // not readable here
      const r = yield* cpuAccess(w.k, mm, addr, "read");
      if (r.outcome === "ok") continue;
      checks.signal(`final read of mm ${mm} vpn ${vpn}: ${r.outcome}`, r.outcome);
      ret = r.outcome;
    }
    w.log.commit({ kind: "step.end", op: "read", step: index, result: ret });
  }
}

/** Every process exits (its last mmput), then the device unbinds (evicting what is left). */
function* teardown(w: World): ProcessBody {
  const mms = [...w.k.state.mms.keys()].sort((a, b) => a - b);
  for (const [index, mm] of mms.entries()) {
    w.log.commit({ kind: "step.begin", op: "exit", step: index });
    yield* mmput(w.k, mm);
    w.log.commit({ kind: "step.end", op: "exit", step: index, result: "0" });
  }
  w.log.commit({ kind: "step.begin", op: "unbind", step: mms.length });
  const failed = yield* w.dev.unbindAndEvict();
  w.log.commit({ kind: "step.end", op: "unbind", step: mms.length, result: failed.length === 0 ? "0" : `evict failed for devmem ${failed.join(", ")}` });
}

/**
 * No progress: too many engine steps or events since a workload step last ended, or simulated
 * time past the limit. A CPU spinning on an unexpired timeslice is waiting for a deadline, not stuck.
 */
class Watchdog {
  private stepsSinceProgress = 0;
  private eventsAtProgress = 0;
  private waitsSeen = 0;
  private endsSeen = 0;

  constructor(
    private readonly stepLimit: number,
    private readonly timeLimitNs: number,
    private readonly checks: RunChecks,
  ) {}

  stuck(w: World, sliceSteps: number): boolean {
    if (this.checks.stepEnds !== this.endsSeen || this.checks.timesliceWaits !== this.waitsSeen) {
      this.endsSeen = this.checks.stepEnds;
      this.waitsSeen = this.checks.timesliceWaits;
      this.stepsSinceProgress = 0;
      this.eventsAtProgress = w.log.length;
    } else this.stepsSinceProgress += sliceSteps;
    const events = w.log.length - this.eventsAtProgress;
    const loop = (): string => `; the last events: ${this.checks.recentKinds().join(", ")}`;
    if (this.stepsSinceProgress > this.stepLimit) this.checks.add("no-progress", `${this.stepsSinceProgress} engine steps with no workload step ending, at ${w.engine.nowNs} ns${loop()}`);
    else if (events > EVENT_LIMIT) this.checks.add("no-progress", `${events} events with no workload step ending, at ${w.engine.nowNs} ns${loop()}`);
    else if (w.engine.nowNs > this.timeLimitNs) this.checks.add("no-progress", `simulated time ${w.engine.nowNs} ns is past ${this.timeLimitNs} ns${loop()}`);
    else return false;
    this.checks.stopped = true;
    return true;
  }
}

/** The checks that read the log as it is written, and the problems found so far. */
class RunChecks {
  readonly writes = new WriteVersionCheck();
  readonly problems: Problem[] = [];
  readonly threadNames = new Map<number, string>();
  readonly events: LoggedEvent[] | undefined;
  /** Set once a problem ends the run (a hang, no progress, a refused event). */
  stopped = false;
  stepEnds = 0;
  /** Timeslice spins seen before their expiration (Xe doubles a retried timeslice: a CPU may be held off 160 ms, ~10⁶ events). */
  timesliceWaits = 0;
  private readonly seen = new Set<string>();
  private readonly signals: { message: string; seq: number }[] = [];
  /** The last LOOP_EVENTS event kinds, a ring from `recentAt`. */
  private readonly recent: string[] = [];
  private recentAt = 0;
  private log!: World["log"];
  private inFlight = 0;
  private state!: World["log"]["state"];
  /** The ctx.violation events seen: their seq, and their index in Engine.contextViolations (read at the end). */
  private readonly violations: number[] = [];

  constructor(
    private readonly deferredRelease: boolean,
    capture: boolean,
  ) {
    this.events = capture ? [] : undefined;
  }

  attach(log: World["log"]): void {
    this.state = log.state;
    this.log = log;
    log.subscribe({
      onSpawn: (uid, name) => this.threadNames.set(uid, name),
      onEngineEvent: (seq, kind) => {
        if (kind === "ctx.violation") this.violations.push(seq);
      },
      onModelEvent: (seq, tNs, thread, ctx, ev) => this.event(seq, tNs, thread, ctx, ev),
    });
  }

  private event(seq: number, tNs: number, thread: number, ctx: ExecContext, ev: RunEvent): void {
    this.events?.push({ seq, tNs, thread, ctx, ev });
    this.recent[this.recentAt] = ev.kind;
    this.recentAt = (this.recentAt + 1) % LOOP_EVENTS;
    const lost = this.writes.event(ev);
    if (lost !== null) this.add("lost-write", `mm ${lost.mm} vpn ${lost.vpn}: ${lost.what}: expected ${lost.expected}, found ${lost.found}`);
    switch (ev.kind) {
      case "kernel.bug":
        this.add("kernel-bug", `${ev.fn}: ${ev.what}`);
        break;
      case "step.begin":
        this.inFlight++;
        break;
      case "cpu_fault.timeslice_spin":
        // A CPU held off by a timeslice waits for a known deadline: that is progress (the watchdog).
        if (ev.jiffies < ev.expiration) this.timesliceWaits++;
        break;
      case "step.end":
        this.stepEnds++;
        if (SIGNALS.has(ev.result)) this.signal(`${this.threadNames.get(thread) ?? thread}[${ev.step}] ${ev.op}: ${ev.result}`, ev.result);
        if (--this.inFlight === 0) this.invariants(false);
        break;
    }
  }

  private invariants(afterTeardown: boolean, holders?: (folio: number) => readonly string[]): void {
    for (const p of checkModelInvariants(this.state, { deferredRelease: this.deferredRelease, afterTeardown, ...(holders === undefined ? {} : { holders }) })) this.add(afterTeardown ? "teardown" : "invariant", p);
    for (const p of checkPlatformInvariants(this.state)) this.add("platform-invariant", p);
  }

  /** After the teardown drained: memory balance (checkModelInvariants' afterTeardown), stale GPU mappings. */
  atTeardown(w: World, holders: (folio: number) => readonly string[]): void {
    this.invariants(true, holders);
    if (w.gpu !== null && w.gpu.staleMappings > 0) this.add("platform-invariant", `the GPU used ${w.gpu.staleMappings} stale mappings (an MMU notifier invalidation was missed)`);
  }

  /** A SIGBUS or OOM is a problem only in a run with no fault injected (it is what injection causes); anything else always. */
  signal(message: string, outcome: string): void {
    if (SIGNALS.has(outcome)) this.signals.push({ message, seq: this.lastSeq });
    else this.add("signal", message);
  }

  add(check: ProblemCheck, message: string): void {
    if (check === "hung" || check === "illegal-transition") this.stopped = true;
    this.push({ check, message, seq: this.lastSeq });
  }

  private push(p: Problem): void {
    const key = `${p.check}\n${p.message}`;
    if (this.seen.has(key) || this.problems.length >= MAX_PROBLEMS) return;
    this.seen.add(key);
    this.problems.push(p);
  }

  recentKinds(): string[] {
    return [...this.recent.slice(this.recentAt), ...this.recent.slice(0, this.recentAt)];
  }

  /** The last event committed (model or engine), -1 before any. */
  private get lastSeq(): number {
    return this.log.length - 1;
  }

  result(engineSteps: number, w: World): ExploreRunResult {
    // The engine's list holds every violation in order, as the events announced them.
    this.violations.forEach((seq, i) => {
      const v = w.engine.contextViolations[i]!;
      this.push({ check: "context", message: `${v.procName} (${v.ctx} context) called ${v.op}, which may sleep, at ${v.tNs} ns`, seq });
    });
    const injected = Object.values(w.faults.counts()).reduce((n, c) => n + c.injected, 0);
    if (injected === 0) for (const s of this.signals) this.push({ check: "signal", message: s.message, seq: s.seq });
    return {
      problems: [...this.problems].sort((a, b) => a.seq - b.seq),
      engineSteps,
      events: w.log.length,
      ...(this.events === undefined ? {} : { log: this.events }),
      threadNames: this.threadNames,
    };
  }
}
