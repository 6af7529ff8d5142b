import type { Engine, ExecContext } from "../engine/index.ts";
import { PAGE_SIZE } from "../kernel/constants.ts";
import type { KernelState } from "../kernel/state.ts";
import type { ModelEvent } from "../pagemap/events.ts";

/** Someone the run knows to hold a reference or pin on a folio: a pin or get step, say. */
export interface RefHolder {
  /** "cpu0[1] pin": the thread, its step and the step's op. */
  who: string;
  sinceNs: number;
}

/** A CPU fault that can never succeed: what the checker found when it stopped the run. */
export interface HungFault {
  /** The thread and the step it is in: "cpu1[0] read". */
  thread: string;
  mm: number;
  addr: number;
  vpn: number;
  /** The device folio the entry names, and its page frame number in device memory. */
  folio: number;
  pfn: number;
  /** When the access first faulted on this page, and how many faults it took until the stop. */
  sinceNs: number;
  faults: number;
  /** Who the run knows holds the page, oldest first; empty when the holder is not a workload step. */
  holders: RefHolder[];
  refcount: number;
  pincount: number;
  /** The thread holding the folio's lock, or null when it is not locked. */
  lockedBy: string | null;
  /** One sentence for the user. */
  message: string;
}

interface Attempt {
  mm: number;
  addr: number;
  folio: number;
  /** The fault's outcome depended on time (the timeslice, a policy hold): a later retry may differ. */
  timed: boolean;
  sinceNs: number;
  faults: number;
  /** Between handle_mm_fault.begin and .end. */
  inProgress: boolean;
  /** The epoch when the fault began: a different one at its end means someone changed something meanwhile. */
  beginEpoch: number;
  /** Futile faults in a row, all in epoch `futileEpoch` (-1: the last fault was not futile). */
  streak: number;
  futileEpoch: number;
}

export interface HungFaultOptions {
  threadName(uid: number): string;
  holders(folio: number): RefHolder[];
}

/**
 * Detects a CPU access that re-faults forever. A thread's fault is futile when handle_mm_fault
 * returned "retry" with its device-private entry unchanged, no time-dependent decision (a
 * timeslice or policy hold) on the way, and nothing outside a fault happened meanwhile:
 * retrying does the same again unless someone else changes the state. When a thread with two
 * futile faults in a row faults again, nothing else having happened, and the only processes
 * scheduled are such re-faulters, nothing that could drop the hold (an unpin or irq_put step,
 * an interrupt's put, a workqueue item, a timer, another thread's step) is left to run: the
 * access can never complete.
 * The checker then stops the engine and keeps its diagnosis. Not part of the model: it only
 * reads the log, the state and the engine's queue length.
 */
export class HungFaultCheck {
  found: HungFault | null = null;
  private readonly attempts = new Map<number, Attempt>();
  /** Each thread's step under way ("cpu0[2] read"), from the workload's step markers. */
  private readonly steps = new Map<number, string>();
  /**
   * Bumped by every event that may change what a re-fault finds: any event outside a fault, and
   * the end of a fault that was not futile. A futile fault's own events (lock, get, put, a
   * migration attempt that restores the entry) do not bump it.
   */
  private epoch = 0;
  /** Threads spinning towards a retry after two or more futile faults in the current epoch. */
  private settled = 0;

  constructor(
    private readonly engine: Engine,
    private readonly state: () => KernelState,
    private readonly options: HungFaultOptions,
  ) {}

  /** Any log's events: the model's are read, a workload's step markers end a thread's attempt, the rest are ignored. */
  onModelEvent(_seq: number, tNs: number, thread: number, _ctx: ExecContext, event: { kind: string }): void {
    const ev = event as ModelEvent | { kind: "step.begin" | "step.end"; op: string; step: number };
    switch (ev.kind) {
      case "handle_mm_fault.begin":
        return this.faultBegin(tNs, thread, ev.mm, ev.addr);
      case "handle_mm_fault.end":
        return this.faultEnd(thread, ev.outcome === "ok");
      case "step.begin":
        this.steps.set(thread, `${this.options.threadName(thread)}[${ev.step}] ${ev.op}`);
        break;
      case "step.end":
        this.steps.delete(thread);
        break;
      case "cpu_fault.timeslice_spin":
      case "cpu_fault.policy_hold": {
        const a = this.attempts.get(thread);
        if (a !== undefined) a.timed = true;
        break;
      }
    }
    if (this.attempts.get(thread)?.inProgress === true) return; // judged at the fault's end
    if (ev.kind === "step.begin" || ev.kind === "step.end") this.attempts.delete(thread);
    this.bump();
  }

