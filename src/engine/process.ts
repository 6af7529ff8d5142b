import type { ExecContext } from "./context.ts";
import type { EngineEventKind } from "./trace.ts";

/**
 * What processes and operations need of the engine. Declared here, implemented by Engine, so
 * that this file depends on nothing above it.
 */
export interface Scheduler {
  emit(kind: EngineEventKind, procUid: number, objectId: number, arg: number): void;
  scheduleAfter(proc: Process, ns: number): void;
  maySleep(proc: Process): boolean;
  atomicDepth(proc: Process): number;
}

/**
 * What a process may yield to the engine.
 *
 * - a number: sleep that many nanoseconds (`yield sleep(ns)`), which may sleep;
 * - SPIN: burn CPU time (`yield spin(ns)`), allowed in any context;
 * - an Op: a blocking operation of a primitive (`yield mutex.lock()`).
 */
export type Yieldable = number | Op;

/** A simulated thread of execution: a generator the engine resumes. */
export type ProcessBody<R = void> = Generator<Yieldable, R, unknown>;

/**
 * A blocking operation. `begin` runs when a process yields it: it returns true when the process
 * may go on at once (the lock was free), or parks the process and returns false; the primitive
 * later wakes it with Engine.wake.
 *
 * Ops are allocated once per primitive, not per call, so blocking allocates nothing.
 */
export interface Op {
  /** Whether this operation may sleep (kernel `might_sleep()`); checked against the context. */
  readonly mightSleep: boolean;
  /** Short name used in context-violation reports, e.g. "mutex_lock". */
  readonly opName: string;
  begin(engine: Scheduler, proc: Process): boolean;
}

/** A simulated thread: CPU thread, GPU thread, interrupt handler or workqueue worker. */
export class Process {
  /** True once the generator has returned or thrown. */
  exited = false;
  /** The generator's return value, once exited. */
  result: unknown = undefined;
  /** Processes waiting in Engine.join for this one to exit. */
  joiners: Process[] | null = null;

  constructor(
    readonly engine: Scheduler,
    /** Slot in the engine's process table; reused after exit. */
    readonly pid: number,
    /** Monotonic id, never reused: what events and reports name. */
    readonly uid: number,
    readonly name: string,
    readonly ctx: ExecContext,
    readonly body: ProcessBody<unknown>,
  ) {}

  /** Whether this process may sleep right now (kernel: !in_atomic() && !in_interrupt()). */
  get maySleep(): boolean {
    return this.engine.maySleep(this);
  }

  /** Nesting depth of atomic sections (spinlocks held, preemption disabled). */
  get atomicDepth(): number {
    return this.engine.atomicDepth(this);
  }
}

/** `yield sleep(ns)`: sleep for a number of nanoseconds (msleep/usleep_range/waiting on HW). */
export function sleep(ns: number): number {
  return ns;
}

/** Scratch slot for `spin`: the duration is read by the engine at the very yield that follows. */
let spinScratchNs = 0;

/** The token `spin` returns; the engine reads the duration from the scratch slot. */
export const SPIN: Op = {
  mightSleep: false,
  opName: "spin",
  begin(engine: Scheduler, proc: Process): boolean {
    engine.emit("proc.spin", proc.uid, -1, spinScratchNs);
    engine.scheduleAfter(proc, spinScratchNs);
    return false;
  },
};

/**
 * `yield spin(ns)`: busy CPU work that does not sleep (a copy loop, udelay, an IRQ handler's
 * own running time). Allowed in every context.
 */
export function spin(ns: number): Op {
  spinScratchNs = ns;
  return SPIN;
}
