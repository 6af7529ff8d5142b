// The README's Slurm job array, run for real: a single-node Slurm cluster (scripts/setup-slurm.sh,
// Debian's slurm-wlm and munge) runs a sharded sweep as a job array with `sbatch --wait`, the
// shards are merged with `pagesim merge`, and the merged results.sqlite must equal a sweep run on
// one machine, row for row. Not part of `npm test`: run it with `npm run test:cluster` (as root:
// it installs packages and starts daemons, and stops them at the end).
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const cli = join(root, "dist/src/cli.js");
const setup = join(root, "scripts/setup-slurm.sh");
const slurmDir = mkdtempSync(join(tmpdir(), "pagesim-slurm-"));
const env = { ...process.env, PAGESIM_SLURM_DIR: slurmDir, SLURM_CONF: join(slurmDir, "slurm.conf") };
const SHARDS = 3;

/**
 * The only columns that may differ between two runs of the same sweep: wall-clock time. Nothing
 * else is left out, the `sweep` table included: merged shards 1..N say shard "" and the whole
 * plan's planned_runs, as a single machine's sweep does.
 */
const WALL_CLOCK_COLUMNS = new Set(["wall_ms"]);

function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: "utf8", timeout: 300_000 });
}

function explain(r: SpawnSyncReturns<string>): string {
  return `exit ${r.status}${r.signal === null ? "" : ` (${r.signal})`}\n${r.stdout}\n${r.stderr}`;
}

/**
 * Every table of a results.sqlite, each row as SQL literals (quote() keeps the type: 1, 1.0 and
 * '1' differ), wall-clock columns left out, rows sorted. Tables and columns come
 * from the file itself, so a column added to the schema is compared without touching this test.
 */
