import { describe, it, expect } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadWorkload, parseWorkload, WorkloadError } from "../src/workload/load.ts";
import { runWorkload, type RunReport } from "../src/workload/run.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const run = (name: string): RunReport => runWorkload(loadWorkload(`${root}workloads/${name}`)).report;
const ret = (r: RunReport, thread: string, step: number): string => r.steps.find((s) => s.thread === thread && s.step === step)!.ret;
const count = (r: RunReport, where: string): number => r.placement.filter((p) => p.where === where).length;

describe("the shipped workload files", () => {
  it("every file in workloads/ loads, runs, and keeps the invariants", () => {
    const files = readdirSync(`${root}workloads`).filter((f) => f.endsWith(".yaml"));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      const r = run(f);
      expect(r.invariants, f).toEqual([]);
      expect(r.lostWrites, f).toEqual([]);
    }
  });

  it("timeslice-refault: the CPU spins until the 5 ms timeslice (2 ticks at HZ=250) expires, then the data comes back", () => {
    const r = run("timeslice-refault.yaml");
    expect(ret(r, "gpu0", 0)).toBe("0");
    expect(ret(r, "cpu0", 1)).toBe("ok v1");
    const read = r.steps.find((s) => s.thread === "cpu0" && s.step === 1)!;
    // Stamped at ~1.46 ms (jiffy 0) + 2 ticks = jiffy 2 = 8 ms; the read started at 3 ms.
    expect(read.endNs).toBeGreaterThan(8_000_000);
    expect(read.faults).toBeGreaterThan(4000);
    expect(count(r, "system")).toBe(512);
  });

  it("pinned-page-ebusy: -EBUSY while pinned, success after the unpin", () => {
    const r = run("pinned-page-ebusy.yaml");
    expect([ret(r, "gpu0", 0), ret(r, "gpu0", 1), ret(r, "cpu0", 4)]).toEqual(["-EBUSY", "0", "ok v2"]);
    expect(count(r, "system")).toBe(512); // the atomic brought the whole allocation back
  });

  it("irq-free-sync-release: the synchronous release in IRQ context is a context violation; async is clean", () => {
    const r = run("irq-free-sync-release.yaml");
    expect(r.contextViolations.map((v) => [v.op, v.ctx])).toEqual([["xe_bo_put", "irq"]]);
    const wl = loadWorkload(`${root}workloads/irq-free-sync-release.yaml`);
    const clean = runWorkload({ ...wl, device: { ...wl.device, release: "async" } }).report;
    expect(clean.contextViolations).toEqual([]);
  });

  it("device-unbind: everything comes back, nothing lost, then -ENODEV", () => {
    const r = run("device-unbind.yaml");
    expect([ret(r, "gpu0", 0), ret(r, "gpu0", 1), ret(r, "cpu0", 1), ret(r, "gpu0", 2)]).toEqual(["0", "0", "ok v1", "-ENODEV"]);
  });

  it("dma-map-failure: -EFAULT, pages stay, and the seed's raw-pfn hazard is reported", () => {
    const r = run("dma-map-failure.yaml");
    expect(ret(r, "gpu0", 0)).toBe("-EFAULT");
    expect(count(r, "system")).toBe(512);
    expect(r.kernelBugs).toHaveLength(1);
  });

  it("the same seed gives the same report; the report is a function of inputs and seed", () => {
    const a = JSON.stringify(run("timeslice-refault.yaml"));
    expect(JSON.stringify(run("timeslice-refault.yaml"))).toBe(a);
  });
});

describe("bad workload files", () => {
  it("a YAML syntax error names the file, line and column", () => {
    expect(() => parseWorkload("description: x\nthreads: [\n", "bad.yaml")).toThrow(/^bad\.yaml:3:1: not valid YAML/);
  });

  it("a schema error names the file, the line, the path and what was expected", () => {
    const text = ["description: x", "threads:", "  - name: t", "    steps:", "      - { op: read, addr: 0x1000, at: 5 parsecs }", ""].join("\n");
    let message = "";
    try {
      parseWorkload(text, "w.yaml");
    } catch (error) {
      expect(error).toBeInstanceOf(WorkloadError);
      message = (error as Error).message;
    }
    expect(message).toContain("w.yaml:5:");
    expect(message).toContain("threads.0.steps.0.at");
    expect(message).toContain("expected a duration");
  });

  it("an unknown operation or field is refused, not ignored", () => {
    expect(() => parseWorkload("description: x\nthreads:\n  - name: t\n    steps:\n      - { op: fly }\n", "w.yaml")).toThrow(/w\.yaml:5:\d+: threads\.0\.steps\.0\.op/);
    expect(() => parseWorkload("description: x\nthreads:\n  - name: t\n    stepz: []\n", "w.yaml")).toThrow(/stepz/);
  });

  it("the CLI exits 2 with the message on a bad file, and 0 on a good one", () => {
    const cli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { cwd: root, encoding: "utf8" });
    const out = join(mkdtempSync(join(tmpdir(), "pagesim-cli-")), "run");
    const bad = cli("run", "workloads/README.md", "--out", out);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("workloads/README.md");
    expect(existsSync(out), "a bad workload leaves no run directory").toBe(false);
    const missing = cli("run", "workloads/nope.yaml");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("cannot read");
    expect(cli("run", "workloads/pinned-page-ebusy.yaml", "--out", out, "--sink", "parquet").status).toBe(2);
    const good = cli("run", "workloads/pinned-page-ebusy.yaml", "--json", "--out", out);
    expect(good.status).toBe(0);
    expect((JSON.parse(good.stdout) as { report: RunReport }).report.invariants).toEqual([]);
    expect(readdirSync(out).sort()).toEqual(["events.arrow", "events.sqlite", "run.json", "workload.yaml"]);
    const verify = cli("verify", out);
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    expect(cli("verify", join(out, "nope")).status).toBe(2);
  });
});

