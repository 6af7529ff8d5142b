import { describe, expect, it } from "vitest";
import { parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";

/**
 * Issue #15 §1: after fork, a device-private entry of a private mapping is read-only in both
 * processes (copy_nonpresent_pte), so a write by either process, from the CPU or the GPU, takes a
 * write fault, brings the page back to RAM (migrate_to_ram) and copies it (do_wp_page) before
 * writing: the other process keeps the pre-fork data.
 */

const BASE = 0x40000000;

type Writer = "cpu" | "gpu";
type Side = "parent" | "child";
type Variant = "seed" | "newest";

/** The scenario: the parent writes v1, the GPU takes the range, fork, one side writes, both read. */
function scenario(writer: Writer, side: Side, variant: Variant): string {
  const proc = side === "parent" ? 0 : 1;
  const other = side === "parent" ? 1 : 0;
  const writerThread =
    writer === "gpu"
      ? `  - name: writer\n    ctx: gpu\n    process: ${proc}\n    steps:\n      - { op: write, addr: ${BASE}, at: 3ms }\n`
      : `  - name: writer\n    process: ${proc}\n    steps:\n      - { op: write, addr: ${BASE}, at: 3ms }\n`;
  return (
    `description: fork cow\nplatform: xe-pcie4x8-iommu\nmodel: { variant: ${variant} }\nmappings:\n  - { addr: ${BASE}, size: 2MiB }\nthreads:\n` +
    `  - name: parent\n    steps:\n      - { op: write, addr: ${BASE}, pages: 512 }\n      - { op: fork, at: 2ms }\n` +
    `  - name: gpu0\n    ctx: gpu\n    steps:\n      - { op: populate, start: ${BASE}, end: ${BASE + 0x200000}, at: 1ms }\n` +
    writerThread +
    `  - name: other\n    process: ${other}\n    steps:\n      - { op: read, addr: ${BASE}, at: 20ms }\n` +
    `  - name: self\n    process: ${proc}\n    steps:\n      - { op: read, addr: ${BASE}, at: 21ms }\n`
  );
}

interface Seen {
  thread: string;
  kind: string;
  mm?: number;
  access?: string;
  src?: number;
  dst?: number;
}

function runScenario(writer: Writer, side: Side, variant: Variant) {
  const names = new Map<number, string>();
  const memory = new Map<number, string>();
  const seen: Seen[] = [];
  const { report } = runWorkload(parseWorkload(scenario(writer, side, variant), "workloads/inline.yaml"), undefined, {
    onLog: (log) =>
      log.subscribe({
        onSpawn: (uid, name) => void names.set(uid, name),
        onModelEvent: (_s, _t, thread, _c, ev) => {
          const who = names.get(thread) ?? "?";
          if (ev.kind === "folio.alloc") memory.set(ev.folio, ev.memory);
          else if (ev.kind === "handle_mm_fault.begin") seen.push({ thread: who, kind: ev.kind, mm: ev.mm, access: ev.access });
          else if (ev.kind === "gpu_fault.begin") seen.push({ thread: who, kind: ev.kind, mm: ev.mm, access: ev.access });
          else if (ev.kind === "migrate_to_ram.begin") seen.push({ thread: who, kind: ev.kind });
          else if (ev.kind === "page.copy" && memory.get(ev.srcFolio) === "system" && memory.get(ev.dstFolio) === "system") {
            seen.push({ thread: who, kind: "cow.copy", src: ev.srcFolio, dst: ev.dstFolio });
          }
        },
      }),
  });
  return { report, seen };
}

const cases: [Writer, Side, Variant][] = [];
for (const variant of ["seed", "newest"] as const) for (const writer of ["gpu", "cpu"] as const) for (const side of ["parent", "child"] as const) cases.push([writer, side, variant]);

describe("fork of device-private pages: a write in either process copies first (issue #15 §1)", () => {
  it.each(cases)("%s writer in the %s (%s variant): the writer sees its write, the other process the pre-fork data", (writer, side, variant) => {
    const { report, seen } = runScenario(writer, side, variant);
    const ret = (thread: string) => report.steps.find((s) => s.thread === thread)!.ret;
    expect(report.invariants).toEqual([]);
    expect(report.lostWrites).toEqual([]);
    expect(ret("writer")).toBe("ok v2");
    expect(ret("other")).toBe("ok v1");
    expect(ret("self")).toBe("ok v2");

    // The path, in order, all in the writer's thread: a write fault in the writer's mm, the page
    // brought back to RAM, then the copy-on-write copy.
    const mm = side === "parent" ? 0 : 1;
    const mine = seen.filter((e) => e.thread === "writer");
    const writeFault = mine.findIndex((e) => e.kind === "handle_mm_fault.begin" && e.mm === mm && e.access === "write");
    const back = mine.findIndex((e, i) => i > writeFault && e.kind === "migrate_to_ram.begin");
    const copy = mine.findIndex((e, i) => i > back && e.kind === "cow.copy");
    expect(writeFault, JSON.stringify(mine)).toBeGreaterThanOrEqual(0);
    expect(back, JSON.stringify(mine)).toBeGreaterThan(writeFault);
    expect(copy, JSON.stringify(mine)).toBeGreaterThan(back);
    if (writer === "gpu") expect(mine[0]).toMatchObject({ kind: "gpu_fault.begin", mm, access: "write" });
    // Nobody else brought the page back before the write: the other process never touched it.
    expect(seen.filter((e) => e.kind === "migrate_to_ram.begin" && e.thread !== "writer" && e.thread !== "other" && e.thread !== "self")).toEqual([]);
  });
});

describe("a GPU read after fork maps the shared page read-only: a later GPU write faults and copies", () => {
  /** Parent writes v1 (then, with `device`, the GPU takes the range), fork, the child's GPU reads then writes, both read. */
  const text = (device: boolean, variant: Variant) =>
    `description: fork gpu read then write\nplatform: xe-pcie4x8-iommu\nmodel: { variant: ${variant} }\nmappings:\n  - { addr: ${BASE}, size: 2MiB }\nthreads:\n` +
    `  - name: parent\n    steps:\n      - { op: write, addr: ${BASE}, pages: 512 }\n      - { op: fork, at: 2ms }\n      - { op: read, addr: ${BASE}, at: 20ms }\n` +
    (device ? `  - name: gpu0\n    ctx: gpu\n    steps:\n      - { op: populate, start: ${BASE}, end: ${BASE + 0x200000}, at: 1ms }\n` : "") +
    `  - name: writer\n    ctx: gpu\n    process: 1\n    steps:\n      - { op: read, addr: ${BASE}, at: 3ms }\n      - { op: write, addr: ${BASE}, at: 10ms }\n` +
    `  - name: self\n    process: 1\n    steps:\n      - { op: read, addr: ${BASE}, at: 21ms }\n`;

  it.each([
    ["device memory", true, "seed"],
    ["device memory", true, "newest"],
    ["system memory", false, "seed"],
  ] as const)("pages in %s (%s, %s variant)", (_where, device, variant) => {
    const faults: string[] = [];
    const { report } = runWorkload(parseWorkload(text(device, variant), "workloads/inline.yaml"), undefined, {
      onLog: (log) => log.subscribe({ onModelEvent: (_s, _t, _th, _c, ev) => void (ev.kind === "gpu_fault.begin" && faults.push(ev.access)) }),
    });
    const ret = (thread: string, step = 0) => report.steps.find((s) => s.thread === thread && s.step === step)!.ret;
    expect(report.lostWrites).toEqual([]);
    expect(report.invariants).toEqual([]);
    expect([ret("writer", 0), ret("writer", 1), ret("parent", 2), ret("self")]).toEqual(["ok v1", "ok v2", "ok v1", "ok v2"]);
    // The read faulted and bound the range; the write faulted again instead of using that mapping.
    expect(faults).toEqual(["read", "write"]);
  });
});

describe("a GPU atomic after fork (needs VRAM): the copies are made first, then the writer's own pages go back to VRAM", () => {
  const cases2: [Side, Variant][] = [
    ["parent", "seed"],
    ["child", "seed"],
    ["parent", "newest"],
  ];
  it.each(cases2)("in the %s (%s variant)", (side, variant) => {
    const text = scenario("gpu", side, variant).replace(`- { op: write, addr: ${BASE}, at: 3ms }`, `- { op: atomic, addr: ${BASE}, at: 3ms }`);
    const ends: number[] = [];
    const { report } = runWorkload(parseWorkload(text, "workloads/inline.yaml"), undefined, {
      onLog: (log) => log.subscribe({ onModelEvent: (_s, _t, _th, _c, ev) => void (ev.kind === "gpu_fault.end" && ends.push(ev.ret)) }),
    });
    const ret = (thread: string) => report.steps.find((s) => s.thread === thread)!.ret;
    expect(report.lostWrites).toEqual([]);
    expect(report.invariants).toEqual([]);
    expect([ret("writer"), ret("other"), ret("self")]).toEqual(["ok v2", "ok v1", "ok v2"]);
    expect(ends).toEqual([0]); // one fault, which succeeded: hmm_range_fault copied every page before the VRAM check
  });
});
