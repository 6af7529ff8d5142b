import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { parseHTML } from "linkedom";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { writeReport } from "../src/analysis/write-report.ts";
import { formatSweepTable } from "../src/cli/sweep-table.ts";
import { runSweep } from "../src/sweep/runner.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const SWEEPS = join(root, "workloads", "sweeps");

/**
 * What each shipped sweep's runs ask migrations to be stamped with, by hand from the sweep and
 * workload files (independent of the code under test): the label the report must give each run.
 */
const EXPECTED: Record<string, (params: Record<string, unknown>) => string> = {
  // xe and notifier-block hold for the platform's atomic_svm_timeslice_ms; the rest read none.
  "default.yaml": (p) => (["xe", "notifier-block"].includes(String(p["policy.name"])) ? `${String(p["platform.gpu.atomicTimesliceMs"])} ms` : "not used"),
  // timeslice-refault's GPU thread populates with the step's own timeslice (no platform, no policy).
  "timeslice-hz.yaml": (p) => `${String(p["threads.1.steps.0.timesliceMs"])} ms`,
  // thp-vs-4k runs xe on the Xe profile, whose atomic_svm_timeslice_ms is 5.
  "thp-vs-4k.yaml": () => "5 ms",
};

type Sweep = { workloads: string[]; parameters: Record<string, unknown[]>; exclude?: Record<string, unknown>[]; repetitions?: number };

/** The sweep, small: one repetition, no event logs, and one HZ where its exclude rules allow. */
function small(file: string, dir: string): string {
  const sweep = parse(readFileSync(join(SWEEPS, file), "utf8")) as Sweep;
  const parameters = { ...sweep.parameters };
  if ("model.hz" in parameters && !JSON.stringify(sweep.exclude ?? []).includes("model.hz")) parameters["model.hz"] = [250];
  const out = join(dir, file);
  writeFileSync(out, stringify({ ...sweep, workloads: sweep.workloads.map((w) => resolve(SWEEPS, w)), parameters, repetitions: 1, sinks: [] }));
  return out;
}

/** Every row of the report's configuration tables: variant, policy, timeslice, HZ. */
function reportRows(html: string): { variant: string; policy: string; timeslice: string; hz: string }[] {
  const { document } = parseHTML(html);
  return [...document.querySelectorAll("table.configs")].flatMap((t) =>
    [...t.querySelectorAll("tbody tr")].map((tr) => {
      const cells = [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "");
      return { variant: t.getAttribute("data-variant") ?? "", policy: cells[0]!, timeslice: cells[1]!, hz: cells[2]! };
    }),
  );
}

describe("every shipped sweep is labelled with its runs' recorded timeslice", () => {
  it("has an expectation for each file in workloads/sweeps", () => {
    expect(readdirSync(SWEEPS).filter((f) => f.endsWith(".yaml")).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.keys(EXPECTED))("%s: run_params records each run's timeslice; the report and the sweep table show it", async (file) => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-ts-labels-"));
    const summary = await runSweep({ file: small(file, dir), outDir: join(dir, "out"), jobs: 2, yes: true });
    expect(summary.failed).toBe(0);
    const db = new Database(join(dir, "out", "results.sqlite"), { readonly: true });
    const params = new Map<string, Record<string, unknown>>();
    for (const r of db.prepare("SELECT run_id, name, value FROM run_params").all() as { run_id: string; name: string; value: unknown }[])
      params.set(r.run_id, { ...params.get(r.run_id), [r.name]: r.value });
    db.close();
    expect(params.size).toBeGreaterThan(0);

    const expected = new Map([...params].map(([id, p]) => [id, EXPECTED[file]!(p)]));

    // The report's configuration tables: no "default" (the value is known), every expected label
    // present, and the swept timeslice key never left over as an "other setting".
    writeReport(join(dir, "out"));
    const rows = reportRows(readFileSync(join(dir, "out", "report.html"), "utf8"));
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => r.timeslice)), `${file}: the report's timeslice labels`).toEqual(new Set(expected.values()));
    for (const r of rows) expect(r.variant, "the timeslice is an axis, not another setting").not.toMatch(/timesliceMs/i);

    // The labels come from the recorded parameter: what the run's configuration asks for.
    for (const [id, p] of params) {
      const recorded = p.timesliceMs;
      expect(recorded === "unused" ? "not used" : `${String(recorded)} ms`, `${file} ${id} run_params timesliceMs`).toBe(expected.get(id));
    }

    // The npm start table labels the same way.
    const [head, ...lines] = formatSweepTable(join(dir, "out")).split("\n").filter((l) => l.trim() !== "");
    const column = head!.split(/\s{2,}/).indexOf("timeslice");
    expect(column, "the sweep table has a timeslice column").toBeGreaterThanOrEqual(0);
    expect(new Set(lines.map((l) => l.split(/\s{2,}/)[column])), `${file}: the sweep table's timeslice labels`).toEqual(new Set(expected.values()));
  }, 120_000);
});
