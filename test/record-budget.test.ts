import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tableFromIPC } from "apache-arrow";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { countOption, sizeOption } from "../src/cli/budget-args.ts";
import { DEFAULT_BUDGET, RunBudgetError } from "../src/record/budget.ts";
import { recordRun } from "../src/record/run-dir.ts";
import { loadWorkload } from "../src/workload/load.ts";

const cli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { encoding: "utf8" });

/** ~200k events, ~47 MB of Arrow log when it runs to the end. */
function longWorkload(): string {
  const dir = mkdtempSync(join(tmpdir(), "pagesim-budget-"));
  const steps = Array.from({ length: 400 }, () => "      - { op: write, addr: 0x4000000, pages: 512, after: 1us }").join("\n");
  const file = join(dir, "long.yaml");
  writeFileSync(file, `description: a run longer than its budget\nseed: 1\nmappings:\n  - { addr: 0x4000000, size: 2MiB }\nthreads:\n  - name: cpu0\n    steps:\n${steps}\n`);
  return file;
}

describe("run budgets", () => {
  it("--max-events: the run stops past it with a sentence (exit 1), keeps a complete log up to there, and verify passes", () => {
    const out = join(mkdtempSync(join(tmpdir(), "pagesim-budget-")), "run");
    const r = cli("run", longWorkload(), "--out", out, "--max-events", "5000");
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/the run passed its --max-events budget \(5000 events\) and stopped after \d+ events/);
    expect(r.stderr).toMatch(/raise the limit: --max-events N \(pagesim run or pagesim sweep\), or 0 for no limit/);
    expect(r.stderr).toContain(`pagesim sqlite ${out} fills it`);
    const manifest = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect(manifest.status).toBe("stopped: budget");
    expect(manifest.budget).toMatchObject({ passed: "max-events", limit: 5000, events: manifest.events });
    expect(manifest.events).toBe(5001); // on the event that passes it, not at the end (~200k)
    expect(tableFromIPC(readFileSync(join(out, "events.arrow"))).numRows).toBe(manifest.events);
    expect(readdirSync(out).sort()).toEqual(["events.arrow", "run.json", "workload.yaml"]);
    const v = cli("verify", out);
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain(`events.sqlite holds the same ${manifest.events} rows`);
  });

  it("--max-bytes: the run stops once its Arrow log passes the size, keeping it whole", () => {
    const out = join(mkdtempSync(join(tmpdir(), "pagesim-budget-")), "run");
    const r = cli("run", longWorkload(), "--out", out, "--max-bytes", "1MB", "--sink", "arrow");
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/the run passed its --max-bytes budget \(1\.0 MB\) and stopped after \d+ events, [\d.]+ MB of log/);
    const manifest = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect(manifest.status).toBe("stopped: budget");
    expect(manifest.budget.passed).toBe("max-bytes");
    const bytes = readFileSync(join(out, "events.arrow")).length;
    expect(manifest.files["events.arrow"].bytes).toBe(bytes);
    expect(bytes).toBeGreaterThan(1e6);
    expect(bytes).toBeLessThan(40e6); // one batch or so past it, not the whole ~47 MB run
    expect(cli("verify", out).status).toBe(0);
  });

  it("a budget of 0 lifts the limit; a bad value is a usage error naming the flag", () => {
    expect(sizeOption("max-bytes", "0")).toBe(Infinity);
    expect(sizeOption("max-bytes", "4GB")).toBe(4e9);
    expect(sizeOption("max-bytes", "512MiB")).toBe(512 * 1024 ** 2);
    expect(sizeOption("max-bytes", "1.5gib")).toBe(1.5 * 1024 ** 3);
    expect(countOption("max-events", "50M")).toBe(50e6);
    const bad = cli("run", "workloads/device-unbind.yaml", "--out", join(mkdtempSync(join(tmpdir(), "pagesim-budget-")), "run"), "--max-bytes", "4XB");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--max-bytes: expected a size such as 4GB, 512MiB or 1000000 (bytes), or 0 for no limit, got "4XB"');
  });

  it("recordRun applies the default budget to every caller (sweep runs included); a run past it throws RunBudgetError after saving", async () => {
    expect(DEFAULT_BUDGET).toEqual({ maxEvents: 20_000_000, maxBytes: 4 * 1024 ** 3 });
    const file = "workloads/timeslice-refault.yaml";
    const outDir = join(mkdtempSync(join(tmpdir(), "pagesim-budget-")), "run");
    const run = recordRun({ file, workload: loadWorkload(file), outDir, sinks: ["arrow"], budget: { maxEvents: 1000 } });
    await expect(run).rejects.toBeInstanceOf(RunBudgetError);
    const manifest = JSON.parse(readFileSync(join(outDir, "run.json"), "utf8"));
    expect(manifest.budget.limit).toBe(1000);
    expect(manifest.status).toBe("stopped: budget");
  });

  it("pagesim sweep --max-events gives every run that budget: a run past it is recorded as failed, saying which budget, and its files are kept", () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-budget-"));
    const sweep = join(dir, "s.yaml");
    writeFileSync(sweep, `description: one run longer than its budget\nworkloads: [${JSON.stringify(longWorkload())}]\n`);
    const out = join(dir, "out");
    const r = cli("sweep", sweep, "--out", out, "--jobs", "1", "--max-events", "5000");
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain("1 failed, of 1");
    const db = new Database(join(out, "results.sqlite"), { readonly: true });
    const row = db.prepare("SELECT status, error FROM runs").get() as { status: string; error: string };
    db.close();
    expect(row.status).toBe("failed");
    expect(row.error).toMatch(/passed its --max-events budget \(5000 events\) and stopped after 5001 events/);
    expect(JSON.parse(readFileSync(join(out, "runs", "r0000", "run.json"), "utf8")).status).toBe("stopped: budget");
  });
});
