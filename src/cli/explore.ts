import cliProgress from "cli-progress";
import type { ExploreProgress, ExploreSummary } from "../explore/explore.ts";
import type { FindingSummary } from "../explore/findings.ts";
import { OptionError } from "./args.ts";
import { formatCoverage } from "../explore/coverage-report.ts";

const TIME_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses --time: a number with a unit (500ms, 90s, 10m, 2h). */
export function timeOption(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(raw.trim());
  const ms = m === null ? NaN : Number(m[1]) * TIME_UNITS_MS[m[2]!]!;
  if (!(ms > 0)) throw new OptionError(`--time ${raw}: expected a duration such as 90s, 10m or 2h`);
  return ms;
}

/** Parses --variant: seed or newest (the model variants of docs/fidelity.md). */
export function variantOption(raw: string | undefined): "seed" | "newest" {
  if (raw === undefined) return "newest";
  if (raw !== "seed" && raw !== "newest") throw new OptionError(`--variant ${raw}: expected seed or newest`);
  return raw;
}

/** Progress: a bar on a terminal; otherwise a line at most every 10 s (CI logs, pipes). */
export function exploreProgress(): { update: (p: ExploreProgress) => void; stop: () => void } {
  const line = (p: ExploreProgress): string => `${p.runs}${p.total === undefined ? "" : `/${p.total}`} runs | ${p.runsPerSec.toFixed(1)} runs/s | ${p.findings} findings | coverage ${p.labelsReached}/${p.labelsTotal} exits`;
  if (process.stderr.isTTY !== true) {
    let lastMs = -Infinity;
    return {
      update: (p) => {
        if (p.elapsedMs - lastMs < 10_000) return;
        lastMs = p.elapsedMs;
        console.error(`explore: ${line(p)} (${Math.round(p.elapsedMs / 1000)} s)`);
      },
      stop: () => {},
    };
  }
  const bar = new cliProgress.SingleBar({ format: "explore {bar} {text}", stream: process.stderr, barsize: 20 }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update: (p) => {
      if (!started) bar.start(p.total ?? 1, 0, { text: "" });
      started = true;
      bar.update(p.total === undefined ? 0 : p.runs, { text: line(p) });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

/** One finding, as printed when it is written and in the summary. */
export function formatFinding(f: FindingSummary): string {
  return `finding ${String(f.number).padStart(3, "0")}: ${f.check}: ${f.message}\n  shrunk ${f.original.steps} → ${f.shrunk.steps} steps (${f.shrinkRuns} runs); reproduce: ${f.command}`;
}

/** The end of an exploration: throughput, findings, coverage. */
export function formatExploreSummary(s: ExploreSummary): string {
  const runSecs = s.runMs / 1000;
  const out = [
    `explored ${s.runs} runs on the ${s.variant} variant (seed ${s.seed}${s.shard === "" ? "" : `, shard ${s.shard}`}) in ${(s.wallMs / 1000).toFixed(1)} s${s.stopped ? " (stopped early)" : ""}`,
    `  running them took ${runSecs.toFixed(1)} s: ${(s.runs / runSecs).toFixed(1)} runs/s, ${(s.engineSteps / runSecs / 1e3).toFixed(1)} k engine steps/s, ${(s.events / runSecs / 1e6).toFixed(2)} M events/s; shrinking and writing ${s.findings.length} findings ${(s.shrinkMs / 1000).toFixed(1)} s${s.stopped ? " (stopped: written as drawn, not shrunk)" : ""}`,
    `findings: ${s.findings.length}`,
    ...s.findings.map(formatFinding),
    "",
    formatCoverage(s.coverage, s.variant),
    `written: ${s.dir}/explore.json, ${s.dir}/coverage.json${s.findings.length > 0 ? `, ${s.dir}/findings/` : ""}`,
  ];
  return out.join("\n");
}
