/**
 * timeslice-refault.yaml with its write / populate / read-back repeated every 20 ms: about
 * 72,000 events per cycle. The event-log benchmarks and the flat-memory test scale it.
 */
export function refaultWorkloadText(cycles: number, description = "timeslice-refault, repeated"): string {
  const cpu: string[] = [];
  const gpu: string[] = [];
  for (let k = 0; k < cycles; k++) {
    cpu.push(`      - { op: write, addr: 0x4000000, pages: 512, at: ${k * 20 + 0.5}ms }`, `      - { op: read, addr: 0x4010000, at: ${k * 20 + 3}ms }`);
    gpu.push(`      - { op: populate, start: 0x4000000, end: 0x4200000, timesliceMs: 5, at: ${k * 20 + 1}ms }`);
  }
  return [
    `description: ${description}`,
    "seed: 1",
    "model: { variant: seed, hz: 250 }",
    "mappings:",
    "  - { addr: 0x4000000, size: 2MiB }",
    "threads:",
    "  - name: cpu0",
    "    steps:",
    ...cpu,
    "  - name: gpu0",
    "    ctx: gpu",
    "    steps:",
    ...gpu,
    "",
  ].join("\n");
}
