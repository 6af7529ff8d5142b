import { PAGE_SIZE } from "../kernel/constants.ts";
import { expectsSuccess, type Workload } from "./schema.ts";
import { checkPolicySection } from "../policies/registry.ts";

/** A problem the schema cannot see: where (a key path into the file) and what. */
export interface WorkloadProblem {
  path: (string | number)[];
  message: string;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * Checks that need the whole workload: mappings that overlap, steps that touch addresses no
 * mapping (initial or mmap'ed later) covers unless they `expect` an error there, threads of processes that are never forked, and a
 * platform whose VRAM cannot hold even one range chunk. Runs before patterns are expanded, on the
 * threads as the file writes them.
 */
export function validateWorkload(w: Workload): WorkloadProblem[] {
  const problems: WorkloadProblem[] = [];
  // Device THP is the current kernel's (mm v6.19+, drm_pagemap's THP series): the seed has none.
  if (w.model.deviceThp && w.model.variant !== "newest") problems.push({ path: ["model", "deviceThp"], message: `true needs model.variant: newest (the seed kernel has no device-private THP); got variant ${w.model.variant}` });
  const regions: [number, number][] = [];
  w.mappings.forEach((m, i) => {
    for (const [j, other] of w.mappings.entries()) {
      if (j < i && m.addr < other.addr + other.size && other.addr < m.addr + m.size) {
        problems.push({ path: ["mappings", i], message: `[${hex(m.addr)}, ${hex(m.addr + m.size)}) overlaps mappings.${j} [${hex(other.addr)}, ${hex(other.addr + other.size)})` });
      }
    }
    if (m.addr % PAGE_SIZE !== 0) problems.push({ path: ["mappings", i, "addr"], message: `${hex(m.addr)} is not 4 KiB aligned` });
    regions.push([m.addr, m.addr + m.size]);
  });
  for (const t of w.threads) {
    for (const s of t.steps) {
      if (s.op === "mmap") regions.push([s.addr, s.addr + s.size]);
      if (s.op === "mremap") regions.push([s.newAddr, s.newAddr + s.size]);
    }
  }
  const covered = (start: number, end: number) => {
    for (let a = start; a < end; ) {
      const r = regions.find(([s, e]) => a >= s && a < e);
      if (r === undefined) return false;
      a = r[1];
    }
    return true;
  };
  const forks = w.threads.reduce((n, t) => n + t.steps.filter((s) => s.op === "fork").length, 0);
  w.threads.forEach((t, ti) => {
    if (t.process > forks) problems.push({ path: ["threads", ti, "process"], message: `process ${t.process}, but the workload forks only ${forks} (process 0 is the first)` });
    if (t.pattern !== undefined && !covered(t.pattern.addr, t.pattern.addr + t.pattern.size)) {
      problems.push({ path: ["threads", ti, "pattern"], message: `[${hex(t.pattern.addr)}, ${hex(t.pattern.addr + t.pattern.size)}) is outside every mapping` });
    }
    t.steps.forEach((s, si) => {
      const range: [number, number] | null =
        s.op === "read" || s.op === "write" || s.op === "atomic"
          ? [s.addr, s.addr + s.pages * PAGE_SIZE]
          : s.op === "populate"
            ? [s.start, s.end]
            : s.op === "pin" || s.op === "unpin" || s.op === "get" || s.op === "irq_put"
              ? [s.addr, s.addr + PAGE_SIZE]
              : null;
      if (range === null || covered(range[0], range[1])) return;
      const where = `${s.op} at [${hex(range[0])}, ${hex(range[1])}) is outside every mapping (the mappings and any mmap step's region)`;
      // Outside every mapping on purpose: the step scripts an error path and says which error.
      if (s.expect === undefined) problems.push({ path: ["threads", ti, "steps", si], message: `${where}; to script the error there, say which with expect: (e.g. expect: -ENOENT)` });
      else if (expectsSuccess(s.expect)) problems.push({ path: ["threads", ti, "steps", si, "expect"], message: `${where} but expects success (${s.expect}); there it can only fail: expect the error` });
    });
  });
  if (w.policy !== undefined) {
    if (w.platformProfile === undefined) problems.push({ path: ["policy"], message: "a migration policy needs a platform (set platform:)" });
    for (const pr of checkPolicySection(w.policy)) problems.push({ path: ["policy", ...pr.path], message: pr.message });
  }
  const p = w.platformProfile;
  if (p !== undefined) {
    const largest = Math.max(...p.gpu.chunkSizes);
    if (p.vram.sizeBytes < largest) problems.push({ path: ["platform"], message: `${p.name}: VRAM (${p.vram.sizeBytes} bytes) is smaller than its largest range chunk (${largest} bytes): no range could migrate` });
    if (p.gpu.chunkSizes[p.gpu.chunkSizes.length - 1] !== PAGE_SIZE) problems.push({ path: ["platform"], message: `${p.name}: the last chunk size must be 4 KiB` });
  }
  return problems;
}
