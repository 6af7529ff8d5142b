/**
 * What each metric the report knows means, with its unit: axis labels and table headers come from
 * here, so a unit is written once. Metrics not listed still appear in the table under their name.
 */
export interface MetricInfo {
  /** Short label with the unit, for axes and headers: "GPU work (accesses/s)". */
  label: string;
}

export const METRICS: Readonly<Record<string, MetricInfo>> = {
  gpu_work_per_s: { label: "GPU work (accesses/s)" },
  cpu_work_per_s: { label: "CPU work (accesses/s)" },
  migrations_to_device: { label: "migrations to device" },
  migrations_to_system: { label: "migrations to system" },
  bytes_to_device: { label: "bytes to device (B)" },
  bytes_to_system: { label: "bytes to system (B)" },
  cpu_spin_ms: { label: "CPU spin time (ms)" },
  cpu_sleep_ms: { label: "CPU sleep time (ms)" },
  gpu_stall_ms: { label: "GPU stall time (ms)" },
  ping_pongs: { label: "ping-pongs" },
  livelock: { label: "livelock (0/1)" },
  vram_peak_bytes: { label: "VRAM peak (B)" },
  copy_utilisation: { label: "copy engine utilisation (0–1)" },
  context_violations: { label: "context violations" },
  sim_end_ms: { label: "simulated time (ms)" },
  gpu_faults: { label: "GPU faults" },
  faults_in_steps: { label: "CPU faults" },
  gpu_fault_p99_us: { label: "GPU fault p99 (µs)" },
  cpu_fault_p99_us: { label: "CPU fault p99 (µs)" },
};

/** The label of a metric: its catalogue entry, else its own name. */
export function metricLabel(name: string): string {
  return METRICS[name]?.label ?? name;
}

/** Fault-latency percentiles, in the order the latency chart draws them. */
export const PERCENTILES = [
  { key: "p50", label: "p50" },
  { key: "p90", label: "p90" },
  { key: "p99", label: "p99" },
  { key: "p999", label: "p99.9" },
] as const;

/** The metric holding one side's fault-latency percentile: `gpu_fault_p99_us`. */
export const latencyMetric = (side: "gpu" | "cpu", percentile: string): string => `${side}_fault_${percentile}_us`;

/**
 * The columns of the configuration table, in order; only those the results have are shown. The
 * last three are figures every sweep so far records, so even older results get a useful table.
 */
export const TABLE_METRICS = [
  "gpu_work_per_s",
  "cpu_work_per_s",
  "migrations_to_device",
  "migrations_to_system",
  "ping_pongs",
  "livelock",
  "gpu_fault_p99_us",
  "cpu_fault_p99_us",
  "cpu_spin_ms",
  "cpu_sleep_ms",
  "gpu_stall_ms",
  "sim_end_ms",
  "gpu_faults",
  "faults_in_steps",
] as const;
