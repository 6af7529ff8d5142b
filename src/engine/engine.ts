import { EventQueue } from "./event-queue.ts";
import { Process, type ProcessBody, type Op, type Scheduler } from "./process.ts";
import type { ExecContext } from "./context.ts";
import type { EngineEventKind, EngineSink } from "./trace.ts";
import { JiffiesClock, type Hz } from "./jiffies.ts";
import { RandomStreams, type RandomStream } from "./random.ts";

/**
 * Schedule perturbation (issue #18's explorer): `shuffle` runs the processes due at the same
 * instant in a seeded random order instead of the order they were scheduled; `jitter` J moves
 * every positive sleep and spin by a uniform factor in [1 − J, 1 + J] (at least 1 ns). Both draw
 * from the run's seed ("schedule:ties", "schedule:jitter"), so a perturbed run still reproduces.
 */
export interface SchedulePerturbation {
  ties: "fifo" | "shuffle";
  /** A fraction from 0 to 0.5; 0 for none. */
  jitter: number;
}

export interface EngineOptions {
  /** Master seed; every component draws from its own named stream of it. Default 1. */
  seed?: number;
  /** Kernel tick rate CONFIG_HZ: 100, 250, 300 or 1000. Default 250. */
  hz?: Hz;
  /** Receives every state change the engine makes; null (default) for none. */
  sink?: EngineSink | null;
  /** Default: FIFO ties, no jitter (the determinism contract of EventQueue). */
  schedule?: SchedulePerturbation;
}

/** One "sleeping function called from invalid context" the run hit. */
export interface ContextViolation {
  tNs: number;
  procUid: number;
  procName: string;
  ctx: ExecContext;
  atomicDepth: number;
  /** The operation that may sleep, e.g. "mutex_lock". */
  op: string;
}

export interface RunResult {
  /** Simulated time when the run stopped. */
  endNs: number;
  /** Process resumptions performed by this call. */
  steps: number;
  /** Processes still parked on a primitive when nothing was left to run (a deadlock). */
  blocked: number;
}

/** A process died with an exception: the run stops, naming who, when and why. */
export class SimulationError extends Error {
  constructor(
    message: string,
    readonly tNs: number,
    readonly procName: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SimulationError";
  }
}

/**
 * The discrete-event engine: simulated time in integer nanoseconds, processes as generators,
 * and a future-event list ordered by (time, scheduling order).
 *
 * A process runs until it yields something that takes time or blocks; the engine then runs the
 * next runnable process. Everything is single-threaded and driven only by the inputs and seed.
 */
export class Engine implements Scheduler {
  /** Current simulated time in nanoseconds (an integer held exactly in a float64). */
  nowNs = 0;
  /** The process being resumed, or null between steps. */
  current: Process | null = null;
  readonly jiffies: JiffiesClock;
  readonly random: RandomStreams;
  readonly contextViolations: ContextViolation[] = [];
  sink: EngineSink | null;

  private readonly queue = new EventQueue();
  // The process table, indexed by pid. What every step needs (the generator, whether the process
  // may sleep, a pending resume value) lives in flat arrays rather than on the Process object:
  // with 100,000 processes resumed in random order, each object dereference is a cache miss.
  private readonly procs: (Process | undefined)[] = [];
  private readonly bodies: (ProcessBody<unknown> | undefined)[] = [];
  /** Per pid: 1 for IRQ context, plus the depth of atomic sections; nonzero means may not sleep. */
  private noSleep = new Uint16Array(64);
  private hasResumeValue = new Uint8Array(64);
  private readonly resumeValues: unknown[] = [];
  private readonly freePids: number[] = [];
  private nextUid = 0;
  private live = 0;
  private stopRequested = false;
  private readonly objectNameList: string[] = [];
  /** Tie shuffling: the stream it draws from, or null (FIFO). */
  private readonly ties: RandomStream | null;
  /** The processes due at batchTimeNs, shuffled, that have not run yet: batch[batchPos..]. */
  private readonly batch: number[] = [];
  private batchPos = 0;
  private batchTimeNs = 0;
  private readonly jitterFraction: number;
  private readonly jitterStream: RandomStream | null;

