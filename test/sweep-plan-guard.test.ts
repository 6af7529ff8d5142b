import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadWorkload } from "../src/workload/load.ts";
import { countedPages, estimateRun, EVENTS_PER_PAGE, LOG_BYTES_PER_EVENT } from "../src/sweep/estimate.ts";

// Before anything runs, a sweep prints its plan and refuses an absurd one (issue #14 item 5).

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const workload = JSON.stringify(join(root, "workloads", "timeslice-refault.yaml"));
const tempDir = () => mkdtempSync(join(tmpdir(), "pagesim-guard-"));

function sweep(dir: string, body: string): string {
  const file = join(dir, "s.yaml");
  writeFileSync(file, `description: guard test\nworkloads: [${workload}]\n${body}`);
  return file;
}

function cli(args: string[]): { status: number | null; stdout: string; stderr: string; ms: number } {
  const start = performance.now();
  const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "src", "cli.ts"), ...args], { encoding: "utf8", cwd: root, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - start };
}

describe("a sweep's plan", () => {
  it("of a 10^7-point grid is refused at once, exit 2, naming the file and the limit, writing nothing", () => {
    const dir = tempDir();
    const file = sweep(dir, "parameters:\n  model.hz: [100, 250, 1000, 300, 100, 250, 1000, 300, 100, 250]\n  threads.1.steps.0.timesliceMs: { from: 1, to: 1000000, step: 1 }\nsinks: []\n");
    const r = cli(["sweep", file, "--out", join(dir, "out")]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toBe(`pagesim: ${file}: the plan has 10,000,000 runs (1 workload × 10,000,000 configurations × 1 repetition), over the limit of 100,000 runs; nothing was run or written (pass --yes to run it anyway)\n`);
    expect(r.ms, "refused before listing the runs").toBeLessThan(15_000);
    expect(existsSync(join(dir, "out"))).toBe(false);
  }, 60_000);

  it("of 10^8 repetitions is refused at once, exit 2, writing nothing", () => {
    const dir = tempDir();
    const file = sweep(dir, "repetitions: 100000000\nsinks: []\n");
    const r = cli(["sweep", file, "--out", join(dir, "out")]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/: the plan has 100,000,000 runs \(1 workload × 1 configuration × 100,000,000 repetitions\), over the limit of 100,000 runs; .*--yes/);
    expect(r.stderr).toContain(file);
    expect(r.ms).toBeLessThan(15_000);
    expect(existsSync(join(dir, "out"))).toBe(false);
  }, 60_000);

  it("past the event-log bytes limit is refused (exit 2); under it, the plan line is printed first", () => {
    const dir = tempDir();
    // 50,000 runs that keep both logs: an estimated 1025 pages × 12 × (53 + 139) B ≈ 2.4 MB each, 118 GB in all.
    const big = sweep(dir, "repetitions: 50000\nsinks: [arrow, sqlite]\n");
    const r = cli(["sweep", big, "--out", join(dir, "big")]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/: the plan has an estimated 118 GB of event logs to write, over the limit of 50 GB; nothing was run or written \(pass --yes/);
    expect(existsSync(join(dir, "big"))).toBe(false);
    const small = join(dir, "small.yaml");
    writeFileSync(small, `description: guard test\nworkloads: [${workload}]\nparameters:\n  model.hz: [100, 1000]\nsinks: [arrow]\n`);
    const ok = cli(["sweep", small, "--out", join(dir, "small")]);
    expect(ok.status, ok.stderr).toBe(0);
    const perRun = 1025 * EVENTS_PER_PAGE;
    expect(ok.stdout.split("\n")[0]).toBe(`plan: 2 runs; estimated ${Number((2 * perRun / 1000).toPrecision(3))} K events and ${Number(((2 * perRun * LOG_BYTES_PER_EVENT.arrow) / 1e6).toPrecision(3))} MB of event logs to write (an estimate from the workloads' pages, docs/metrics.md)`);
    const again = cli(["sweep", small, "--out", join(dir, "small"), "--resume"]);
    expect(again.stdout.split("\n")[0]).toMatch(/^plan: 2 runs \(0 to run, 2 kept\); estimated 0 events and 0 B/);
  }, 120_000);

  it("past a limit runs with --yes: the plan line is printed and the runs start", async () => {
    const dir = tempDir();
    const file = sweep(dir, "repetitions: 100001\nsinks: []\n");
    const child = spawn(process.execPath, ["--import", "tsx", join(root, "src", "cli.ts"), "sweep", file, "--out", join(dir, "out"), "--yes", "--jobs", "1"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise((r) => child.once("exit", r));
    while (child.exitCode === null && !existsSync(join(dir, "out", "runs", "r0000"))) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGKILL");
    await exited;
    expect(stdout).toMatch(/^plan: 100001 runs; estimated 1\.23 G events/);
    expect(existsSync(join(dir, "out", "runs", "r0000"))).toBe(true);
  }, 120_000);

  it("estimates a run from the pages its workload's steps name", () => {
    const w = loadWorkload(join(root, "workloads", "timeslice-refault.yaml"));
    // cpu0 writes 512 pages and reads 1; gpu0 populates 2 MiB (512 pages); no platform, so no chunk rounding.
    expect(countedPages(w)).toBe(1025);
    expect(estimateRun(w, [])).toEqual({ events: 1025 * EVENTS_PER_PAGE, logBytes: 0 });
    expect(estimateRun(w, ["arrow", "sqlite"]).logBytes).toBe(1025 * EVENTS_PER_PAGE * (LOG_BYTES_PER_EVENT.arrow + LOG_BYTES_PER_EVENT.sqlite));
    const onPlatform = loadWorkload(join(root, "workloads", "xe-2mib-fault-calibration.yaml"));
    // The GPU's 1-page write counts the platform's 2 MiB chunk.
    expect(countedPages(onPlatform)).toBe(1024);
  });
});
