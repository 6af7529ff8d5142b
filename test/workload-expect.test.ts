import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseWorkload, WorkloadError } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
// The platform profile resolves relative to the workload file, so name the file inside workloads/.
const file = join("workloads", "expect-test.yaml");

/** One mapping at 1 GiB; `step` is a step of a thread `t` (ctx `ctx`), with or without a platform. */
const workload = (step: string, opts: { ctx?: string; platform?: boolean } = {}) =>
  [
    "description: expect test",
    ...(opts.platform === true ? ["platform: xe-pcie4x8-iommu"] : []),
    "mappings:",
    "  - { addr: 0x40000000, size: 2MiB }",
    "threads:",
    "  - name: t",
    `    ctx: ${opts.ctx ?? "process"}`,
    "    steps:",
    "      - { op: write, addr: 0x40000000, pages: 1 }",
    `      - ${step}`,
    "",
  ].join("\n");

/** Runs a workload and returns its report and every model event's kind and fields. */
function run(text: string) {
  const events: { kind: string; ret?: number; pteKind?: string }[] = [];
  const { report } = runWorkload(parseWorkload(text, file), undefined, {
    onLog: (log) => log.subscribe({ onModelEvent: (_s, _t, _th, _c, ev) => void events.push(ev as { kind: string; ret?: number; pteKind?: string }) }),
  });
  return { report, events };
}

const UNMAPPED = "0x80000000"; // 2 GiB: no mapping, no mmap step

describe("steps that expect an error (expect:)", () => {
  it("a populate of a range with no VMA, expecting -ENOENT, loads, returns -ENOENT from migrate_to_devmem and migrates nothing", () => {
    const { report, events } = run(workload(`{ op: populate, start: ${UNMAPPED}, end: 0x80200000, expect: -ENOENT }`));
    const step = report.steps.find((s) => s.op === "populate")!;
    expect(step.ret).toBe("-ENOENT");
    expect(report.failedSteps).toEqual([]);
    // The path: migrate_to_devmem's VMA lookup found nothing; no page moved, no zdd was made.
    expect(events.filter((e) => e.kind === "migrate_to_devmem.end").map((e) => e.ret)).toEqual([-2]);
    expect(events.filter((e) => e.kind === "populate_mm.end").map((e) => e.ret)).toEqual([-2]);
    for (const kind of ["page.copy", "zdd.alloc"]) expect(events.filter((e) => e.kind === kind), kind).toEqual([]);
    expect(events.filter((e) => e.kind === "pte.set" && e.pteKind !== "present"), "no migration or device entry").toEqual([]);
    expect(report.work.migrationsToDevice).toBe(0);
    expect(report.pageCounts.device).toBeUndefined();
    expect(report.invariants).toEqual([]);
  });

  it("a GPU read with no VMA, expecting -ENOENT, fails in the fault handler's range lookup with no migration", () => {
    const { report, events } = run(workload(`{ op: read, addr: ${UNMAPPED}, expect: -ENOENT }`, { ctx: "gpu", platform: true }));
    const step = report.steps.find((s) => s.op === "read" && s.step === 1)!;
    expect(step.ret).toBe("-ENOENT");
    expect(step.faults).toBe(1);
    expect(report.gpuFaults.map((f) => f.ret)).toEqual(["0", "-ENOENT"]);
    expect(report.failedSteps).toEqual([]);
    // One migration: the first step's write (a 2 MiB chunk); none for the unmapped read.
    expect(report.work.migrationsToDevice).toBe(1);
    expect(events.filter((e) => e.kind === "svm_range.insert")).toHaveLength(1);
  });

  it("a CPU read with no VMA expecting SIGSEGV gets it", () => {
    const { report } = run(workload(`{ op: read, addr: ${UNMAPPED}, expect: SIGSEGV }`));
    expect(report.steps[1]!.ret).toBe("SIGSEGV");
    expect(report.failedSteps).toEqual([]);
  });

  it("without expect, a step outside every mapping is still refused with the loader's message", () => {
    expect(() => parseWorkload(workload(`{ op: populate, start: ${UNMAPPED}, end: 0x80200000 }`), file)).toThrow(WorkloadError);
    expect(() => parseWorkload(workload(`{ op: populate, start: ${UNMAPPED}, end: 0x80200000 }`), file)).toThrow(
      /threads\.0\.steps\.1: populate at \[0x80000000, 0x80200000\) is outside every mapping \(the mappings and any mmap step's region\)/,
    );
  });

  it("a step outside every mapping that expects success is refused: it cannot succeed", () => {
    for (const e of ["0", "ok"]) {
      expect(() => parseWorkload(workload(`{ op: read, addr: ${UNMAPPED}, expect: ${e} }`), file)).toThrow(/outside every mapping.*expects success/);
    }
  });

  it("an expect that is not a return value a step can have is refused by name", () => {
    expect(() => parseWorkload(workload(`{ op: read, addr: 0x40000000, expect: -ENOPE }`), file)).toThrow(/threads\.0\.steps\.1\.expect: expected/);
  });

  it("a wrong expectation fails the step, and the run", () => {
    // In a mapping: the populate succeeds (0), not the -EBUSY the step expects.
    const { report } = run(workload("{ op: populate, start: 0x40000000, end: 0x40200000, expect: -EBUSY }"));
    expect(report.steps[1]!.ret).toBe("0");
    expect(report.failedSteps).toEqual(["t[1] populate returned 0, expected -EBUSY"]);
    // Outside: -ENOENT, not the -EFAULT it expects.
    const outside = run(workload(`{ op: populate, start: ${UNMAPPED}, end: 0x80200000, expect: -EFAULT }`)).report;
    expect(outside.failedSteps).toEqual(["t[1] populate returned -ENOENT, expected -EFAULT"]);
  });

  it("expect: ok matches any successful access; a number matches its errno", () => {
    expect(run(workload("{ op: read, addr: 0x40000000, expect: ok }")).report.failedSteps).toEqual([]);
    expect(run(workload(`{ op: populate, start: ${UNMAPPED}, end: 0x80200000, expect: -2 }`)).report.failedSteps).toEqual([]);
    expect(run(workload("{ op: read, addr: 0x40000000, expect: -EBUSY }")).report.failedSteps).toEqual(["t[1] read returned ok v1, expected -EBUSY"]);
  });

  it("pagesim run exits 1 on a failed expectation, naming the step; 0 when every expectation holds", () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-expect-"));
    try {
      const pagesim = (text: string) => {
        const path = join(dir, "w.yaml");
        writeFileSync(path, text);
        return spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", "run", path, "--sink", "none", "--out", join(dir, `run-${Math.random()}`)], { cwd: root, encoding: "utf8" });
      };
      const bad = pagesim(workload("{ op: populate, start: 0x40000000, end: 0x40200000, expect: -EBUSY }"));
      expect(bad.status, bad.stderr).toBe(1);
      expect(bad.stdout).toContain("t[1] populate returned 0, expected -EBUSY");
      const good = pagesim(workload(`{ op: populate, start: ${UNMAPPED}, end: 0x80200000, expect: -ENOENT }`));
      expect(good.status, good.stderr + good.stdout).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