  constructor(options: EngineOptions = {}) {
    this.jiffies = new JiffiesClock(this, options.hz ?? 250);
    this.random = new RandomStreams(options.seed ?? 1);
    this.sink = options.sink ?? null;
    const schedule = options.schedule ?? { ties: "fifo", jitter: 0 };
    if (!(schedule.jitter >= 0 && schedule.jitter <= 0.5)) throw new RangeError(`schedule jitter must be a fraction from 0 to 0.5, got ${schedule.jitter}`);
    this.ties = schedule.ties === "shuffle" ? this.random.stream("schedule:ties") : null;
    this.jitterFraction = schedule.jitter;
    this.jitterStream = schedule.jitter > 0 ? this.random.stream("schedule:jitter") : null;
  }

  /** Creates a process that first runs at the current time, after those already runnable now. */
  spawn(name: string, body: ProcessBody<unknown>, ctx: ExecContext = "process"): Process {
    const pid = this.freePids.length > 0 ? this.freePids.pop()! : this.procs.length;
    if (pid >= this.noSleep.length) this.growTables();
    const proc = new Process(this, pid, this.nextUid++, name, ctx, body);
    this.procs[pid] = proc;
    this.bodies[pid] = body;
    this.noSleep[pid] = ctx === "irq" ? 1 : 0;
    this.hasResumeValue[pid] = 0;
    this.live++;
    if (this.sink !== null) {
      this.sink.onSpawn?.(proc.uid, name, ctx);
      this.emit("proc.spawn", proc.uid, -1, 0);
    }
    this.queue.push(this.nowNs, pid);
    return proc;
  }

  /**
   * Runs until nothing is runnable, `untilNs` is reached (events at untilNs still run), stop(),
   * or `maxSteps` process resumptions (so a caller can yield to Node's event loop between slices).
   */
  run(untilNs = Infinity, maxSteps = Infinity): RunResult {
    if (this.ties !== null) return this.runShuffled(untilNs, maxSteps);
    const queue = this.queue;
    this.stopRequested = false;
    let steps = 0;
    try {
      while (queue.size > 0 && !this.stopRequested && steps < maxSteps) {
        const tNs = queue.peekTimeNs();
        if (tNs > untilNs) break;
        const pid = queue.pop();
        this.nowNs = tNs;
        this.resume(pid);
        this.current = null;
        steps++;
      }
    } catch (error) {
      throw this.failure(error);
    }
    if (untilNs !== Infinity && queue.size === 0 && untilNs > this.nowNs) this.nowNs = untilNs;
    return { endNs: this.nowNs, steps, blocked: this.blockedCount() };
  }

  /**
   * run() with tie shuffling: whenever more than one process is due at the next instant, every
   * one of them is taken from the queue into a batch, shuffled (Fisher–Yates) and run in that
   * order. Processes made runnable at that instant while the batch runs are queued behind it,
   * where FIFO would put them too. The batch outlives a run() that stops inside it.
   */
  private runShuffled(untilNs: number, maxSteps: number): RunResult {
    const queue = this.queue;
    const batch = this.batch;
    this.stopRequested = false;
    let steps = 0;
    try {
      while ((this.batchPos < batch.length || queue.size > 0) && !this.stopRequested && steps < maxSteps) {
        let tNs: number;
        let pid: number;
        if (this.batchPos < batch.length) {
          tNs = this.batchTimeNs;
          pid = batch[this.batchPos++]!;
        } else {
          tNs = queue.peekTimeNs();
          if (tNs > untilNs) break;
          pid = queue.pop();
          if (queue.size > 0 && queue.peekTimeNs() === tNs) pid = this.takeBatch(tNs, pid);
        }
        this.nowNs = tNs;
        this.resume(pid);
        this.current = null;
        steps++;
      }
    } catch (error) {
      throw this.failure(error);
    }
    if (untilNs !== Infinity && queue.size === 0 && this.batchPos === batch.length && untilNs > this.nowNs) this.nowNs = untilNs;
    return { endNs: this.nowNs, steps, blocked: this.blockedCount() };
  }

