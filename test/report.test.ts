import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { parseHTML } from "linkedom";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import type { ConfigSummary } from "../src/analysis/aggregate.ts";
import { openResults } from "../src/analysis/better-sqlite.ts";
import { hzReading } from "../src/analysis/chart-hz.ts";
import { latencyReading } from "../src/analysis/chart-latency.ts";
import { migrationReading } from "../src/analysis/chart-migrations.ts";
import { markFrontier, paretoReading } from "../src/analysis/chart-pareto.ts";
import { workReading } from "../src/analysis/chart-work.ts";
import { formatValue } from "../src/analysis/format.ts";
import { buildReport } from "../src/analysis/report.ts";
import { loadRuns, type RunRow } from "../src/analysis/results.ts";
import { writeReport } from "../src/analysis/write-report.ts";
import { runSweep } from "../src/sweep/runner.ts";
import { writeSyntheticResults } from "./support/synthetic-results.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const tempDir = () => mkdtempSync(join(tmpdir(), "pagesim-report-"));
const ALL_CHARTS = ["work", "pareto", "latency", "migrations", "hz"];

/** The marks each chart must show at least one of: line paths, dots, and (binned rates) bars. */
const MARKS: Record<string, { lines: boolean; dots: boolean; bars: boolean }> = {
  work: { lines: true, dots: true, bars: false },
  pareto: { lines: true, dots: true, bars: false },
  latency: { lines: true, dots: true, bars: false },
  migrations: { lines: false, dots: false, bars: true },
  hz: { lines: true, dots: true, bars: false },
};

/** Runs the CLI as a user would; async, so the bad-input cases start together. */
function pagesim(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { cwd: root, encoding: "utf8" }, (error, stdout, stderr) => {
      done({ status: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr });
    });
  });
}

/** What a chart section looks like once the browser has laid it out. */
interface RenderedChart {
  id: string;
  missing: boolean;
  title: string;
  reading: string;
  note: string;
  svgs: { width: number; height: number; linePaths: number; dots: number; bars: number; marksWidth: number; marksHeight: number }[];
}

/** The little of the DOM the page inspection uses (the compiler has no DOM library here). */
interface PageElement {
  getAttribute(name: string): string | null;
  classList: { contains(name: string): boolean };
  textContent: string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
  getBoundingClientRect(): { left: number; right: number; top: number; bottom: number; width: number; height: number };
}

let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await browser?.close();
});

/** Opens the page in Chromium and reads every chart section, the console errors and any request made. */
async function openInBrowser(file: string): Promise<{ charts: RenderedChart[]; errors: string[]; requests: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("request", (r) => requests.push(r.url()));
  const url = pathToFileURL(file).href;
  await page.goto(url, { waitUntil: "load" });
  // Runs in the page: plain DOM calls, typed loosely since the compiler has no DOM library here.
  const charts = (await page.$$eval("section.chart", (sections: PageElement[]) =>
    sections.map((s) => {
      const box = (els: Iterable<PageElement>) => {
        let [left, right, top, bottom] = [Infinity, -Infinity, Infinity, -Infinity];
        for (const el of els) {
          const b = el.getBoundingClientRect();
          [left, right, top, bottom] = [Math.min(left, b.left), Math.max(right, b.right), Math.min(top, b.top), Math.max(bottom, b.bottom)];
        }
        return { width: Math.max(0, right - left), height: Math.max(0, bottom - top) };
      };
      return {
        id: s.getAttribute("data-chart"),
        missing: s.classList.contains("missing"),
        title: s.querySelector("h2")?.textContent ?? "",
        reading: s.querySelector("p.reading")?.textContent ?? "",
        note: s.querySelector("p.note")?.textContent ?? "",
        svgs: Array.from(s.querySelectorAll("svg")).map((svg) => {
          const b = svg.getBoundingClientRect();
          const marks = box(svg.querySelectorAll('g[aria-label="line"] path, g[aria-label="dot"] circle, g[aria-label="rect"] rect'));
          const count = (selector: string) => Array.from(svg.querySelectorAll(selector)).length;
          return { width: b.width, height: b.height, linePaths: count('g[aria-label="line"] path'), dots: count('g[aria-label="dot"] circle'), bars: count('g[aria-label="rect"] rect'), marksWidth: marks.width, marksHeight: marks.height };
        }),
      };
    }),
  )) as RenderedChart[];
  await page.close();
  return { charts, errors, requests: requests.filter((r) => r !== url) };
}