function dump(path: string): Record<string, { columns: string[]; rows: string[][] }> {
  const db = new Database(path, { readonly: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    const out: Record<string, { columns: string[]; rows: string[][] }> = {};
    for (const table of tables) {
      const columns = (db.prepare(`SELECT name FROM pragma_table_info(?) ORDER BY cid`).all(table) as { name: string }[])
        .map((c) => c.name)
        .filter((c) => !WALL_CLOCK_COLUMNS.has(c));
      const select = `SELECT ${columns.map((c) => `quote("${c}")`).join(", ")} FROM "${table}" ORDER BY ${columns.map((_, i) => i + 1).join(", ")}`;
      const rows = db.prepare(select).raw().all() as string[][];
      out[table] = { columns, rows };
    }
    return out;
  } finally {
    db.close();
  }
}

function query<T>(path: string, sql: string): T[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

let work: string;
let single: string;

beforeAll(() => {
  const r = run("bash", [setup], root);
  if (r.status !== 0) throw new Error(`scripts/setup-slurm.sh failed: ${explain(r)}`);
  expect(r.stdout).toMatch(/node \S+ idle/);
  // Two workloads (one whose outcome depends on HZ, one quick) × 3 HZ values × 2 repetitions =
  // 12 runs, each under a second; the default sink, so each run also writes its Arrow log.
  work = mkdtempSync(join(tmpdir(), "pagesim-cluster-"));
  writeFileSync(
    join(work, "S.yaml"),
    [
      "description: cluster test sweep",
      `workloads: [${["timeslice-refault", "dma-map-failure"].map((w) => JSON.stringify(join(root, "workloads", `${w}.yaml`))).join(", ")}]`,
      "parameters:",
      "  model.hz: [100, 250, 1000]",
      "repetitions: 2",
      "seed: 1",
      "",
    ].join("\n"),
  );
  single = join(work, "single");
  const s = run("node", [cli, "sweep", "S.yaml", "--out", single, "--jobs", "1"], work);
  if (s.status !== 0) throw new Error(`single-machine sweep failed: ${explain(s)}`);
}, 600_000);

afterAll(() => {
  const r = run("bash", [setup, "--stop"], root);
  rmSync(slurmDir, { recursive: true, force: true });
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
  expect(r.status, explain(r)).toBe(0);
}, 120_000);

describe("the README's Slurm job array on a single-node cluster", () => {
  it("runs every shard as an array task, and the merged shards equal a single-machine sweep row for row", () => {
    // The README's sweep.sh, adapted: one CPU per task (this machine may have two), the CLI by
    // path (the job runs in the sweep's directory, not a checkout), and a line saying which task ran.
    writeFileSync(
      join(work, "sweep.sh"),
      [
        "#!/bin/bash",
        `#SBATCH --array=1-${SHARDS} --cpus-per-task=1 --time=00:10:00`,
        'cd "$SLURM_SUBMIT_DIR"',
        'echo "array task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID"',
        `node ${JSON.stringify(cli)} sweep S.yaml --jobs "$SLURM_CPUS_PER_TASK" \\`,
        `  --shard "$SLURM_ARRAY_TASK_ID/${SHARDS}" --out "shard-$SLURM_ARRAY_TASK_ID" --resume`,
        "",
      ].join("\n"),
    );
    const sb = run("sbatch", ["--wait", "sweep.sh"], work);
    // With --wait, sbatch exits with the highest exit status of the array's tasks.
    expect(sb.status, explain(sb)).toBe(0);
    const jobId = /Submitted batch job (\d+)/.exec(sb.stdout)?.[1];
    expect(jobId, sb.stdout).toBeDefined();

    const planned = Number(query<{ value: string }>(join(single, "results.sqlite"), "SELECT value FROM sweep WHERE key = 'planned_runs'")[0]?.value);
    expect(planned).toBe(12);
    const shardRunIds: string[] = [];
    for (let k = 1; k <= SHARDS; k++) {
      // Slurm's own output file for array task k says it ran as that task of this job.
      expect(readFileSync(join(work, `slurm-${jobId}_${k}.out`), "utf8")).toContain(`array task ${k} of job ${jobId}`);
      const results = join(work, `shard-${k}`, "results.sqlite");
      expect(query<{ value: string }>(results, "SELECT value FROM sweep WHERE key = 'shard'")).toEqual([{ value: `${k}/${SHARDS}` }]);
      const runs = query<{ run_id: string; status: string }>(results, "SELECT run_id, status FROM runs ORDER BY run_id");
      expect(runs.length, `shard ${k}`).toBeGreaterThan(0);
      expect(runs.filter((r) => r.status !== "complete"), `shard ${k}`).toEqual([]);
      shardRunIds.push(...runs.map((r) => r.run_id));
    }
    // The shards cover the plan exactly once: no run twice, none missing.
    const plan = Array.from({ length: planned }, (_, i) => `r${String(i).padStart(4, "0")}`);
    expect([...shardRunIds].sort()).toEqual(plan);
    expect(query<{ run_id: string }>(join(single, "results.sqlite"), "SELECT run_id FROM runs ORDER BY run_id").map((r) => r.run_id)).toEqual(plan);

    const shardDirs = Array.from({ length: SHARDS }, (_, i) => `shard-${i + 1}`);
    const m = run("node", [cli, "merge", "merged", ...shardDirs], work);
    expect(m.status, explain(m)).toBe(0);
    expect(m.stdout).toContain(`merged ${planned} runs from ${SHARDS} shards`);

    const merged = dump(join(work, "merged", "results.sqlite"));
    const whole = dump(join(single, "results.sqlite"));
    expect(Object.keys(merged)).toEqual(Object.keys(whole));
    for (const table of Object.keys(whole)) expect(merged[table], table).toEqual(whole[table]);
    expect(whole.runs?.rows).toHaveLength(planned);
    expect(whole.metrics?.rows.length).toBeGreaterThan(planned);
    // Each run's directory came along, its event log byte for byte the single machine's.
    expect(readdirSync(join(work, "merged", "runs")).sort()).toEqual(plan);
    for (const id of plan) {
      expect(existsSync(join(work, "merged", "runs", id, "run.json")), id).toBe(true);
      expect(sha256(join(work, "merged", "runs", id, "events.arrow")), id).toBe(sha256(join(single, "runs", id, "events.arrow")));
    }
  }, 600_000);
});
