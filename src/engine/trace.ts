import type { ExecContext } from "./context.ts";

/**
 * The hook through which the engine reports every state change it makes.
 *
 * Arguments are positional numbers and interned strings so that reporting allocates nothing;
 * a sink that wants objects builds them itself. With no sink attached the engine pays one null
 * check per change.
 */
export interface EngineSink {
  /**
   * @param kind what happened, e.g. "mutex.acquire" (see ENGINE_EVENT_KINDS)
   * @param tNs simulated time in nanoseconds
   * @param procUid the process it happened to (its never-reused uid), or -1
   * @param objectId the primitive involved (Engine.objectName resolves it), or -1
   * @param arg a kind-specific number: a duration in ns, a count, a flag
   */
  onEngineEvent(kind: EngineEventKind, tNs: number, procUid: number, objectId: number, arg: number): void;
  /** A process was created (just before its proc.spawn event): the name and context of `procUid`. */
  onSpawn?(procUid: number, name: string, ctx: ExecContext): void;
}

/** Every kind of engine event, with what its `arg` carries. */
export const ENGINE_EVENT_KINDS = {
  "proc.spawn": "process created; arg = 0",
  "proc.exit": "process returned; arg = 0",
  "proc.sleep": "process sleeps; arg = duration ns",
  "proc.spin": "process burns CPU without sleeping; arg = duration ns",
  "proc.block": "process parks on a primitive (objectId); arg = 0",
  "proc.wake": "a parked process is made runnable; arg = 0",
  "ctx.violation": "an operation that may sleep ran where sleeping is invalid; arg = 0",
  "mutex.acquire": "mutex taken; arg = 1 if the process had to wait",
  "mutex.release": "mutex released; arg = waiters left",
  "spinlock.acquire": "spinlock taken (holder now atomic); arg = 1 if it had to spin",
  "spinlock.release": "spinlock released; arg = spinners left",
  "rwsem.acquire_read": "rwsem taken for read; arg = readers holding after",
  "rwsem.acquire_write": "rwsem taken for write; arg = 0",
  "rwsem.release_read": "reader leaves; arg = readers holding after",
  "rwsem.release_write": "writer leaves; arg = 0",
  "completion.complete": "complete(); arg = done count after (-1: complete_all)",
  "completion.consume": "a wait passed without sleeping; arg = done count after (-1: complete_all)",
  "completion.complete_all": "complete_all(); arg = waiters released",
  "completion.reinit": "reinit_completion(); arg = 0",
  "work.queue": "work queued; arg = 1 if accepted, 0 if already pending",
  "work.start": "a worker starts the work; arg = queue-to-execute latency ns",
  "work.end": "the work returned; arg = 0",
  "server.acquire": "a device channel taken; arg = busy channels after",
  "server.release": "a device channel freed; arg = busy channels after",
} as const;

export type EngineEventKind = keyof typeof ENGINE_EVENT_KINDS;

/** A sink that keeps every event as an object: for tests and small runs only. */
export class RecordingSink implements EngineSink {
  readonly events: { kind: EngineEventKind; tNs: number; procUid: number; objectId: number; arg: number }[] = [];

  onEngineEvent(kind: EngineEventKind, tNs: number, procUid: number, objectId: number, arg: number): void {
    this.events.push({ kind, tNs, procUid, objectId, arg });
  }

  kinds(): EngineEventKind[] {
    return this.events.map((e) => e.kind);
  }
}
