import type { RunFigures } from "./run-metrics.ts";

/** Both sides with accesses in flight and neither completing one for this long flags a livelock. */
export const LIVELOCK_WINDOW_NS = 10_000_000;

/** What the run's checks found that the log does not say: they are run.json's `result`. */
export interface RunChecks {
  contextViolations: number;
  invariantsBroken: number;
  failedSteps: number;
}

const us = (ns: number) => ns / 1000;
const ms = (ns: number) => ns / 1e6;

/**
 * A run's metrics by name (results.sqlite `metrics`, run.json `metrics`, `pagesim metrics`);
 * docs/metrics.md defines each and names the events it comes from. Latency percentiles come from
 * HdrHistograms (3 significant digits).
 */
export function metricTable(r: RunFigures, checks: RunChecks): Record<string, number> {
  const w = r.work;
  const seconds = r.endNs / 1e9;
  const perSecond = (n: number) => (seconds > 0 ? n / seconds : 0);
  const m: Record<string, number> = {
    sim_end_ms: ms(r.endNs),
    events: r.events,
    steps: r.steps,
    cpu_accesses: w.cpuAccesses,
    gpu_accesses: w.gpuAccesses,
    cpu_access_failures: w.cpuFailures,
    gpu_access_failures: w.gpuFailures,
    cpu_work_per_s: perSecond(w.cpuAccesses),
    gpu_work_per_s: perSecond(w.gpuAccesses),
    faults_in_steps: w.accessFaults,
    gpu_faults: r.gpuFaults.length,
    gpu_fault_errors: r.gpuFaults.filter((f) => f.ret !== "0").length,
    gpu_fault_p50_us: us(w.gpuFaultLatency.p50),
    gpu_fault_p90_us: us(w.gpuFaultLatency.p90),
    gpu_fault_p99_us: us(w.gpuFaultLatency.p99),
    gpu_fault_p999_us: us(w.gpuFaultLatency.p999),
    gpu_fault_max_us: us(w.gpuFaultLatency.max),
    gpu_migrate_us: r.gpuFaults.reduce((n, f) => n + us(f.migrateNs), 0),
    cpu_faulting_accesses: w.cpuFaultLatency.count,
    cpu_fault_p50_us: us(w.cpuFaultLatency.p50),
    cpu_fault_p90_us: us(w.cpuFaultLatency.p90),
    cpu_fault_p99_us: us(w.cpuFaultLatency.p99),
    cpu_fault_p999_us: us(w.cpuFaultLatency.p999),
    cpu_fault_max_us: us(w.cpuFaultLatency.max),
    cpu_spin_ms: ms(w.cpuSpinNs),
    cpu_sleep_ms: ms(w.cpuSleepNs),
    migrations_to_device: w.migrationsToDevice,
    migrations_to_system: w.migrationsToSystem,
    bytes_to_device: w.bytesToDevice,
    bytes_to_system: w.bytesToSystem,
    ping_pongs: w.pingPongs,
    no_progress_ms: ms(w.noProgressNs),
    gpu_no_progress_ms: ms(w.gpuNoProgressNs),
    cpu_no_progress_ms: ms(w.cpuNoProgressNs),
    both_stuck_ms: ms(w.bothStuckNs),
    livelock: w.bothStuckNs >= LIVELOCK_WINDOW_NS ? 1 : 0,
    vram_peak_bytes: w.vramPeakBytes,
    context_violations: checks.contextViolations,
    invariants_broken: checks.invariantsBroken,
    lost_writes: r.lostWrites.length,
    kernel_bugs: r.kernelBugs.length,
    failed_steps: checks.failedSteps,
  };
  const p = r.platformStats;
  if (p !== null) {
    const delays = [...p.releaseDelaysNs].sort((a, b) => a - b);
    m.gpu_stall_ms = ms(p.gpuStallNs);
    m.gpu_throttles = p.gpuThrottles;
    m.gpu_throttle_ms = ms(p.gpuThrottleNs);
    m.notifier_block_ms = ms(p.notifierBlockNs);
    m.cpu_sleep_ms = (m.cpu_sleep_ms ?? 0) + m.notifier_block_ms; // a migration held in the notifier sleeps, as a throttled fault does
    m.dma_maps = p.dmaMaps;
    m.copy_bytes = p.copyBytes;
    m.copy_utilisation = p.copyUtilisation;
    m.vram_evictions = p.vramEvictions;
    m.irq_puts = p.irqPuts;
    m.release_delay_p50_us = delays.length === 0 ? 0 : us(delays[Math.floor(delays.length / 2)]!);
    m.release_delay_max_us = delays.length === 0 ? 0 : us(delays[delays.length - 1]!);
  }
  return m;
}
