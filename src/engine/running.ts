import type { Engine } from "./engine.ts";
import type { Process } from "./process.ts";

/** The process calling a primitive's non-blocking method (unlock, trylock): it must be one. */
export function runningProcess(engine: Engine, what: string): Process {
  const proc = engine.current;
  if (proc === null) throw new Error(`${what} called outside a simulated process`);
  return proc;
}
