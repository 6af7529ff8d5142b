/**
 * Execution contexts, as the kernel distinguishes them.
 *
 * Only `irq` forbids sleeping: an operation that may sleep (a sleep, a mutex or rwsem, waiting
 * on a completion, queueing on a device) called from an interrupt handler, or from any context
 * inside a spinlock-style atomic section, is what the kernel reports as "sleeping function
 * called from invalid context". The engine records it as a context violation instead of
 * silently allowing it (see Engine.mightSleep).
 */
export const ExecContext = {
  /** A user thread in the kernel (a CPU page fault, an ioctl). */
  process: "process",
  /** Hard-interrupt context: may not sleep. */
  irq: "irq",
  /** A workqueue worker (kworker): process context, may sleep. */
  workqueue: "workqueue",
  /** A GPU hardware thread, or the driver's GPU fault handler acting for it. */
  gpu: "gpu",
} as const;

export type ExecContext = (typeof ExecContext)[keyof typeof ExecContext];

export const EXEC_CONTEXTS: readonly ExecContext[] = Object.values(ExecContext);
