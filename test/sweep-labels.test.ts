import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openResults } from "../src/analysis/better-sqlite.ts";
import { buildReport } from "../src/analysis/report.ts";
import { loadRuns } from "../src/analysis/results.ts";
import { variantOf } from "../src/analysis/settings.ts";
import { formatSweepTable } from "../src/cli/sweep-table.ts";
import { runSweep } from "../src/sweep/runner.ts";

// A sweep label (`label.<name>`, src/sweep/plan.ts) names a zip group's rows: it is recorded with
// each run's parameters, never applied to the workload, and shown by the table and the report in
// place of the settings it stands for.

const tempDir = () => mkdtempSync(join(tmpdir(), "pagesim-labels-"));

function labelledSweep(dir: string): string {
  const file = join(dir, "s.yaml");
  writeFileSync(
    file,
    [
      "description: a labelled zip group",
      `workloads: [${JSON.stringify(resolve("workloads/atomic-ping-pong.yaml"))}]`,
      "parameters:",
      "  model.hz: [250]",
      "zip:",
      "  - label.kernel: [seed-era, current]",
      "    model.variant: [seed, newest]",
      "    platform.dma.iommu: [strict, iova]",
      "sinks: []",
      "",
    ].join("\n"),
  );
  return file;
}

describe("sweep labels", () => {
  it("are recorded per run, never applied to the workload, and name the runs in the table and the report", async () => {
    const dir = tempDir();
    const out = join(dir, "out");
    const summary = await runSweep({ file: labelledSweep(dir), outDir: out, jobs: 2 });
    expect([summary.ran, summary.failed]).toEqual([2, 0]);

    const db = new Database(join(out, "results.sqlite"), { readonly: true });
    const params = db.prepare("SELECT run_id, name, value FROM run_params WHERE name IN ('label.kernel', 'model.variant', 'platform.dma.iommu') ORDER BY run_id, name").all();
    const labels = (db.prepare("SELECT value FROM sweep WHERE key = 'labels'").get() as { value: string }).value;
    db.close();
    expect(params).toEqual([
      { run_id: "r0000", name: "label.kernel", value: "seed-era" },
      { run_id: "r0000", name: "model.variant", value: "seed" },
      { run_id: "r0000", name: "platform.dma.iommu", value: "strict" },
      { run_id: "r0001", name: "label.kernel", value: "current" },
      { run_id: "r0001", name: "model.variant", value: "newest" },
      { run_id: "r0001", name: "platform.dma.iommu", value: "iova" },
    ]);
    expect(JSON.parse(labels)).toEqual({ "label.kernel": ["model.variant", "platform.dma.iommu"] });

    // The run applied the settings, not the label (a label is no workload key).
    const manifest = JSON.parse(readFileSync(join(out, "runs", "r0001", "run.json"), "utf8")) as { overrides?: Record<string, unknown>; modelVariant?: string };
    expect(existsSync(join(out, "runs", "r0001", "run.json"))).toBe(true);
    expect(JSON.stringify(manifest)).not.toContain("label.kernel");
    expect(JSON.stringify(manifest)).toContain("newest");

    const src = openResults(join(out, "results.sqlite"));
    const runs = loadRuns(src);
    const html = buildReport(src).html;
    src.close();
    expect(runs.map((r) => [r.labels, r.labelled])).toEqual([
      [[["kernel", "seed-era"]], ["model.variant", "platform.dma.iommu"]],
      [[["kernel", "current"]], ["model.variant", "platform.dma.iommu"]],
    ]);
    expect(runs.map(variantOf)).toEqual(["atomic-ping-pong.yaml · kernel: seed-era", "atomic-ping-pong.yaml · kernel: current"]);
    expect(html).toContain('data-variant="atomic-ping-pong.yaml · kernel: seed-era"');
    expect(html).toContain('data-variant="atomic-ping-pong.yaml · kernel: current"');
    expect(html, "the header says what each label stands for").toContain("Label kernel: seed-era = model.variant=seed, platform.dma.iommu=strict; current = model.variant=newest, platform.dma.iommu=iova;");

    const [head, ...rows] = formatSweepTable(out).split("\n");
    expect(head).toMatch(/^kernel\s+policy\s+timeslice\s+HZ\s+GPU work\/s/);
    expect(rows.map((r) => r.split(/\s+/)[0])).toEqual(["seed-era", "current"]);
    expect(rows.join("\n"), "the label stands for its settings: they are not repeated").not.toMatch(/variant=|iommu=/);
  }, 120_000);

  it("a key without the label. prefix is a workload setting, and an unknown one is refused", async () => {
    const dir = tempDir();
    const file = labelledSweep(dir);
    writeFileSync(file, readFileSync(file, "utf8").replace("label.kernel", "kernel"));
    await expect(runSweep({ file, outDir: join(dir, "out") })).rejects.toThrow(/run r0000 \(model\.hz=250, kernel=seed-era/);
    expect(existsSync(join(dir, "out"))).toBe(false);
  });
});
