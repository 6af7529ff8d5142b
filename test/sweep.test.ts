import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { mergeSweeps, runSweep } from "../src/sweep/runner.ts";
import { cpSync } from "node:fs";

/** A small sweep over the bundled timeslice workload: 3 timeslices × 2 HZ × 2 repetitions = 12 runs. */
function sweepFile(dir: string, extra = "", sinks = "[]"): string {
  const file = join(dir, "s.yaml");
  writeFileSync(
    file,
    `description: test sweep\nworkloads: [${JSON.stringify(resolve("workloads/timeslice-refault.yaml"))}]\nparameters:\n  threads.1.steps.0.timesliceMs: [0, 1, 5]\n  model.hz: [100, 1000]\nrepetitions: 2\nsinks: ${sinks}\n${extra}`,
  );
  return file;
}

/** Everything results.sqlite says about the runs, timings left out, in a fixed order. */
function contents(dir: string): unknown {
  const db = new Database(join(dir, "results.sqlite"), { readonly: true });
  try {
    return {
      runs: db.prepare("SELECT run_id, run_index, workload, repetition, seed, status, error, events, end_ns, digest FROM runs ORDER BY run_id").all(),
      params: db.prepare("SELECT * FROM run_params ORDER BY run_id, name").all(),
      metrics: db.prepare("SELECT * FROM metrics ORDER BY run_id, name").all(),
    };
  } finally {
    db.close();
  }
}

/** results.sqlite's sweep table (file, text, planned runs, shard) as an object. */
function sweepMeta(dir: string): Record<string, string> {
  const db = new Database(join(dir, "results.sqlite"), { readonly: true });
  try {
    return Object.fromEntries((db.prepare("SELECT key, value FROM sweep").all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
  } finally {
    db.close();
  }
}

const tempDir = () => mkdtempSync(join(tmpdir(), "pagesim-sweep-"));

describe("pagesim sweep", () => {
  it("gives the same results whatever --jobs is", async () => {
    const dir = tempDir();
    const file = sweepFile(dir);
    const one = await runSweep({ file, outDir: join(dir, "j1"), jobs: 1 });
    const two = await runSweep({ file, outDir: join(dir, "j2"), jobs: 2 });
    expect([one.ran, one.failed, two.ran]).toEqual([12, 0, 12]);
    const c = contents(join(dir, "j1")) as { runs: { seed: number }[]; metrics: unknown[] };
    expect(c.runs.map((r) => r.seed)).toEqual([1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2]);
    expect(c.metrics.length).toBeGreaterThan(12 * 5);
    expect(contents(join(dir, "j2"))).toEqual(c);
  }, 120_000);

  it("shards merged equal the whole sweep", async () => {
    const dir = tempDir();
    const file = sweepFile(dir);
    await runSweep({ file, outDir: join(dir, "all"), jobs: 2 });
    await runSweep({ file, outDir: join(dir, "s1"), jobs: 1, shard: { k: 1, n: 2 } });
    await runSweep({ file, outDir: join(dir, "s2"), jobs: 1, shard: { k: 2, n: 2 } });
    expect(mergeSweeps(join(dir, "merged"), [join(dir, "s1"), join(dir, "s2")], (from, to) => cpSync(from, to, { recursive: true }))).toBe(12);
    expect(contents(join(dir, "merged"))).toEqual(contents(join(dir, "all")));
    expect(existsSync(join(dir, "merged", "runs", "r0011", "run.json"))).toBe(true);
    // The merged directory describes the whole sweep, not the first shard merged into it.
    expect(sweepMeta(join(dir, "merged"))).toEqual(sweepMeta(join(dir, "all")));
    expect(sweepMeta(join(dir, "merged")).planned_runs).toBe("12");
  }, 120_000);

  it("killed with SIGKILL at any moment and resumed, gives the results of a sweep never interrupted", async () => {
    const dir = tempDir();
    const file = sweepFile(dir);
    await runSweep({ file, outDir: join(dir, "whole"), jobs: 1 });
    const out = join(dir, "killed");
    // Killed once 2 and once 7 of the 12 runs have started (their run directories exist), so
    // each kill lands mid-sweep however fast this machine runs them (a fixed delay did not:
    // once the whole sweep took under 2.5 s, the second child had finished before its kill).
    for (const killAtRuns of [2, 7]) {
      const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "sweep", file, "--out", out, "--jobs", "1", ...(existsSync(join(out, "results.sqlite")) ? ["--resume"] : [])], { stdio: "ignore" });
      const exited = new Promise((r) => child.once("exit", r));
      const runsStarted = (): number => (existsSync(join(out, "runs")) ? readdirSync(join(out, "runs")).length : 0);
      while (child.exitCode === null && child.signalCode === null && runsStarted() < killAtRuns) await new Promise((r) => setTimeout(r, 5));
      expect(child.exitCode, "the sweep was still running when killed").toBeNull();
      child.kill("SIGKILL");
      await exited;
    }
    const resumed = await runSweep({ file, outDir: out, jobs: 2, resume: true });
    expect(resumed.skipped + resumed.ran).toBe(12);
    expect(contents(out)).toEqual(contents(join(dir, "whole")));
  }, 180_000);

  it("refuses bad input before writing anything, naming the run and the key", async () => {
    const dir = tempDir();
    const file = sweepFile(dir, "zip:\n  - { model.hz: [100, 250], model.thp: [always] }\n");
    await expect(runSweep({ file, outDir: join(dir, "out") })).rejects.toThrow(/zip\.0: every parameter of a zip group needs the same number of values/);
    const bad = sweepFile(dir).replace(/$/, "");
    writeFileSync(bad, `description: bad\nworkloads: [${JSON.stringify(resolve("workloads/timeslice-refault.yaml"))}]\nparameters:\n  model.hzz: [100]\n`);
    await expect(runSweep({ file: bad, outDir: join(dir, "out") })).rejects.toThrow(/run r0000 \(model\.hzz=100\)[\s\S]*model[\s\S]*hzz/);
    expect(existsSync(join(dir, "out"))).toBe(false);
    await runSweep({ file: sweepFile(dir, "", "[arrow]"), outDir: join(dir, "done"), jobs: 2 });
    expect(existsSync(join(dir, "done", "runs", "r0000", "events.arrow")), "each run keeps its event log").toBe(true);
    await expect(runSweep({ file: sweepFile(dir, "", "[arrow]"), outDir: join(dir, "done") })).rejects.toThrow(/--resume/);
  }, 120_000);
});

describe("sweep plans", () => {
  it("drop the configurations an exclude rule matches, and refuse rules on unknown parameters", async () => {
    const { planSweep, loadSweep } = await import("../src/sweep/plan.ts");
    const plan = planSweep(loadSweep("workloads/sweeps/timeslice-hz.yaml"), "workloads/sweeps/timeslice-hz.yaml");
    expect(plan).toHaveLength(4 * 3 - 2);
    expect(plan.filter((r) => r.params["threads.1.steps.0.timesliceMs"] === 0).map((r) => r.params["model.hz"])).toEqual([250]);
    const dir = tempDir();
    const file = sweepFile(dir, "exclude:\n  - { model.thp: always }\n");
    expect(() => planSweep(loadSweep(file), file)).toThrow(/exclude\.0\.model\.thp: not a parameter of this sweep/);
  });
});
