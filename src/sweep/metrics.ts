import type { RunReport } from "../workload/run.ts";

const pct = (xs: number[], q: number): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/**
 * The per-run figures a sweep tabulates (results.sqlite `metrics`), read from a run's report. The
 * full metric set with its definitions comes with the policies (issue #7); these are the counts
 * and latencies the model already reports.
 */
export function runMetrics(r: RunReport): Record<string, number> {
  const gpuTotals = r.gpuFaults.map((f) => f.totalNs / 1000);
  const cpuFaults = r.steps.reduce((n, s) => n + (s.faults ?? 0), 0);
  const m: Record<string, number> = {
    sim_end_ms: r.endNs / 1e6,
    events: r.events,
    steps: r.steps.length,
    faults_in_steps: cpuFaults,
    gpu_faults: r.gpuFaults.length,
    gpu_fault_p50_us: pct(gpuTotals, 0.5),
    gpu_fault_p99_us: pct(gpuTotals, 0.99),
    gpu_fault_max_us: pct(gpuTotals, 1),
    gpu_migrate_us: r.gpuFaults.reduce((n, f) => n + f.migrateNs / 1000, 0),
    gpu_fault_errors: r.gpuFaults.filter((f) => f.ret !== "0").length,
    context_violations: r.contextViolations.length,
    invariants_broken: r.invariants.length,
    lost_writes: r.lostWrites.length,
    kernel_bugs: r.kernelBugs.length,
  };
  const p = r.platformStats;
  if (p !== null) {
    m.dma_maps = p.dmaMaps;
    m.copy_bytes = p.copyBytes;
    m.copy_utilisation = p.copyUtilisation;
    m.vram_evictions = p.vramEvictions;
    m.irq_puts = p.irqPuts;
  }
  return m;
}
