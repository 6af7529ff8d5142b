// The CPU writes 2 MiB, the GPU migrates it to VRAM, a step pins (or gets) one device page, and
// a CPU thread then reads that page: the page cannot migrate back while the reference is held.
export function heldPageWorkload(holdOp: "pin" | "get", release: string): string {
  return `description: a device page held while the CPU reads it (${holdOp}${release === "" ? ", never released" : ""})
seed: 1
model: { hz: 1000 }
mappings:
  - { addr: 0x4000000, size: 2MiB }
threads:
  - name: cpu0
    steps:
      - { op: write, addr: 0x4000000, pages: 512 }
      - { op: ${holdOp}, addr: 0x4003000, at: 2ms }
${release}
  - name: cpu1
    steps:
      - { op: read, addr: 0x4003000, at: 3ms }
  - name: gpu0
    ctx: gpu
    steps:
      - { op: populate, start: 0x4000000, end: 0x4200000, at: 1ms }
`;
}