  /** Takes every process due at tNs (`first` already popped) into the batch, shuffles it, and returns the one to run now. */
  private takeBatch(tNs: number, first: number): number {
    const batch = this.batch;
    const queue = this.queue;
    batch.length = 0;
    batch.push(first);
    while (queue.size > 0 && queue.peekTimeNs() === tNs) batch.push(queue.pop());
    for (let i = batch.length - 1; i > 0; i--) {
      const j = this.ties!.int(0, i);
      const t = batch[i]!;
      batch[i] = batch[j]!;
      batch[j] = t;
    }
    this.batchTimeNs = tNs;
    this.batchPos = 1;
    return batch[0]!;
  }

  /** Makes run() return after the current step. */
  stop(): void {
    this.stopRequested = true;
  }

  /** Drives one process until it parks, sleeps or exits. */
  private resume(pid: number): void {
    const body = this.bodies[pid]!;
    const proc = this.procs[pid]!;
    this.current = proc;
    let value: unknown = undefined;
    if (this.hasResumeValue[pid] !== 0) value = this.takeResumeValue(pid);
    for (;;) {
      const step = body.next(value);
      if (step.done === true) return this.exit(proc, step.value);
      const cmd = step.value;
      if (typeof cmd === "number") return this.sleepFor(pid, cmd);
      if (cmd.mightSleep && this.noSleep[pid] !== 0) this.violation(proc, cmd.opName);
      if (!cmd.begin(this, proc)) return;
      value = undefined;
    }
  }

  private takeResumeValue(pid: number): unknown {
    const value = this.resumeValues[pid];
    this.resumeValues[pid] = undefined;
    this.hasResumeValue[pid] = 0;
    return value;
  }

  /** Wraps what a process threw with who and when; the run cannot go on. */
  private failure(error: unknown): SimulationError {
    const proc = this.current;
    this.current = null;
    if (error instanceof SimulationError) return error;
    const name = proc?.name ?? "(engine)";
    const why = error instanceof Error ? error.message : String(error);
    return new SimulationError(`process ${name} failed at t=${this.nowNs} ns: ${why}`, this.nowNs, name, { cause: error });
  }

  /** The common case, kept free of Process dereferences: sleep `ns` from now. */
  private sleepFor(pid: number, ns: number): void {
    if (this.noSleep[pid] !== 0) this.violation(this.procs[pid]!, "sleep");
    if (!(ns >= 0 && Number.isInteger(ns))) this.badDuration(this.procs[pid]!, ns);
    if (this.jitterFraction !== 0 && ns > 0) ns = this.jittered(ns);
    if (this.sink !== null) this.emit("proc.sleep", this.procs[pid]!.uid, -1, ns);
    this.queue.push(this.nowNs + ns, pid);
  }

  /** A positive duration moved by a uniform factor in [1 − J, 1 + J]; never below 1 ns. */
  private jittered(ns: number): number {
    const u = this.jitterStream!.uniform();
    return Math.max(1, Math.round(ns * (1 + this.jitterFraction * (2 * u - 1))));
  }

  private exit(proc: Process, result: unknown): void {
    proc.exited = true;
    proc.result = result;
    this.procs[proc.pid] = undefined;
    this.bodies[proc.pid] = undefined;
    this.noSleep[proc.pid] = 0;
    this.freePids.push(proc.pid);
    this.live--;
    this.emit("proc.exit", proc.uid, -1, 0);
    if (proc.joiners !== null) for (const joiner of proc.joiners) this.wake(joiner);
    proc.joiners = null;
  }

  /** Makes `proc` runnable after `ns` nanoseconds (a non-negative integer). */
  scheduleAfter(proc: Process, ns: number): void {
    if (!(ns >= 0 && Number.isInteger(ns))) this.badDuration(proc, ns);
    if (this.jitterFraction !== 0 && ns > 0) ns = this.jittered(ns);
    this.queue.push(this.nowNs + ns, proc.pid);
  }

