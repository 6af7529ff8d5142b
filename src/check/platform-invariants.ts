import { bindingProblem, type WorldState } from "../platform/events.ts";
import { copyEngineProblems } from "../platform/copy-state.ts";
import { vramProblems } from "../platform/vram-state.ts";

/**
 * Invariants of the driver's state that the log event-sources (src/platform/events.ts): every
 * bound GPU mapping still points at the pages the CPU page tables map (the MMU notifier
 * invalidates a range before the CPU side changes any of its pages), and VRAM is held once, by
 * live allocations, covering every live device page (vramProblems); the copy engine's running
 * jobs are its busy channels (copyEngineProblems).
 */
export function checkPlatformInvariants(state: WorldState): string[] {
  const problems: string[] = [];
  for (const range of state.svmRanges.values()) {
    if (range.boundTo === null) {
      if (range.folios.length > 0 || range.readOnly) problems.push(`svm range ${range.id}: unbound but keeps ${range.folios.length} folios${range.readOnly ? ", read-only" : ""}`);
      continue;
    }
    const problem = bindingProblem(state, range, range.folios, range.boundTo);
    if (problem !== null) problems.push(`svm range ${range.id}: bound to ${problem}`);
  }
  problems.push(...vramProblems(state), ...copyEngineProblems(state));
  return problems;
}
