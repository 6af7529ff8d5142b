import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConfigSummary } from "../src/analysis/aggregate.ts";
import { openResults } from "../src/analysis/better-sqlite.ts";
import { hzReading } from "../src/analysis/chart-hz.ts";
import { latencyReading } from "../src/analysis/chart-latency.ts";
import { migrationReading } from "../src/analysis/chart-migrations.ts";
import { markFrontier, paretoReading } from "../src/analysis/chart-pareto.ts";
import { workReading } from "../src/analysis/chart-work.ts";
import { buildReport } from "../src/analysis/report.ts";
import { writeReport } from "../src/analysis/write-report.ts";
import { runSweep } from "../src/sweep/runner.ts";
import { writeSyntheticResults } from "./support/synthetic-results.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const tempDir = () => mkdtempSync(join(tmpdir(), "pagesim-report-"));
const ALL_CHARTS = ["work", "pareto", "latency", "migrations", "hz"];

/** The marks each chart must show at least one of: line paths and dots. */
const MARKS: Record<string, { lines: boolean; dots: boolean }> = {
  work: { lines: true, dots: true },
  pareto: { lines: true, dots: true },
  latency: { lines: true, dots: true },
  migrations: { lines: true, dots: false },
  hz: { lines: true, dots: true },
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
  svgs: { width: number; height: number; linePaths: number; dots: number; marksWidth: number; marksHeight: number }[];
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
          const marks = box(svg.querySelectorAll('g[aria-label="line"] path, g[aria-label="dot"] circle'));
          return { width: b.width, height: b.height, linePaths: Array.from(svg.querySelectorAll('g[aria-label="line"] path')).length, dots: Array.from(svg.querySelectorAll('g[aria-label="dot"] circle')).length, marksWidth: marks.width, marksHeight: marks.height };
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

/** A configuration with one repetition: each metric's mean, min and max are the value given. */
function config(policy: string, timesliceMs: number | null, hz: number | null, metrics: Record<string, number>): ConfigSummary {
  const stats = Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, { mean: v, min: v, max: v, n: 1 }]));
  return { key: JSON.stringify([policy, timesliceMs, hz]), workload: "w.yaml", policy, timesliceMs, hz, params: {}, runIds: ["r0000"], statuses: { complete: 1 }, metrics: stats };
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
      { policy: "xe", side: "GPU faults", percentile: "p50", latencyUs: 40, minUs: 40, maxUs: 40 },
      { policy: "xe", side: "GPU faults", percentile: "p99", latencyUs: p99, minUs: p99, maxUs: p99 },
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
