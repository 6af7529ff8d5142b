// The modules themselves rather than the engine's index (see single-server-queue.ts).
import { Engine } from "../engine/engine.ts";
import { sleep, type ProcessBody } from "../engine/process.ts";

/**
 * The classic "hold" model for event-list speed: P processes, each sleeping a uniform(0, 1 s)
 * time in a loop, so the future-event list always holds P entries.
 */
export interface HoldOptions {
  processes: number;
  /** Sleeps in total, shared evenly between the processes. */
  totalSleeps: number;
  seed: number;
}

export interface HoldResult {
  sleeps: number;
  endNs: number;
  /** Events the engine processed (process resumptions). */
  steps: number;
}

const HOLD_SCALE_NS = 1_000_000_000;

export function runHold(options: HoldOptions): HoldResult {
  const engine = new Engine({ seed: options.seed });
  const rng = engine.random.stream("hold");
  const perProcess = Math.floor(options.totalSleeps / options.processes);
  let sleeps = 0;

  function* holder(): ProcessBody<void> {
    for (let i = 0; i < perProcess; i++) {
      sleeps++;
      yield sleep(Math.floor(rng.uniform() * HOLD_SCALE_NS));
    }
  }

  for (let p = 0; p < options.processes; p++) engine.spawn("holder", holder());
  const { endNs, steps } = engine.run();
  return { sleeps, endNs, steps };
}