describe("pagesim report", () => {
  it("draws every chart from results with the new metrics and series; the page loads offline with no error", async () => {
    const dir = tempDir();
    writeSyntheticResults(dir);
    const { path, charts } = writeReport(dir);
    expect(path).toBe(join(dir, "report.html"));
    expect(charts).toEqual(ALL_CHARTS);
    const html = readFileSync(path, "utf8");
    expect(html, "no external reference of any kind").not.toMatch(/(src|href)=["'](?!#)|url\(|@import|<script/i);
    expect(html, "a failed run's error is escaped").toContain("&lt;script&gt;alert(1)&lt;/script&gt; &amp; EBUSY");

    const page = await openInBrowser(path);
    expect(page.errors).toEqual([]);
    expect(page.requests, "the page fetches nothing").toEqual([]);
    expect(page.charts.map((c) => c.id)).toEqual(ALL_CHARTS);
    for (const chart of page.charts) {
      expect(chart.missing, chart.id).toBe(false);
      expect(chart.title.length, `${chart.id} title`).toBeGreaterThan(5);
      expect(chart.reading, `${chart.id} reading`).toMatch(/\d.*\.$/);
      expect(chart.svgs.length, chart.id).toBeGreaterThan(0);
      for (const svg of chart.svgs) {
        expect(svg.width * svg.height, `${chart.id} svg laid out`).toBeGreaterThan(10_000);
        if (MARKS[chart.id]!.lines) expect(svg.linePaths, `${chart.id} lines`).toBeGreaterThan(0);
        if (MARKS[chart.id]!.dots) expect(svg.dots, `${chart.id} dots`).toBeGreaterThan(0);
        if (MARKS[chart.id]!.bars) expect(svg.bars, `${chart.id} bars`).toBeGreaterThan(0);
        expect(svg.marksWidth * svg.marksHeight, `${chart.id} marks drawn`).toBeGreaterThan(100);
      }
    }
  });

  it("gives the same bytes for the same results, and readings that follow the data", () => {
    const dir = tempDir();
    writeSyntheticResults(join(dir, "a"));
    const first = writeReport(join(dir, "a"), { out: join(dir, "one.html") });
    const second = writeReport(join(dir, "a"), { out: join(dir, "two.html") });
    expect(readFileSync(second.path, "utf8")).toBe(readFileSync(first.path, "utf8"));

    // Same sweep, a different trade: the timeslice buys more GPU work and costs less CPU work.
    writeSyntheticResults(join(dir, "b"), { gpuGain: 0.3, cpuCost: 0.01 });
    const readings = (sub: string) => {
      const src = openResults(join(dir, sub, "results.sqlite"));
      try {
        return [...buildReport(src).html.matchAll(/<p class="reading">([^<]*)<\/p>/g)].map((m) => m[1]);
      } finally {
        src.close();
      }
    };
    const [a, b] = [readings("a"), readings("b")];
    expect(a).toHaveLength(5);
    expect(a[0]).toMatch(/^At 5 ms \(HZ 250\), xe completes 1\.4× the GPU work of none .*, at 0\.71× the CPU work/);
    expect(b[0]).toMatch(/^At 5 ms \(HZ 250\), xe completes 2\.5× the GPU work of none .*, at 0\.93× the CPU work/);
    expect(b[1]).not.toBe(a[1]);
  });

  it("runs on a real sweep's results, saying which charts its metrics do not support", async () => {
    const dir = tempDir();
    const file = join(dir, "s.yaml");
    writeFileSync(file, `description: report test\nworkloads: [${JSON.stringify(resolve("workloads/atomic-ping-pong.yaml"))}]\nparameters:\n  model.hz: [100, 1000]\nsinks: []\n`);
    const summary = await runSweep({ file, outDir: join(dir, "out"), jobs: 2 });
    expect(summary.failed).toBe(0);
    const r = await pagesim("report", join(dir, "out"));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${join(dir, "out", "report.html")}: `);
    const page = await openInBrowser(join(dir, "out", "report.html"));
    expect(page.errors).toEqual([]);
    expect(page.requests).toEqual([]);
    expect(page.charts.map((c) => c.id)).toEqual(ALL_CHARTS);
    for (const chart of page.charts) {
      expect(chart.title.length).toBeGreaterThan(5);
      if (chart.missing) expect(chart.note, chart.id).toMatch(/^Not in these results: .+\.$/);
      else expect(chart.reading, chart.id).toMatch(/\d.*\.$/);
    }
    // A real sweep records each run's migrations over time, so that chart draws from real data.
    const migrations = page.charts.find((c) => c.id === "migrations")!;
    expect(migrations.missing).toBe(false);
    expect(migrations.reading).toMatch(/\d/);
  });

  it("exits 2 naming the file when the input is not a sweep's results", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "empty"));
    mkdirSync(join(dir, "noruns"));
    new Database(join(dir, "noruns", "results.sqlite")).exec("CREATE TABLE other (x)");
    mkdirSync(join(dir, "garbage"));
    writeFileSync(join(dir, "garbage", "results.sqlite"), "not a database, just text ".repeat(100));
    const cases = [
      [["report"], "report: which results directory?"],
      [["report", join(dir, "missing")], `${join(dir, "missing")}: no such directory`],
      [["report", join(dir, "empty")], `${join(dir, "empty")}: no results.sqlite in it`],
      [["report", join(dir, "noruns")], `${join(dir, "noruns", "results.sqlite")}: not a sweep results file (it has no runs table`],
      [["report", join(dir, "garbage")], `${join(dir, "garbage", "results.sqlite")}: cannot read it as SQLite`],
    ] as const;
    const results = await Promise.all(cases.map(([args]) => pagesim(...args)));
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i]!;
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stdout).toBe("");
    }
  });
});

/** Each chart's groups as the page has them: the variant's title, and each panel's data-values rows. */
function drawnData(html: string): Map<string, { title: string; reading: string; panels: Record<string, string | number>[][] }[]> {
  const { document } = parseHTML(html);
  const out = new Map<string, { title: string; reading: string; panels: Record<string, string | number>[][] }[]>();
  for (const section of document.querySelectorAll("section.chart:not(.missing)")) {
    const groups = [...section.querySelectorAll("div.variant")].map((g) => ({
      title: g.getAttribute("data-variant") ?? "",
      reading: g.querySelector("p.reading")?.textContent ?? "",
      panels: [...g.querySelectorAll("figure.panel")].map((f) => JSON.parse(f.getAttribute("data-values") ?? "null") as Record<string, string | number>[]),
    }));
    out.set(section.getAttribute("data-chart") ?? "", groups);
  }
  return out;
}

/** Mean, min, max and count of one metric over the complete runs of one workload and param set, computed here from the runs. */
function expected(runs: readonly RunRow[]) {
  return (workload: string, params: Record<string, unknown>, metric: string) => {
    const values = runs
      .filter((r) => r.status === "complete" && r.workload === workload && Object.entries(params).every(([k, v]) => r.params[k] === v))
      .map((r) => r.metrics[metric]!);
    expect(values.length, `${workload} ${JSON.stringify(params)} ${metric}`).toBeGreaterThan(0);
    return { mean: values.reduce((a, b) => a + b, 0) / values.length, min: Math.min(...values), max: Math.max(...values), n: values.length };
  };
}

describe("the report keeps workloads apart", () => {
  it("draws each workload's own means (never their pooled mean), with bars over seeds only", () => {
    const dir = tempDir();
    const workloads = [
      { path: "workloads/atomic-ping-pong.yaml", scale: 1 },
      { path: "workloads/atomic-contention.yaml", scale: 8 },
    ];
    writeSyntheticResults(dir, { workloads, failed: false });
    const src = openResults(join(dir, "results.sqlite"));
    const runs = loadRuns(src);
    const { html } = buildReport(src);
    src.close();
    const want = expected(runs);
    const charts = drawnData(html);
    expect([...charts.keys()]).toEqual(ALL_CHARTS);
    for (const [id, groups] of charts) expect(groups.map((g) => g.title), `${id}: one group per workload`).toEqual(["atomic-ping-pong.yaml", "atomic-contention.yaml"]);
    const params = (policy: unknown, ms: unknown, hz: unknown) => ({ "policy.name": policy, "platform.gpu.atomicTimesliceMs": ms, "model.hz": hz });
    let checked = 0;
    for (const [g, { path }] of workloads.entries()) {
      // Work and HZ charts: every dot is the mean (and its bar the min–max) of that workload's seeds.
      for (const id of ["work", "hz"]) {
        for (const row of charts.get(id)![g]!.panels.flat()) {
          const [ms, hz] = id === "work" ? [parseFloat(String(row.category)), Number(String(row.facet).replace("HZ ", ""))] : [parseFloat(String(row.facet)), Number(row.category)];
          const e = want(path, params(row.policy, ms, hz), String(row.metric));
          expect(row.mean, `${id} ${path} ${JSON.stringify(row)}`).toBeCloseTo(e.mean, 6);
          expect([row.min, row.max, row.n]).toEqual([e.min, e.max, e.n]);
          checked++;
        }
      }
      // The trade-off: each dot at the workload's own mean CPU and GPU work.
      for (const row of charts.get("pareto")![g]!.panels.flat()) {
        const [policy, ms, hz] = String(row.label).split(" · ");
        const p = params(policy, parseFloat(ms!), Number(hz!.replace("HZ ", "")));
        expect(row.cpu).toBeCloseTo(want(path, p, "cpu_work_per_s").mean, 6);
        expect(row.gpu).toBeCloseTo(want(path, p, "gpu_work_per_s").mean, 6);
        checked++;
      }
      // Latency: the reference HZ (250) and each policy's middle timeslice (5 ms of 0, 1, 5, 10).
      for (const row of charts.get("latency")![g]!.panels.flat()) {
        const metric = `${String(row.facet).startsWith("GPU") ? "gpu" : "cpu"}_fault_${String(row.category).replace(".", "")}_us`;
        expect(row.mean).toBeCloseTo(want(path, params(row.policy, 5, 250), metric).mean, 6);
        checked++;
      }
      // Migrations: the runs drawn under a workload are that workload's.
      for (const row of charts.get("migrations")![g]!.panels.flat()) expect(runs.find((r) => r.runId === row.runId)?.workload).toBe(path);
    }
    expect(checked, "rows checked").toBeGreaterThan(200);
    // The pooled figure the old report drew is not on the page: xe at 5 ms, HZ 250, GPU work.
    const [a, b] = workloads.map((w) => want(w.path, params("xe", 5, 250), "gpu_work_per_s").mean);
    const drawn = ALL_CHARTS.flatMap((id) => charts.get(id)!.flatMap((g) => g.panels.flat()));
    const pooled = (a! + b!) / 2;
    expect(drawn.some((row) => [row.mean, row.gpu].some((v) => typeof v === "number" && Math.abs(v - pooled) < 1e-6 * pooled))).toBe(false);
    // Each workload's reading quotes its own figures.
    expect(charts.get("work")![0]!.reading).toContain(`(${formatValue(a!)} vs`);
    expect(charts.get("work")![1]!.reading).toContain(`(${formatValue(b!)} vs`);
    // The bars say what they span.
    expect(html).toMatch(/bars: min–max over the 2 seeds of each configuration/);
  });
});

/**
 * Runs in the page (as a string: the compiler has no DOM library here): for each chart, workload and policy,
 * whether some mark labelled with the policy has a size, lies across the viewport's width, and is
 * the topmost element at one of 25 points of its box (so no other mark covers all of it).
 */
const VISIBILITY = `(policies) => {
  const out = {};
  for (const group of document.querySelectorAll("section.chart:not(.missing) div.variant")) {
    const seen = (out[group.closest("section").dataset.chart + " / " + group.dataset.variant] = {});
    for (const policy of policies) {
      seen[policy] = "no mark";
      for (const el of group.querySelectorAll("svg [aria-label]")) {
        if (el.getAttribute("aria-label") !== policy || el.tagName === "g") continue;
        el.scrollIntoView({ block: "center", inline: "nearest" });
        const b = el.getBoundingClientRect();
        if (!(b.width > 0 && b.height > 0)) { seen[policy] = "zero size"; continue; }
        if (b.left < 0 || b.right > window.innerWidth) { seen[policy] = "outside the viewport"; continue; }
        let top = false;
        for (let i = 0; i < 5 && !top; i++)
          for (let j = 0; j < 5 && !top; j++) top = document.elementFromPoint(b.left + (b.width * (i + 0.5)) / 5, b.top + (b.height * (j + 0.5)) / 5) === el;
        seen[policy] = top ? "visible" : "covered";
        if (top) break;
      }
    }
  }
  return out;
}`;

/** The default study's workloads and kernels (its zip group's label.kernel), in plan order. */
const WORKLOADS = ["atomic-ping-pong.yaml", "atomic-contention.yaml"];
const KERNELS = ["seed-era", "current"];

describe("the report shows every policy", () => {
  it("gives every policy of the default study a visible mark in every chart for each workload and kernel, and fits a 1280 px screen", async () => {
    // The default study's policies, knobs, timeslices and workloads, at two HZ and one seed to keep it quick.
    const dir = tempDir();
    const study = parse(readFileSync(join(root, "workloads/sweeps/default.yaml"), "utf8")) as { workloads: string[]; parameters: Record<string, unknown[]> };
    const sweep = { ...study, workloads: study.workloads.map((w) => resolve(root, "workloads/sweeps", w)), parameters: { ...study.parameters, "model.hz": [100, 1000] }, repetitions: 1 };
    writeFileSync(join(dir, "study.yaml"), stringify(sweep));
    const summary = await runSweep({ file: join(dir, "study.yaml"), outDir: join(dir, "out"), jobs: 2 });
    expect(summary.failed).toBe(0);
    writeReport(join(dir, "out"));
    const src = openResults(join(dir, "out", "results.sqlite"));
    const runs = loadRuns(src);
    const { html } = buildReport(src);
    src.close();
    const policies = [...new Set(runs.map((r) => r.policy))];
    expect(policies).toEqual(["xe", "none", "notifier-block", "uvm lapseUs=500", "uvm lapseUs=5000", "backoff", "two-fault", "rate-limit"]);
    // Both kernels of the study, each workload's two drawn one after the other, never pooled: every
    // work-chart mark of a kernel's group is the mean over that kernel's seeds alone.
    const groupsOf = (w: string) => KERNELS.map((k) => `${w} · kernel: ${k}`);
    const want = expected(runs);
    const drawn = drawnData(html);
    let checked = 0;
    for (const id of ALL_CHARTS) expect(drawn.get(id)!.map((g) => g.title), id).toEqual(WORKLOADS.flatMap(groupsOf));
    for (const group of drawn.get("work")!) {
      const [workload, kernel] = group.title.split(" · kernel: ");
      for (const row of group.panels.flat()) {
        if (String(row.category) === "not used") continue;
        const p = { "label.kernel": kernel, "platform.gpu.atomicTimesliceMs": parseFloat(String(row.category)), "model.hz": Number(String(row.facet).replace("HZ ", "")) };
        const policy = String(row.policy);
        if (policy !== "xe" && policy !== "notifier-block") continue;
        expect(row.mean, `${group.title} ${JSON.stringify(row)}`).toBeCloseTo(want(`workloads/${workload}`, { ...p, "policy.name": policy }, String(row.metric)).mean, 6);
        checked++;
      }
    }
    expect(checked, "timed work marks checked against their kernel's runs").toBe(2 * 2 * 2 * 2 * 3 * 2);

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(pathToFileURL(join(dir, "out", "report.html")).href, { waitUntil: "load" });
    expect.soft(await page.evaluate("document.documentElement.scrollWidth"), "no horizontal scroll at 1280 px").toBeLessThanOrEqual(1280);
    const seen = (await page.evaluate(`(${VISIBILITY})(${JSON.stringify(policies)})`)) as Record<string, Record<string, string>>;
    await page.close();
    expect(Object.keys(seen), "both kernels' panels in every chart, for each workload").toEqual(ALL_CHARTS.flatMap((c) => WORKLOADS.flatMap(groupsOf).map((g) => `${c} / ${g}`)));
    for (const [chart, byPolicy] of Object.entries(seen)) expect(byPolicy, chart).toEqual(Object.fromEntries(policies.map((p) => [p, "visible"])));
  });
});

/** A configuration with one repetition: each metric's mean, min and max are the value given. */
function config(policy: string, timesliceMs: number | null, hz: number | null, metrics: Record<string, number>): ConfigSummary {
  const stats = Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, { mean: v, min: v, max: v, n: 1 }]));
  return { key: JSON.stringify([policy, timesliceMs, hz]), workload: "w.yaml", policy, timesliceMs, timesliceFrom: [], hz, params: {}, labels: [], labelled: [], runIds: ["r0000"], statuses: { complete: 1 }, metrics: stats };
}

describe("report readings", () => {
  it("workReading compares the subject with the baseline at the middle timeslice, with the figures it read", () => {
    const groups = (xeGpu: number) => [
      config("xe", 1, 250, { gpu_work_per_s: 1500, cpu_work_per_s: 1500 }),
      config("xe", 5, 250, { gpu_work_per_s: xeGpu, cpu_work_per_s: 1000 }),
      config("none", 1, 250, { gpu_work_per_s: 1000, cpu_work_per_s: 2500 }),
      config("none", 5, 250, { gpu_work_per_s: 1000, cpu_work_per_s: 2500 }),
    ];
    expect(workReading(groups(2000), ["xe", "none"])).toBe("At 5 ms (HZ 250), xe completes 2× the GPU work of none (2000 vs 1000 accesses/s), at 0.4× the CPU work (1000 vs 2500 accesses/s).");
    expect(workReading(groups(3300), ["xe", "none"])).toBe("At 5 ms (HZ 250), xe completes 3.3× the GPU work of none (3300 vs 1000 accesses/s), at 0.4× the CPU work (1000 vs 2500 accesses/s).");
    expect(workReading(groups(2000).slice(0, 2), ["xe"])).toBe("Raising xe's timeslice from 1 ms to 5 ms (HZ 250) changes its GPU work 1.3× (1500 → 2000 accesses/s) and its CPU work 0.67× (1500 → 1000 accesses/s).");
  });

  it("paretoReading counts the frontier and names its two ends", () => {
    const points = markFrontier([
      { policy: "xe", label: "xe · 10 ms · HZ 250", cpu: 1000, gpu: 30_000 },
      { policy: "xe", label: "xe · 1 ms · HZ 250", cpu: 3000, gpu: 12_000 },
      { policy: "none", label: "none · 1 ms · HZ 250", cpu: 2000, gpu: 11_000 },
    ]);
    expect(points.map((p) => p.frontier)).toEqual([true, true, false]);
    expect(paretoReading(points)).toBe("2 of 3 configurations are on the frontier (2 xe); the most GPU work, 30 k accesses/s at xe · 10 ms · HZ 250, keeps 33% of the best CPU work (3000 accesses/s at xe · 1 ms · HZ 250).");
    expect(paretoReading(markFrontier(points.slice(1)))).toBe("1 of 2 configurations are on the frontier (1 xe); xe · 1 ms · HZ 250 does the most work on both sides (12 k GPU and 3000 CPU accesses/s), so nothing here trades one side for the other.");
  });

  it("hzReading, latencyReading and migrationReading quote the numbers they are given", () => {
    const hz = (spinMs: number) => [config("xe", 5, 100, { cpu_spin_ms: spinMs, gpu_work_per_s: 900 }), config("xe", 5, 1000, { cpu_spin_ms: 10, gpu_work_per_s: 1000 })];
    expect(hzReading(hz(30), ["xe"])).toBe("From HZ 100 to HZ 1000 at the 5 ms timeslice, xe's CPU spin time goes from 30 ms to 10 ms (0.33×) and its GPU work goes from 900 accesses/s to 1000 accesses/s (1.1×).");
    expect(hzReading(hz(20), ["xe"])).toContain("from 20 ms to 10 ms (0.5×)");
    const latency = (p99: number) => [
      { policy: "xe", side: "GPU faults", percentile: "p50", latencyUs: 40, minUs: 40, maxUs: 40, n: 1 },
      { policy: "xe", side: "GPU faults", percentile: "p99", latencyUs: p99, minUs: p99, maxUs: p99, n: 1 },
    ];
    expect(latencyReading(latency(400), ["xe"])).toBe("GPU faults: xe's p99 is 400 µs, 10× its median (40 µs).");
    expect(latencyReading(latency(120), ["xe"])).toBe("GPU faults: xe's p99 is 120 µs, 3× its median (40 µs).");
    const series = [0, 10, 20].map((tMs) => ({ direction: "to device", tMs, ratePerS: tMs * 100 }));
    expect(migrationReading("run r0001", series)).toBe("In run r0001, migrations to device peak at 2000/s at 20 ms and average 1000/s.");
  });

  it("the analysis modules notebooks import never load better-sqlite3 (Deno cannot)", () => {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const [, spec] of readFileSync(file, "utf8").matchAll(/from "([^"]+)"/g)) {
        expect(spec, `${file} imports ${spec}`).not.toMatch(/better-sqlite3|^node:/);
        if (spec!.startsWith(".")) visit(resolve(file, "..", spec!));
      }
    };
    visit(join(root, "src/analysis/index.ts"));
    expect(seen.size).toBeGreaterThan(8);
  });
});