describe("mprotect-window-clamp", () => {
  it("brings back only the first half, then the moved half at its new address", () => {
    const r = run("mprotect-window-clamp.yaml");
    expect(r.steps.map((s) => s.ret)).toEqual(["ok v1", "0", "0", "ok v1", "0", "ok v1"]);
    const moved = r.placement.filter((p) => p.addr >= 0x8000000);
    expect(moved.length).toBe(256);
    expect(moved.every((p) => p.where === "system" && p.version === 1)).toBe(true);
  });
});

describe("fork-shared-device-pages", () => {
  it("the child's read brings the shared device pages back, its write copies, the parent keeps its data", () => {
    const r = run("fork-shared-device-pages.yaml");
    const rets = Object.fromEntries(r.steps.map((s) => [`${s.thread}[${s.step}]`, s.ret]));
    expect(rets).toEqual({
      "parent[0]": "ok v1",
      "gpu0[0]": "0",
      "parent[1]": "process 1",
      "child[0]": "ok v1",
      "child[1]": "ok v2",
      "child[2]": "ok v2",
      "parent[2]": "ok v1",
    });
  });
});

describe("fork-gpu-write", () => {
  it("the parent's GPU write after fork copies the device-resident page first; the child reads the pre-fork data", () => {
    const r = run("fork-gpu-write.yaml");
    const rets = Object.fromEntries(r.steps.map((s) => [`${s.thread}[${s.step}]`, s.ret]));
    expect(rets).toEqual({
      "parent[0]": "ok v1",
      "gpu0[0]": "0",
      "parent[1]": "process 1",
      "gpu-parent[0]": "ok v2",
      "parent[2]": "ok v2",
      "child[0]": "ok v1",
    });
    expect(r.lostWrites).toEqual([]);
    expect(count(r, "system")).toBe(512);
  });
});

describe("how a page access is logged (src/machine/events.ts)", () => {
  // The CPU writes 4 pages twice (faults, then present); the GPU reads them twice (its first
  // access faults and binds the range, the rest go through the mapping).
  const workload = parseWorkload(`description: accesses with and without faults
seed: 1
platform: xe-pcie4x8-iommu
mappings:
  - { addr: 0x40000000, size: 2MiB }
threads:
  - name: cpu0
    steps:
      - { op: write, addr: 0x40000000, pages: 4 }
      - { op: write, addr: 0x40000000, pages: 4 }
  - name: gpu0
    ctx: gpu
    steps:
      - { op: read, addr: 0x40000000, pages: 4, at: 1ms }
      - { op: read, addr: 0x40000000, pages: 4 }
`, "accesses.yaml");

  it("an access that needs no fault is its page event alone; one that faults keeps access.begin/access.end; the metrics count both", () => {
    const events: { tNs: number; thread: number; ctx: string; kind: string }[] = [];
    const { report } = runWorkload(workload, undefined, { onLog: (log) => log.subscribe({ onModelEvent: (_seq, tNs, thread, ctx, ev) => void events.push({ tNs, thread, ctx, kind: ev.kind }) }) });
    const marked = { cpu: 0, gpu: 0 };
    const bare = { cpu: 0, gpu: 0 };
    const open = new Map<number, { faulted: boolean }>();
    for (const [i, e] of events.entries()) {
      const side = e.ctx === "gpu" ? "gpu" : "cpu";
      if (e.kind === "access.begin") {
        open.set(e.thread, { faulted: false });
        marked[side]++;
      } else if (e.kind === "handle_mm_fault.begin" || e.kind === "gpu_fault.begin") {
        const a = open.get(e.thread);
        if (a !== undefined) a.faulted = true;
      } else if (e.kind === "access.end") {
        expect(open.get(e.thread)?.faulted, `event ${i}: a marked access without a fault`).toBe(true);
        open.delete(e.thread);
      } else if ((e.kind === "page.read" || e.kind === "page.write") && !open.has(e.thread)) {
        bare[side]++;
        if (side === "gpu") {
          // A bare GPU access ends after the GPU's access latency, at its thread's next event.
          const next = events.slice(i + 1).find((n) => n.thread === e.thread)!;
          expect(next.tNs - e.tNs).toBe(workload.platformProfile!.gpu.accessNs);
        }
      }
    }
    expect(marked).toEqual({ cpu: 4, gpu: 1 });
    expect(bare).toEqual({ cpu: 4, gpu: 7 });
    expect([report.metrics.cpu_accesses, report.metrics.gpu_accesses, report.metrics.faults_in_steps]).toEqual([8, 8, 5]);
  });
});
