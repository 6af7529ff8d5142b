import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, truncateSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadWorkload } from "../src/workload/load.ts";
import { recordRun } from "../src/record/run-dir.ts";
import { formatMetrics, metricsFromRunDir } from "../src/record/log-metrics.ts";
import { readEventRows } from "../src/record/reader.ts";
import { editArrowRow } from "./support/arrow-edit.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const BUNDLED = readdirSync(join(root, "workloads")).filter((f) => f.endsWith(".yaml")).sort().map((f) => `workloads/${f}`);

function pagesim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { cwd: root, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tempDir = () => mkdtempSync(join(tmpdir(), "pagesim-metrics-"));

describe("pagesim metrics: a run's metrics recomputed from its events.arrow", () => {
  it("equal exactly what the run reported and stored in run.json, every metric, on every bundled workload", { timeout: 600_000 }, async () => {
    expect(BUNDLED.length).toBe(28);
    for (const file of BUNDLED) {
      const outDir = tempDir();
      const { report, manifest } = await recordRun({ file, workload: loadWorkload(file), outDir, sinks: ["arrow"] });
      const stored = JSON.parse(readFileSync(join(outDir, "run.json"), "utf8")).metrics;
      const { metrics } = await metricsFromRunDir(outDir);
      expect(Object.keys(metrics).length, file).toBe(manifest.workload.resolved.platformProfile === undefined ? 42 : 53);
      expect(metrics, `${file}: from the log vs run.json`).toEqual(stored);
      expect(metrics, `${file}: from the log vs what run reported`).toEqual(report.metrics);
      expect(manifest.metrics).toEqual(report.metrics);
    }
  });

  it("the CLI prints what `pagesim run` printed and stored, as text and as JSON", () => {
    const dir = join(tempDir(), "run");
    const run = pagesim("run", "workloads/atomic-contention.yaml", "--sink", "arrow", "--out", dir, "--json");
    expect(run.status, run.stderr).toBe(0);
    const printed = JSON.parse(run.stdout) as { manifest: { metrics: Record<string, number> }; report: { metrics: Record<string, number> } };
    const json = pagesim("metrics", dir, "--json");
    expect(json.status, json.stderr).toBe(0);
    const recomputed = JSON.parse(json.stdout) as Record<string, number>;
    expect(recomputed).toEqual(printed.report.metrics);
    expect(recomputed).toEqual(printed.manifest.metrics);
    expect(recomputed.gpu_access_failures).toBe(0);
    expect(recomputed.gpu_accesses).toBe(40);
    const text = pagesim("metrics", dir);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout.trimEnd()).toBe(formatMetrics(printed.manifest.metrics));
    expect(text.stdout).toMatch(/^cpu_accesses +912$/m);
  });

  it("bad input: exit 2 and one sentence naming the directory or file, no JavaScript message", async () => {
    const missing = join(tempDir(), "nowhere");
    const notRun = tempDir();
    const noArrow = join(tempDir(), "run");
    const none = pagesim("run", "workloads/irq-free-sync-release.yaml", "--sink", "none", "--out", noArrow);
    expect(none.status, none.stderr).toBe(0);
    const damaged = join(tempDir(), "run");
    await recordRun({ file: "workloads/irq-free-sync-release.yaml", workload: loadWorkload("workloads/irq-free-sync-release.yaml"), outDir: damaged, sinks: ["arrow"] });
    const arrow = join(damaged, "events.arrow");
    truncateSync(arrow, Math.floor(statSync(arrow).size / 2));
    const badJson = tempDir();
    writeFileSync(join(badJson, "run.json"), "{ not json");
    for (const [dir, message] of [
      [missing, `${missing}: not a run directory (no such directory)`],
      [notRun, `${notRun}: not a run directory (no run.json)`],
      [noArrow, `${noArrow}: no events.arrow (the run recorded with --sink none); pagesim metrics reads the Arrow log`],
      [damaged, `events.arrow: truncated or damaged after`],
      [badJson, `${join(badJson, "run.json")}: not a readable run.json`],
    ] as const) {
      const r = pagesim("metrics", dir);
      expect(r.status, `${dir}: ${r.stderr}`).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(message);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).not.toMatch(/TypeError|ENOENT|Cannot read|at .*\.ts:\d+/);
    }
  });

  it("an altered row is refused, naming its seq (exit 2)", async () => {
    const dir = join(tempDir(), "run");
    const file = "workloads/irq-free-sync-release.yaml";
    await recordRun({ file, workload: loadWorkload(file), outDir: dir, sinks: ["arrow"] });
    let seq = -1;
    for await (const row of readEventRows(join(dir, "events.arrow"))) if (row.kind === "access.end" && seq < 0) seq = row.seq;
    expect(seq).toBeGreaterThan(0);
    await editArrowRow(dir, seq, (row) => void (row.thread = (row.thread as number) + 1));
    const r = pagesim("metrics", dir);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`events.arrow, event seq ${seq}: the row's values do not match its checksum`);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
