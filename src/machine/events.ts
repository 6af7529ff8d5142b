import type { ModelEvent } from "../pagemap/events.ts";
import type { GpuAccess, PlatformEvent } from "../platform/events.ts";

/**
 * A workload thread's page accesses, one begin and one end each (CPU or GPU: the thread's
 * context says which). They change no state; they are in the log so that the run's work,
 * progress and fault latencies can be computed from it (src/machine/run-metrics.ts).
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
