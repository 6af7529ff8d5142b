import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A file of the project (e.g. "workloads/sweeps/default.yaml"), found from the directory of the
 * calling script upwards: the bench runs from bench/ (tsx), dist/bench/ or any build directory
 * inside the checkout.
 */
export function projectFile(relative: string, from: string): string {
  let dir = dirname(fileURLToPath(from));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, relative))) return join(dir, relative);
    dir = dirname(dir);
  }
  throw new Error(`bench: ${relative} not found above ${fileURLToPath(from)}`);
}
