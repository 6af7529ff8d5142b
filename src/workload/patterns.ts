import { RandomStreams } from "../engine/index.ts";
import { PAGE_SIZE } from "../kernel/constants.ts";
import type { AccessPattern, WorkloadStep } from "./schema.ts";

/**
 * Expands an access pattern into the steps it stands for. The same pattern and seed always give
 * the same steps, so a run stays a function of its inputs.
 */
export function expandPattern(p: AccessPattern, thread: string, workloadSeed: number): WorkloadStep[] {
  const regionPages = Math.floor(p.size / PAGE_SIZE);
  const span = Math.min(p.pages, regionPages);
  const slots = regionPages - span + 1; // first pages an access of `span` pages can start at
  // The run's seed and the pattern's own: repetitions of a sweep draw different pages.
  const random = new RandomStreams(workloadSeed).stream(`pattern:${thread}:${p.seed}`);
  const hotSlots = Math.max(1, Math.floor(slots * p.hotFraction));
  const stridePages = Math.max(1, Math.floor((p.stride ?? PAGE_SIZE) / PAGE_SIZE));
  const steps: WorkloadStep[] = [];
  for (let i = 0; i < p.count; i++) {
    let page: number;
    switch (p.kind) {
      case "sequential":
        page = (i * span) % slots;
        break;
      case "strided":
        page = (i * stridePages) % slots;
        break;
      case "random":
        page = random.int(0, slots - 1);
        break;
      case "hotcold":
        page = random.uniform() < p.hotProbability || hotSlots === slots ? random.int(0, hotSlots - 1) : random.int(hotSlots, slots - 1);
        break;
    }
    const timing = i === 0 ? (p.at === undefined ? {} : { at: p.at }) : p.every > 0 ? { after: p.every } : {};
    steps.push({ op: p.access, addr: p.addr + page * PAGE_SIZE, pages: span, ...timing });
  }
  return steps;
}
