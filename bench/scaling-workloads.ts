/**
 * The workloads of bench/scaling.ts, as YAML text. Each series keeps the TOTAL work constant as N
 * grows (the same number of accesses, or of 2 MiB range faults), so that events/s and ns/event
 * compare like with like: only the number of threads, or of live ranges, changes.
 *
 * All run on the default platform (xe-pcie4x8-iommu: 12 GiB of VRAM, so nothing is evicted).
 */

const BASE = 0x100000000;
const MIB = 1024 * 1024;
const hex = (n: number) => `0x${n.toString(16)}`;

/** The accesses each of N threads makes when `total` are shared out (total must divide by N). */
function perThread(total: number, n: number): number {
  if (total % n !== 0) throw new Error(`scaling: ${total} accesses do not divide among ${n} threads`);
  return total / n;
}

/**
 * N GPU threads (one entry, `count: N`, ctx gpu), `total / N` random 4 KiB writes each over one
 * shared mapping of `mappingMiB`: the first write to each 2 MiB chunk faults it into VRAM (a full
 * Xe GPU SVM fault), every other write goes through the bound range.
 */
export function gpuThreadsWorkload(n: number, total: number, mappingMiB: number): string {
  return [
    `description: scaling, ${n} GPU threads sharing ${total} random writes over ${mappingMiB} MiB (bench/scaling.ts)`,
    "seed: 1",
    "platform: xe-pcie4x8-iommu",
    "mappings:",
    `  - { addr: ${hex(BASE)}, size: ${mappingMiB}MiB }`,
    "threads:",
    "  - name: gpu",
    "    ctx: gpu",
    `    count: ${n}`,
    `    pattern: { kind: random, access: write, addr: ${hex(BASE)}, size: ${mappingMiB}MiB, count: ${perThread(total, n)} }`,
    "",
  ].join("\n");
}

/**
 * N CPU threads (`count: N`), `total / N` random 4 KiB writes each over one shared mapping of
 * `mappingMiB` (4 KiB pages, no THP): a first touch takes a page fault, later writes hit.
 */
export function cpuThreadsWorkload(n: number, total: number, mappingMiB: number): string {
  return [
    `description: scaling, ${n} CPU threads sharing ${total} random writes over ${mappingMiB} MiB (bench/scaling.ts)`,
    "seed: 1",
    "platform: xe-pcie4x8-iommu",
    "mappings:",
    `  - { addr: ${hex(BASE)}, size: ${mappingMiB}MiB }`,
    "threads:",
    "  - name: cpu",
    `    count: ${n}`,
    `    pattern: { kind: random, access: write, addr: ${hex(BASE)}, size: ${mappingMiB}MiB, count: ${perThread(total, n)} }`,
    "",
  ].join("\n");
}

/**
 * N separate 2 MiB mappings (4 MiB apart, so they stay N VMAs), live at once. A GPU thread writes
 * `pagesPerRange` pages at the start of each (the first faults the whole 2 MiB range into VRAM: N
 * SVM ranges and N devmem allocations exist), then a CPU thread munmaps all N and mmaps them again
 * (freeing the device memory), `totalFaults / N` rounds: every N takes the same `totalFaults`
 * range faults, munmaps and mmaps, with N ranges alive at the peak of each round.
 */
export function rangesWorkload(n: number, totalFaults: number, pagesPerRange: number): string {
  const rounds = perThread(totalFaults, n);
  const addr = (i: number) => hex(BASE + i * 4 * MIB);
  const gpu: string[] = [];
  const cpu: string[] = [];
  for (let r = 0; r < rounds; r++) {
    // The GPU writes every range, then (after the first round) waits for the CPU's re-mmap.
    if (r > 0) gpu.push(`      - { op: wait, thread: cpu, step: ${cpu.length - 1} }`);
    for (let i = 0; i < n; i++) gpu.push(`      - { op: write, addr: ${addr(i)}, pages: ${pagesPerRange} }`);
    cpu.push(`      - { op: wait, thread: gpu, step: ${gpu.length - 1} }`);
    for (let i = 0; i < n; i++) cpu.push(`      - { op: munmap, addr: ${addr(i)}, size: 2MiB }`);
    for (let i = 0; i < n; i++) cpu.push(`      - { op: mmap, addr: ${addr(i)}, size: 2MiB }`);
  }
  const mappings = Array.from({ length: n }, (_, i) => `  - { addr: ${addr(i)}, size: 2MiB }`);
  return [
    `description: scaling, ${n} live 2 MiB ranges, ${totalFaults} GPU range faults in ${rounds} rounds (bench/scaling.ts)`,
    "seed: 1",
    "platform: xe-pcie4x8-iommu",
    "mappings:",
    ...mappings,
    "threads:",
    "  - name: gpu",
    "    ctx: gpu",
    "    steps:",
    ...gpu,
    "  - name: cpu",
    "    steps:",
    ...cpu,
    "",
  ].join("\n");
}
