import type { ModelEvent } from "../pagemap/events.ts";
import type { GpuAccess, PlatformEvent } from "../platform/events.ts";

/**
 * A workload thread's page accesses (CPU or GPU: the thread's context says which). They change no
 * state; they are in the log so that the run's work, progress and fault latencies can be computed
 * from it (src/machine/run-metrics.ts). Only an access that faults is marked, with a begin before
 * its first event and an end after its last. One that needs no fault (a present CPU entry, a valid
 * GPU mapping) is logged as its page.read or page.write alone, which says all the pair would: the
 * access is complete and ok, took no fault, and began at the page event's time, at its page (mm,
 * vpn); the kind (read, write, atomic) is its step's op (step.begin). A CPU one ends at that same
 * time; a GPU one ends after the GPU's access latency (platform.gpu.accessNs), when its thread
 * logs its next event (the next access or step.end), so its end is that event's time. Leaving
 * the pair out of such accesses makes a write-heavy log a third as long.
 */
export type AccessEvent =
  /** A page access starts: a CPU load or store, or a GPU access through GPU SVM. */
  | { kind: "access.begin"; mm: number; addr: number; access: GpuAccess }
  /**
   * The access completed (ok) or failed (a signal for a CPU, an errno for a GPU). stallNs: a GPU
   * access's time from its first fault to its end (0 if it did not fault; 0 for a CPU access).
   */
  | { kind: "access.end"; ok: boolean; stallNs: number };

export type AccessEventKind = AccessEvent["kind"];

/** The events the metrics read: the model's, the platform's, accesses, and workload step markers. */
export type MetricEvent = ModelEvent | PlatformEvent | AccessEvent | { kind: "step.begin" | "step.end" };
