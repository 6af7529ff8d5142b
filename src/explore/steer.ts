import type { CoverageTable } from "./coverage.ts";
import { coverageRows } from "./coverage-report.ts";
import type { Variant } from "./probe.ts";
import type { Enabler } from "./generate.ts";

/**
 * Steering (docs/design/explore.md §2.9): the features that can lead to each exit label. Between
 * epochs, every enabler of a label no run has reached yet has its chance of being switched on
 * doubled (weights scale the generator's ½), so the explorer spends more runs where it has not
 * been. Keyed by the label's text after the function: a fault point's name, or the precondition.
 */
const ENABLERS: readonly [RegExp, readonly Enabler[]][] = [
  [/:err_out:kvcalloc$/, ["fault:kvcalloc"]],
  [/zdd_alloc$/, ["fault:zdd_alloc"]],
  [/^populate_mm:driver:ENOMEM$/, ["fault:vram_alloc"]],
  [/populate_ram_pfn$/, ["fault:folio_alloc_order0", "fault:folio_alloc_order9", "model.deviceThp"]],
  [/:err_finalize:map_pages$/, ["fault:dma_map"]],
  [/copy_to_devmem$/, ["fault:copy_to_devmem"]],
  [/copy_to_ram$/, ["fault:copy_to_ram"]],
  // Pages another thread holds or moves while a migration collects them.
  [/cpages_short$|no_cpages$|no_mpages$|raced_finalizing$|retries_exhausted$/, ["op:pin", "op:irqput", "op:munmap", "op:mremap", "op:cpu", "op:gpuAccess"]],
  [/^migrate_to_ram:(timeslice_spin|policy_hold)$/, ["op:cpu", "op:cpuAtomic", "op:gpu"]],
  [/^evict_to_ram:/, ["op:evict"]],
  [/mmget_failed$|:err_out:no_vma$|:err_out:outside_vma$/, ["op:munmap", "op:mremap", "op:fork"]],
  [/err_finalize:devmem_pages$/, ["model.deviceThp", "model.thp"]],
];

/** The generator weights for the next epoch: ×2 for the enablers of every still-unreached label. */
export function steerWeights(coverage: CoverageTable, variant: Variant): Partial<Record<Enabler, number>> {
  const weights: Partial<Record<Enabler, number>> = {};
  for (const row of coverageRows(coverage, variant)) {
    if (row.runs > 0) continue;
    const label = `${row.fn}:${row.label}`;
    for (const [pattern, enablers] of ENABLERS) if (pattern.test(label)) for (const e of enablers) weights[e] = 2;
  }
  return weights;
}
