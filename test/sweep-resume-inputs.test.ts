import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { MODEL_DIRS, MODEL_SWEEP_FILES, modelHash } from "../src/sweep/inputs.ts";
import { runSweep } from "../src/sweep/runner.ts";
import { SweepResults } from "../src/sweep/results.ts";
import { loadSweep, planSweep } from "../src/sweep/plan.ts";

// --resume keeps a run only when everything it was computed from is unchanged (issue #14 item 1).

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const tempDir = () => mkdtempSync(join(tmpdir(), "pagesim-resume-"));

/** A study directory: a copy of timeslice-refault.yaml and a sweep over it (3 × 2 = 6 runs). */
function study(timeslices = "[0, 5, 10]"): { dir: string; workload: string; sweep: string } {
  const dir = tempDir();
  mkdirSync(join(dir, "sweeps"));
  const workload = join(dir, "refault.yaml");
  cpSync(join(root, "workloads", "timeslice-refault.yaml"), workload);
  const sweep = join(dir, "sweeps", "s.yaml");
  writeFileSync(sweep, `# a test study\ndescription: resume test\nworkloads: [../refault.yaml]\nparameters:\n  threads.1.steps.0.timesliceMs: ${timeslices}\n  model.hz: [100, 1000]\nsinks: []\n`);
  return { dir, workload, sweep };
}

/** results.sqlite's runs and metrics, timings left out: what a user reads. */
function contents(out: string): { runs: Record<string, unknown>[]; params: unknown[]; metrics: unknown[] } {
  const db = new Database(join(out, "results.sqlite"), { readonly: true });
  try {
    return {
      runs: db.prepare("SELECT run_id, run_index, workload, repetition, seed, status, events, end_ns, digest, run_key, inputs_hash FROM runs ORDER BY run_id").all() as Record<string, unknown>[],
      params: db.prepare("SELECT * FROM run_params ORDER BY run_id, name").all(),
      metrics: db.prepare("SELECT * FROM metrics ORDER BY run_id, name").all(),
    };
  } finally {
    db.close();
  }
}

const simEndMs = (out: string): number[] => {
  const db = new Database(join(out, "results.sqlite"), { readonly: true });
  try {
    return (db.prepare("SELECT value FROM metrics WHERE name = 'sim_end_ms' ORDER BY run_id").all() as { value: number }[]).map((r) => r.value);
  } finally {
    db.close();
  }
};

