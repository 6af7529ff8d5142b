import { applyModelEvent } from "../pagemap/apply.ts";
import type { ModelEvent } from "../pagemap/events.ts";
import { applyPlatformEvent, isPlatformEvent, type PlatformEvent, type WorldState } from "../platform/events.ts";
import type { AccessEvent } from "./events.ts";

/**
 * Every step operation a workload may use, in a fixed order (the log's dictionary). The workload
 * language (src/workload/schema.ts) checks at compile time that its ops are exactly these.
 */
export const STEP_OPS = [
  "read", "write", "atomic", "populate", "munmap", "mmap", "mprotect", "mremap", "evict",
  "pin", "unpin", "get", "irq_put", "unbind", "exit", "fork", "sleep", "wait",
] as const;
export type StepOp = (typeof STEP_OPS)[number];

/**
 * A workload step's start and its outcome: what the user asked for and what it returned. They
 * change no model state; they are in the log so that analysis can pair a step with the kernel
 * work it caused, and so that replay knows where steps start and end.
 */
export type WorkloadEvent =
  | { kind: "step.begin"; op: StepOp; step: number }
  | { kind: "step.end"; op: StepOp; step: number; result: string };

/** Everything a run's log holds besides the engine's own events. */
export type RunEvent = ModelEvent | PlatformEvent | AccessEvent | WorkloadEvent;
export type RunEventKind = RunEvent["kind"];

/** The apply function of a run's log: the model's, the platform's, and workload and access markers (no change). */
export function applyRunEvent(state: WorldState, ev: RunEvent): void {
  if (ev.kind === "step.begin" || ev.kind === "step.end" || ev.kind === "access.begin" || ev.kind === "access.end") return;
  if (isPlatformEvent(ev)) applyPlatformEvent(state, ev);
  else applyModelEvent(state, ev as ModelEvent);
}
