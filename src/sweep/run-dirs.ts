import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { SweepResults } from "./results.ts";

/** Where kept run directories wait between their old id and their new one. */
const STAGING = ".moving";

/**
 * Brings DIR/runs/ in line with results.sqlite after a resume's reconcile (or after one a crash
 * cut short): kept runs' directories move to their new ids, and every other entry goes (removed
 * runs, runs that re-run, stale directories of killed runs). Two phases, each safe to repeat:
 * "stage" moves each directory under runs/.moving/NEW_ID and deletes what no kept run owns;
 * "place" moves the staged ones to runs/NEW_ID. The phase is stored only once a phase is done.
 */
export function finishRunDirMoves(results: SweepResults, runsDir: string): void {
  const { phase, moves, recordedIds } = results.pendingMoves();
  if (phase === undefined) return;
  const staging = join(runsDir, STAGING);
  if (phase === "stage") {
    mkdirSync(staging, { recursive: true });
    for (const { from, to } of moves) {
      if (existsSync(join(runsDir, from)) && !existsSync(join(staging, to))) renameSync(join(runsDir, from), join(staging, to));
    }
    const targets = new Set(moves.map((m) => m.to));
    for (const entry of existsSync(runsDir) ? readdirSync(runsDir) : []) {
      if (entry === STAGING || (recordedIds.has(entry) && !targets.has(entry))) continue;
      rmSync(join(runsDir, entry), { recursive: true, force: true });
    }
    results.setMovesPhase("place");
  }
  for (const { to } of moves) if (existsSync(join(staging, to))) renameSync(join(staging, to), join(runsDir, to));
  rmSync(staging, { recursive: true, force: true });
  results.setMovesPhase("");
}