describe("sweep --resume and its inputs", () => {
  it("re-runs the runs of a workload whose value changed, with the reason, and their metrics change", async () => {
    const s = study();
    const out = join(s.dir, "out");
    const first = await runSweep({ file: s.sweep, outDir: out, jobs: 2 });
    expect([first.ran, first.fresh, first.rerun]).toEqual([6, 6, 0]);
    const before = simEndMs(out);
    writeFileSync(s.workload, readFileSync(s.workload, "utf8").replace("at: 3ms", "at: 7ms"));
    const again = await runSweep({ file: s.sweep, outDir: out, jobs: 2, resume: true });
    expect([again.ran, again.skipped, again.rerun, again.fresh, again.removed]).toEqual([6, 0, 6, 0, 0]);
    expect([...again.rerunReasons]).toEqual([[`workload ${relative(".", s.workload)} changed`, 6]]);
    const after = simEndMs(out);
    expect(after).toHaveLength(6);
    expect(after.some((v, i) => v !== before[i]), "the re-run runs have the new workload's figures").toBe(true);
    // And they are what a fresh sweep of the edited workload records.
    const fresh = join(s.dir, "fresh");
    await runSweep({ file: s.sweep, outDir: fresh, jobs: 2 });
    expect(contents(out)).toEqual(contents(fresh));
  }, 120_000);

  it("re-runs nothing after a comment-only edit of the workload and of the sweep file", async () => {
    const s = study();
    const out = join(s.dir, "out");
    await runSweep({ file: s.sweep, outDir: out, jobs: 2 });
    const recorded = contents(out);
    writeFileSync(s.workload, `# a new comment\n${readFileSync(s.workload, "utf8")}`);
    writeFileSync(s.sweep, readFileSync(s.sweep, "utf8").replace("# a test study", "# a test study, commented again"));
    const again = await runSweep({ file: s.sweep, outDir: out, resume: true });
    expect([again.ran, again.skipped, again.rerun, again.removed]).toEqual([0, 6, 0, 0]);
    expect(contents(out)).toEqual(recorded);
  }, 120_000);

  it("runs only the new runs when the sweep file gains a parameter value (exit 0), and the results equal a fresh sweep's", async () => {
    const s = study("[0, 10]");
    const out = join(s.dir, "out");
    await runSweep({ file: s.sweep, outDir: out, jobs: 2 });
    // 5 goes in the middle: the runs after it move to new ids.
    writeFileSync(s.sweep, readFileSync(s.sweep, "utf8").replace("[0, 10]", "[0, 5, 10]"));
    const cli = spawnSync(process.execPath, ["--import", "tsx", join(root, "src", "cli.ts"), "sweep", s.sweep, "--out", out, "--resume", "--jobs", "2"], { encoding: "utf8", cwd: root });
    expect(cli.stderr).not.toMatch(/different sweep file/);
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/plan: 6 runs \(2 to run, 4 kept\)/);
    expect(cli.stdout).toMatch(/: 2 runs done of 2 to run \(2 new\), 4 kept from before, 0 failed, of 6/);
    const fresh = join(s.dir, "fresh");
    await runSweep({ file: s.sweep, outDir: fresh, jobs: 2 });
    expect(contents(out)).toEqual(contents(fresh));
    expect(readdirSync(join(out, "runs")).sort()).toEqual(["r0000", "r0001", "r0002", "r0003", "r0004", "r0005"]);
    // Each kept run's directory moved with it: its run.json names its own parameters.
    for (const r of contents(out).runs) {
      const manifest = JSON.parse(readFileSync(join(out, "runs", String(r.run_id), "run.json"), "utf8")) as { digest: string };
      expect(manifest.digest, String(r.run_id)).toBe(r.digest);
    }
  }, 120_000);

  it("finishes the run-directory moves a crash cut short, so each kept run keeps its own directory", async () => {
    const s = study("[0, 10]");
    const out = join(s.dir, "out");
    await runSweep({ file: s.sweep, outDir: out, jobs: 2 });
    writeFileSync(s.sweep, readFileSync(s.sweep, "utf8").replace("[0, 10]", "[0, 5, 10]"));
    const plan = planSweep(loadSweep(s.sweep), s.sweep);
    // What a resume records before it moves directories: r0002, r0003 become r0004, r0005.
    const results = new SweepResults(join(out, "results.sqlite"));
    const digestOf = (id: string) => (JSON.parse(readFileSync(join(out, "runs", id, "run.json"), "utf8")) as { digest: string }).digest;
    const moving = { r0002: digestOf("r0002"), r0003: digestOf("r0003") };
    results.reconcile([], [{ from: "r0002", to: plan[4]! }, { from: "r0003", to: plan[5]! }]);
    // The crash: one directory staged, the other not yet, and a stale directory of a killed run.
    mkdirSync(join(out, "runs", ".moving"));
    cpSync(join(out, "runs", "r0002"), join(out, "runs", ".moving", "r0004"), { recursive: true });
    rmSync(join(out, "runs", "r0002"), { recursive: true });
    mkdirSync(join(out, "runs", "r0007"));
    results.close();
    const resumed = await runSweep({ file: s.sweep, outDir: out, resume: true });
    expect([resumed.ran, resumed.skipped]).toEqual([2, 4]);
    expect([digestOf("r0004"), digestOf("r0005")]).toEqual([moving.r0002, moving.r0003]);
    expect(readdirSync(join(out, "runs")).sort()).toEqual(["r0000", "r0001", "r0002", "r0003", "r0004", "r0005"]);
    const fresh = join(s.dir, "fresh");
    await runSweep({ file: s.sweep, outDir: fresh, jobs: 2 });
    expect(contents(out)).toEqual(contents(fresh));
  }, 120_000);

  it("removes the runs a sweep file no longer plans, rows and run directories", async () => {
    const s = study();
    const out = join(s.dir, "out");
    await runSweep({ file: s.sweep, outDir: out, jobs: 2 });
    writeFileSync(s.sweep, readFileSync(s.sweep, "utf8").replace("[0, 5, 10]", "[0, 10]"));
    const again = await runSweep({ file: s.sweep, outDir: out, resume: true });
    expect([again.ran, again.skipped, again.removed]).toEqual([0, 4, 2]);
    const fresh = join(s.dir, "fresh");
    await runSweep({ file: s.sweep, outDir: fresh, jobs: 2 });
    expect(contents(out)).toEqual(contents(fresh));
    expect(readdirSync(join(out, "runs")).sort()).toEqual(["r0000", "r0001", "r0002", "r0003"]);
  }, 120_000);

  it("re-runs the runs whose platform profile changed, a profile named (resolved to its file) or given as a path", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "platforms"));
    const profile = join(dir, "platforms", "local.yaml");
    cpSync(join(root, "workloads", "platforms", "xe-pcie4x8-iommu.yaml"), profile);
    const calibration = readFileSync(join(root, "workloads", "xe-2mib-fault-calibration.yaml"), "utf8");
    writeFileSync(join(dir, "named.yaml"), calibration.replace("platform: xe-pcie4x8-iommu", "platform: local"));
    writeFileSync(join(dir, "path.yaml"), calibration.replace("platform: xe-pcie4x8-iommu", "platform: platforms/local.yaml"));
    writeFileSync(join(dir, "other.yaml"), calibration);
    const sweep = join(dir, "s.yaml");
    writeFileSync(sweep, "description: platform test\nworkloads: [named.yaml, path.yaml, other.yaml]\nsinks: []\n");
    const out = join(dir, "out");
    await runSweep({ file: sweep, outDir: out, jobs: 2 });
    const text = readFileSync(profile, "utf8");
    expect(text).toMatch(/faultDeliveryNs: \d+/);
    writeFileSync(profile, text.replace(/faultDeliveryNs: (\d+)/, (_m, ns: string) => `faultDeliveryNs: ${Number(ns) * 3}`));
    const again = await runSweep({ file: sweep, outDir: out, resume: true });
    expect([again.ran, again.skipped]).toEqual([2, 1]);
    expect([...again.rerunReasons]).toEqual([["platform profile local changed", 1], ["platform profile platforms/local.yaml changed", 1]]);
  }, 120_000);

  it("re-runs every run when the model changed, and every run of a results file without hashes", async () => {
    const s = study();
    const out = join(s.dir, "out");
    await runSweep({ file: s.sweep, outDir: out, jobs: 2 });
    const db = new Database(join(out, "results.sqlite"));
    db.prepare("UPDATE runs SET model_hash = 'an older model', inputs_hash = 'older' WHERE run_index < 4").run();
    db.close();
    const changed = await runSweep({ file: s.sweep, outDir: out, resume: true });
    expect([changed.ran, changed.skipped, [...changed.rerunReasons]]).toEqual([4, 2, [["the model changed", 4]]]);
    // A results file an older pagesim wrote: no hash columns at all.
    const old = new Database(join(out, "results.sqlite"));
    for (const c of ["run_key", "inputs_hash", "model_hash", "workload_hash", "platform_hash"]) old.exec(`ALTER TABLE runs DROP COLUMN ${c}`);
    old.close();
    const older = await runSweep({ file: s.sweep, outDir: out, resume: true });
    expect([older.ran, older.skipped, [...older.rerunReasons]]).toEqual([6, 0, [["recorded by an older pagesim, without input hashes", 6]]]);
  }, 120_000);

  it("hashes every module directory a run imports, and hashes it the same way twice", () => {
    // The import closure of the worker, read from the sources: each file must be in a hashed place.
    const src = join(root, "src");
    const seen = new Set<string>();
    const queue = [join(src, "sweep", "worker.ts")];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const m of readFileSync(file, "utf8").matchAll(/^(?:import|export)(?!\s+type\b)[^;]*?from\s+"(\.[^"]+)"/gm)) queue.push(resolve(dirname(file), m[1]!));
    }
    const hashed = (file: string): boolean => {
      const rel = relative(src, file).split("/");
      if (rel[0] === "sweep") return (MODEL_SWEEP_FILES as readonly string[]).includes(rel[1]!.replace(/\.ts$/, ""));
      return (MODEL_DIRS as readonly string[]).includes(rel[0]!);
    };
    expect([...seen].filter((f) => !hashed(f)).map((f) => relative(src, f))).toEqual([]);
    expect(seen.size).toBeGreaterThan(50);
    expect(modelHash()).toMatch(/^[0-9a-f]{64}$/);
    expect(modelHash()).toBe(modelHash());
    expect(existsSync(join(src, "analysis")) && !(MODEL_DIRS as readonly string[]).includes("analysis")).toBe(true);
  });
});