  private badDuration(proc: Process, ns: number): never {
    throw new RangeError(`process ${proc.name}: duration must be a non-negative integer of ns, got ${ns}`);
  }

  /** Makes a parked process runnable now; its yield returns `value`. */
  wake(proc: Process, value?: unknown): void {
    if (value !== undefined) {
      this.resumeValues[proc.pid] = value;
      this.hasResumeValue[proc.pid] = 1;
    }
    if (this.sink !== null) this.emit("proc.wake", proc.uid, -1, 0);
    this.queue.push(this.nowNs, proc.pid);
  }

  /** `yield engine.join(proc)`: waits until `proc` has exited. */
  join(proc: Process): Op {
    return {
      mightSleep: true,
      opName: "join",
      begin: (_e: Scheduler, waiter: Process): boolean => {
        if (proc.exited) return true;
        (proc.joiners ??= []).push(waiter);
        this.emit("proc.block", waiter.uid, -1, 0);
        return false;
      },
    };
  }


  /** might_sleep(): records a violation when the running process may not sleep here. */
  mightSleep(op: string): void {
    const proc = this.current;
    if (proc !== null && this.noSleep[proc.pid] !== 0) this.violation(proc, op);
  }

  /** Whether `proc` may sleep now (kernel: not in interrupt, not atomic). */
  maySleep(proc: Process): boolean {
    return this.noSleep[proc.pid] === 0;
  }

  /** Depth of atomic sections `proc` is in (spinlocks held, preemption disabled). */
  atomicDepth(proc: Process): number {
    return this.noSleep[proc.pid]! - (proc.ctx === "irq" ? 1 : 0);
  }

  /** preempt_disable(), as spin_lock does: the process may not sleep until exitAtomic. */
  enterAtomic(proc: Process): void {
    this.noSleep[proc.pid]!++;
  }

  /** preempt_enable(). */
  exitAtomic(proc: Process): void {
    if (this.atomicDepth(proc) <= 0) throw new Error(`${proc.name}: preempt_enable without preempt_disable`);
    this.noSleep[proc.pid]!--;
  }

  private growTables(): void {
    const capacity = this.noSleep.length * 2;
    const noSleep = new Uint16Array(capacity);
    noSleep.set(this.noSleep);
    this.noSleep = noSleep;
    const has = new Uint8Array(capacity);
    has.set(this.hasResumeValue);
    this.hasResumeValue = has;
  }

  /** Records a "sleeping function called from invalid context" and lets the operation proceed. */
  violation(proc: Process, op: string): void {
    this.contextViolations.push({
      tNs: this.nowNs,
      procUid: proc.uid,
      procName: proc.name,
      ctx: proc.ctx,
      atomicDepth: this.atomicDepth(proc),
      op,
    });
    this.emit("ctx.violation", proc.uid, -1, 0);
  }

  /** Registers a primitive so events can name it; returns its id. */
  registerObject(name: string): number {
    this.objectNameList.push(name);
    return this.objectNameList.length - 1;
  }

  objectName(objectId: number): string {
    return this.objectNameList[objectId] ?? `#${objectId}`;
  }

  /** Every registered primitive's name, indexed by object id. */
  objectNames(): readonly string[] {
    return this.objectNameList;
  }

  /** Reports a state change to the sink, if any. */
  emit(kind: EngineEventKind, procUid: number, objectId: number, arg: number): void {
    if (this.sink !== null) this.sink.onEngineEvent(kind, this.nowNs, procUid, objectId, arg);
  }

  /** Processes that exist and are not runnable: parked on a primitive. */
  blockedCount(): number {
    return this.live - this.queue.size - (this.batch.length - this.batchPos);
  }

  /** Processes waiting in the queue to run (now or at a later time); the running one is not among them. */
  get scheduledCount(): number {
    return this.queue.size + (this.batch.length - this.batchPos);
  }

  /** Processes that have been spawned and not yet exited. */
  get liveProcesses(): number {
    return this.live;
  }
}
