import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { loadRuns } from "../src/analysis/results.ts";
import { sqlSource } from "../src/analysis/sql-source.ts";
import { mergeSweeps, runSweep } from "../src/sweep/runner.ts";

// results.sqlite stores parameter values typed and the seed as an integer, and leaves no
// -wal / -shm files beside it (issue #14 item 8).

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const tempDir = () => mkdtempSync(join(tmpdir(), "pagesim-typed-"));

/** 2 policies × 1 HZ on the calibration workload (a platform workload, so policy.name applies). */
function sweepFile(dir: string, repetitions = 2): string {
  const file = join(dir, `s${repetitions}.yaml`);
  writeFileSync(
    file,
    `description: typed values\nworkloads: [${JSON.stringify(join(root, "workloads", "xe-2mib-fault-calibration.yaml"))}]\nparameters:\n  policy.name: [xe, none]\n  model.hz: [100]\n  platform.gpu.migrateNonAtomic: [false]\n  platform.copy.bandwidthGBps: [12.5]\nrepetitions: ${repetitions}\nsinks: []\n`,
  );
  return file;
}

const sidecars = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith("-wal") || f.endsWith("-shm"));

function query<T>(dir: string, sql: string): T[] {
  const db = new Database(join(dir, "results.sqlite"), { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

describe("results.sqlite values", () => {
  it("are typed: integers, reals, text without JSON quotes, booleans as 'true'/'false', the seed an integer; no -wal/-shm left", async () => {
    const dir = tempDir();
    const out = join(dir, "out");
    await runSweep({ file: sweepFile(dir), outDir: out, jobs: 2 });
    const types = Object.fromEntries(query<{ name: string; t: string }>(out, "SELECT name, group_concat(DISTINCT typeof(value)) AS t FROM run_params GROUP BY name").map((r) => [r.name, r.t]));
    // The swept keys, and the two rows each run records about itself (the timeslice: 5 ms for xe, 'unused' for none).
    expect(types).toEqual({ "model.hz": "integer", "policy.name": "text", "platform.gpu.migrateNonAtomic": "text", "platform.copy.bandwidthGBps": "real", timesliceMs: expect.stringMatching(/^(integer,text|text,integer)$/), timesliceFrom: "text" });
    expect(query(out, "SELECT run_id, value FROM run_params WHERE name = 'timesliceMs' ORDER BY run_id")).toEqual([
      { run_id: "r0000", value: 5 },
      { run_id: "r0001", value: 5 },
      { run_id: "r0002", value: "unused" },
      { run_id: "r0003", value: "unused" },
    ]);
    expect(query(out, "SELECT run_id FROM run_params WHERE name = 'policy.name' AND value = 'xe' ORDER BY run_id")).toEqual([{ run_id: "r0000" }, { run_id: "r0001" }]);
    expect(query(out, "SELECT count(*) AS n FROM run_params WHERE name = 'model.hz' AND value = 100")).toEqual([{ n: 4 }]);
    expect(query(out, "SELECT DISTINCT value FROM run_params WHERE name = 'platform.gpu.migrateNonAtomic'")).toEqual([{ value: "false" }]);
    expect(query(out, "SELECT DISTINCT typeof(seed) AS t FROM runs")).toEqual([{ t: "integer" }]);
    expect(sidecars(out)).toEqual([]);
    // The report's reader gives them back as the sweep file said them.
    const db = new Database(join(out, "results.sqlite"), { readonly: true });
    const runs = loadRuns(sqlSource(db));
    db.close();
    expect(runs[0]!.params).toEqual({ "policy.name": "xe", "model.hz": 100, "platform.gpu.migrateNonAtomic": false, "platform.copy.bandwidthGBps": 12.5 });
    expect([runs[0]!.policy, runs[0]!.hz, runs[2]!.policy]).toEqual(["xe", 100, "none"]);
  }, 120_000);

  it("leave no -wal/-shm after pagesim merge, which carries the input hashes, or after a sweep stopped by two SIGINTs", async () => {
    const dir = tempDir();
    const file = sweepFile(dir);
    await runSweep({ file, outDir: join(dir, "all"), jobs: 2 });
    await runSweep({ file, outDir: join(dir, "s1"), jobs: 1, shard: { k: 1, n: 2 } });
    await runSweep({ file, outDir: join(dir, "s2"), jobs: 1, shard: { k: 2, n: 2 } });
    mergeSweeps(join(dir, "merged"), [join(dir, "s1"), join(dir, "s2")], (from, to) => cpSync(from, to, { recursive: true }));
    const rows = "SELECT run_id, run_index, workload, repetition, seed, status, events, digest, run_key, inputs_hash, model_hash, workload_hash, platform_hash FROM runs ORDER BY run_id";
    const merged = query<Record<string, unknown>>(join(dir, "merged"), rows);
    expect(merged).toEqual(query(join(dir, "all"), rows));
    expect(merged.every((r) => typeof r.inputs_hash === "string" && typeof r.model_hash === "string")).toBe(true);
    expect(query(join(dir, "merged"), "SELECT * FROM run_params ORDER BY run_id, name")).toEqual(query(join(dir, "all"), "SELECT * FROM run_params ORDER BY run_id, name"));
    for (const d of ["merged", "s1", "s2"]) expect(sidecars(join(dir, d)), d).toEqual([]);

    // Interrupted: the second SIGINT makes the CLI exit at once, without closing results.sqlite.
    const out = join(dir, "stopped");
    const child = spawn(process.execPath, ["--import", "tsx", join(root, "src", "cli.ts"), "sweep", sweepFile(dir, 40), "--out", out, "--jobs", "1"], { stdio: "ignore", cwd: root });
    // 130 from the CLI's own handler; or, when the second SIGINT lands while Node is already
    // exiting (the first made the sweep stop and return, its handlers are gone), the signal itself.
    const exited = new Promise<number | string | null>((r) => child.once("exit", (code, signal) => r(code ?? signal)));
    // results.sqlite can exist a moment before its tables do (seen in CI): count nothing until then.
    const hasRuns = (): boolean => existsSync(join(out, "results.sqlite")) && query<{ n: number }>(out, "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'runs'")[0]!.n === 1;
    const recorded = (): number => (hasRuns() ? query<{ n: number }>(out, "SELECT count(*) AS n FROM runs")[0]!.n : 0);
    while (child.exitCode === null && recorded() < 2) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 100));
    child.kill("SIGINT");
    expect([130, "SIGINT"]).toContain(await exited);
    expect(recorded()).toBeLessThan(80);
    expect(sidecars(out)).toEqual([]);
  }, 180_000);

  it("of an older results file (JSON text) read back the same, and become typed when the sweep resumes", async () => {
    const dir = tempDir();
    const out = join(dir, "out");
    await runSweep({ file: sweepFile(dir), outDir: out, jobs: 2 });
    // Rewrite it as an older pagesim wrote it: JSON-text values in a TEXT column, WAL mode.
    const db = new Database(join(out, "results.sqlite"));
    const params = db.prepare("SELECT run_id, name, value FROM run_params").all() as { run_id: string; name: string; value: unknown }[];
    db.exec("DROP TABLE run_params; CREATE TABLE run_params (run_id TEXT, name TEXT, value TEXT, PRIMARY KEY (run_id, name))");
    const put = db.prepare("INSERT INTO run_params VALUES (?, ?, ?)");
    const asYaml = (v: unknown): unknown => (v === "true" ? true : v === "false" ? false : v);
    for (const p of params) put.run(p.run_id, p.name, JSON.stringify(asYaml(p.value)));
    const before = loadRuns(sqlSource(db)).map((r) => r.params);
    db.close();
    expect(before[0]).toEqual({ "policy.name": "xe", "model.hz": 100, "platform.gpu.migrateNonAtomic": false, "platform.copy.bandwidthGBps": 12.5 });
    await runSweep({ file: sweepFile(dir), outDir: out, resume: true });
    expect(query(out, "SELECT run_id, name, value FROM run_params ORDER BY run_id, name")).toEqual(params.sort((a, b) => (a.run_id + a.name < b.run_id + b.name ? -1 : 1)));
  }, 120_000);
});