  private bump(): void {
    this.epoch++;
    this.settled = 0;
  }

  private faultBegin(tNs: number, thread: number, mm: number, addr: number): void {
    const a = this.attempts.get(thread);
    const again = a !== undefined && a.mm === mm && a.addr === addr;
    if (again && a.futileEpoch === this.epoch && a.streak >= 2) {
      // Nothing changed since this thread's futile faults, and nobody but such re-faulters is left to run.
      if (this.engine.scheduledCount === this.settled - 1) {
        this.found = this.diagnose(thread, a);
        this.engine.stop();
        return;
      }
      this.settled--;
    }
    const vpn = Math.floor(addr / PAGE_SIZE);
    const ptes = this.state().mms.get(mm)?.ptes;
    const folio = ptes?.kind(vpn) === "device-private" ? ptes.folio(vpn) : -1;
    this.attempts.set(thread, {
      mm, addr, folio, timed: false, sinceNs: again ? a.sinceNs : tNs, faults: (again ? a.faults : 0) + 1,
      inProgress: true, beginEpoch: this.epoch, streak: again ? a.streak : 0, futileEpoch: again ? a.futileEpoch : -1,
    });
  }

  private faultEnd(thread: number, retried: boolean): void {
    const a = this.attempts.get(thread);
    if (a === undefined) return this.bump();
    a.inProgress = false;
    const vpn = Math.floor(a.addr / PAGE_SIZE);
    const ptes = this.state().mms.get(a.mm)?.ptes;
    const undisturbed = a.beginEpoch === this.epoch;
    const futile = retried && undisturbed && a.folio !== -1 && !a.timed && ptes?.kind(vpn) === "device-private" && ptes.folio(vpn) === a.folio;
    if (!futile) {
      a.streak = 0;
      a.futileEpoch = -1;
      return this.bump();
    }
    a.streak = a.futileEpoch === this.epoch ? a.streak + 1 : 1;
    a.futileEpoch = this.epoch;
    if (a.streak >= 2) this.settled++;
  }

  private diagnose(thread: number, a: Attempt): HungFault {
    const folios = this.state().folios;
    const vpn = Math.floor(a.addr / PAGE_SIZE);
    const lockOwner = folios.get(a.folio)!.lockOwner;
    const hung: Omit<HungFault, "message"> = {
      thread: this.steps.get(thread) ?? this.options.threadName(thread),
      mm: a.mm,
      addr: a.addr,
      vpn,
      folio: a.folio,
      pfn: folios.pfn(a.folio),
      sinceNs: a.sinceNs,
      faults: a.faults + 1, // the fault just begun is one of them
      holders: this.options.holders(a.folio),
      refcount: folios.refcount(a.folio),
      pincount: folios.pincount(a.folio),
      lockedBy: lockOwner === -1 ? null : this.options.threadName(lockOwner),
    };
    return { ...hung, message: hungMessage(hung) };
  }
}

const ms = (ns: number): string => `${(ns / 1e6).toFixed(3)} ms`;
const hex = (n: number): string => `0x${n.toString(16)}`;

function hungMessage(h: Omit<HungFault, "message">): string {
  const held =
    h.holders.length > 0
      ? h.holders.map((x) => `${x.who} holds it since ${ms(x.sinceNs)}`).join(", ")
      : h.lockedBy !== null
        ? `${h.lockedBy} holds its lock`
        : `a reference no workload step took holds it (refcount ${h.refcount}, pincount ${h.pincount})`;
  return (
    `hung: ${h.thread}: the access to ${hex(h.addr)} (mm ${h.mm}, vpn ${hex(h.vpn)}, device pfn ${h.pfn}) has faulted since ${ms(h.sinceNs)} ` +
    `(${h.faults} faults) and can never complete: the page cannot migrate back while ${held}, and nothing left to run can drop it`
  );
}
