import { describe, it, expect } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseWorkload } from "../src/workload/load.ts";
import { runWorkload, type RunReport } from "../src/workload/run.ts";
import { verifyRun } from "../src/record/verify.ts";
import { heldPageWorkload } from "./support/held-page-workload.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

const workload = heldPageWorkload;

function run(text: string): RunReport {
  return runWorkload(parseWorkload(text, "hold.yaml")).report;
}

function pagesim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { cwd: root, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("a CPU fault that can never succeed", () => {
  it("a device page pinned forever: the run stops after a few faults, naming thread, page, holder and since when", () => {
    const r = run(workload("pin", ""));
    expect(r.hang).not.toBeNull();
    const h = r.hang!;
    expect(h.thread).toBe("cpu1[0] read");
    expect([h.addr, h.vpn, h.pfn]).toEqual([0x4003000, 0x4003, 3]);
    expect(h.holders).toEqual([{ who: "cpu0[1] pin", sinceNs: 2_000_000 }]);
    expect(h.sinceNs).toBe(3_001_000); // the read's first fault (after the 1 µs entry)
    expect(h.faults).toBeLessThanOrEqual(3);
    expect(h.pincount).toBe(1);
    // Small, not a wall-clock figure: before, the read re-faulted 10^6 times (13 M events, 1 s simulated).
    expect(r.events).toBeLessThan(30_000);
    expect(r.endNs).toBeLessThan(4_000_000); // the first fault brings the 511 unpinned pages back (~0.46 ms)
    expect(h.message).toContain("cpu1[0] read");
    expect(h.message).toContain("0x4003000");
    expect(h.message).toContain("device pfn 3");
    expect(h.message).toContain("cpu0[1] pin holds it since 2.000 ms");
    expect(h.message).toContain("since 3.001 ms");
    expect(r.invariants).toEqual([h.message]);
    expect(r.steps.some((s) => s.thread === "cpu1")).toBe(false); // the read never returned
  });

  it("a reference taken by a get step and never put is named the same way", () => {
    const r = run(workload("get", ""));
    expect(r.hang?.holders).toEqual([{ who: "cpu0[1] get", sinceNs: 2_000_000 }]);
    expect(r.hang?.thread).toBe("cpu1[0] read");
    expect(r.events).toBeLessThan(30_000);
  });

  it("a pin another thread drops 5 ms later: the read spins until then and succeeds (the check does not fire early)", () => {
    const r = run(workload("pin", "      - { op: unpin, addr: 0x4003000, at: 8ms }"));
    expect(r.hang).toBeNull();
    expect(r.invariants).toEqual([]);
    const read = r.steps.find((s) => s.thread === "cpu1")!;
    expect(read.ret).toBe("ok v1");
    expect(read.endNs).toBeGreaterThan(8_000_000);
    expect(read.faults).toBeGreaterThan(1000);
  });

  it("an interrupt that puts the reference later: the read succeeds", () => {
    const r = run(workload("get", "      - { op: irq_put, addr: 0x4003000, at: 6ms }"));
    expect(r.hang).toBeNull();
    expect(r.steps.find((s) => s.thread === "cpu1")?.ret).toBe("ok v1");
  });

  it("two readers stuck on the pin, a thread waiting for one of them and one asleep until 9 ms: the check waits for the sleeper, then fires", () => {
    const r = run(`description: two readers, a waiter, a sleeper
seed: 1
mappings:
  - { addr: 0x4000000, size: 4MiB }
threads:
  - name: cpu0
    steps:
      - { op: write, addr: 0x4000000, pages: 1024 }
      - { op: pin, addr: 0x4003000, at: 2ms }
      - { op: write, addr: 0x4300000, at: 9ms }
  - name: cpu1
    steps:
      - { op: read, addr: 0x4003000, at: 3ms }
  - name: cpu2
    steps:
      - { op: read, addr: 0x4003000, at: 3ms }
  - name: cpu3
    steps:
      - { op: wait, thread: cpu1 }
      - { op: unpin, addr: 0x4003000 }
  - name: gpu0
    ctx: gpu
    steps:
      - { op: populate, start: 0x4000000, end: 0x4200000, at: 1ms }
`);
    expect(r.hang?.thread).toMatch(/^cpu[12]\[0\] read$/);
    expect(r.hang?.holders).toEqual([{ who: "cpu0[1] pin", sinceNs: 2_000_000 }]);
    expect(r.steps.find((s) => s.thread === "cpu0" && s.step === 2)?.ret).toBe("ok v2"); // the sleeper ran first
    expect(r.endNs).toBeGreaterThan(9_000_000);
    expect(r.endNs).toBeLessThan(9_100_000);
  });

  it("pagesim run exits 1 with the diagnosis and keeps the log, which verify passes; the released pin's log verifies too", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-hung-"));
    const forever = join(dir, "forever.yaml");
    const released = join(dir, "released.yaml");
    writeFileSync(forever, workload("pin", ""));
    writeFileSync(released, workload("pin", "      - { op: unpin, addr: 0x4003000, at: 8ms }"));
    const hung = pagesim("run", forever, "--out", join(dir, "hung"), "--sink", "arrow");
    expect(hung.status, hung.stderr).toBe(1);
    expect(hung.stdout).toMatch(/hung: cpu1\[0\] read: the access to 0x4003000 \(mm 0, vpn 0x4003, device pfn 3\) has faulted since 3\.001 ms/);
    expect(hung.stdout).toContain("cpu0[1] pin holds it since 2.000 ms");
    const ok = pagesim("run", released, "--out", join(dir, "ok"), "--sink", "arrow");
    expect(ok.status, ok.stdout).toBe(0);
    for (const sub of ["hung", "ok"]) {
      const v = await verifyRun(join(dir, sub));
      expect(v.divergence, sub).toBeNull();
      expect(v.events, sub).toBeGreaterThan(0);
    }
  }, 60_000);
});
