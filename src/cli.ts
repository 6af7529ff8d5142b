#!/usr/bin/env node
import { parseArgs } from "node:util";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { pagesimVersion } from "./record/version.ts";
import { OptionError, UsageError, integerOption, joinDashValues, seedOption, setOptions, shardOption, sinksOption } from "./cli/args.ts";

// Each command loads what it needs when it runs (await import): loading every command's modules
// (Arrow, SQLite, the report's DOM and charts, zod) took ~0.9 s before `pagesim --version` printed.

const HELP = `pagesim: a discrete-event simulator of how Linux's DRM pagemap layer migrates GPU
shared-virtual-memory pages between system RAM and device memory.

Usage:
  pagesim run WORKLOAD.yaml [--out RUN_DIR] [--seed N] [--platform NAME] [--set KEY=VALUE]...
                            [--sink arrow,sqlite|arrow|sqlite|none] [--max-events N]
                            [--max-bytes SIZE] [--no-fsync] [--json]
      Run a workload on the drm_pagemap model and write its run directory (default
      results/<workload>/seed-<N>): the event log (events.arrow, events.sqlite), a copy of the
      workload and run.json. --seed is a whole number from 0 to 2^53 - 1. --set overrides any key of the workload (model.hz=1000,
      threads.gpu0.count=8, platform.copy.channels=2); --platform picks a profile of
      workloads/platforms/ (or a .yaml file). Prints every step's return value, where each
      page ended up, context violations and the model's invariants (exit 1 if one breaks, a
      write is lost or a step returns other than its expect:). Ctrl-C stops the run and
      keeps what it has; a second Ctrl-C while events.sqlite is filled leaves it to pagesim sqlite.
      The run stops (exit 1, keeping what it wrote) past --max-events (default 20M) events or
      --max-bytes (default 4GiB; 512MiB, 10GB...) of Arrow log; 0 lifts a limit. Sweep runs
      have the same default limits. events.arrow is synced to disk before it is renamed into
      place; --no-fsync skips that (faster for throw-away runs; a crash of the machine may then
      leave a file that is not whole).
  pagesim verify RUN_DIR [--json]
      Replay the run's log from an empty state, check the invariants as it goes and compare the
      final state with the one the run recorded; compare events.sqlite with it row by row (after
      filling it, if the run's fill was cut short) and run SQLite's integrity check. Exit 1 names
      the first event that disagrees.
  pagesim metrics RUN_DIR [--json]
      Recompute the run's metrics (docs/metrics.md) from its events.arrow alone, with the one
      reader pagesim run and sweeps use, and print them (name and value; --json: an object). They
      equal the "metrics" run.json stored. The run must have recorded the Arrow log.
  pagesim sqlite RUN_DIR
      Fill (or refill) the run's events.sqlite from its events.arrow, e.g. when run.json says
      "sqlite": "pending" because the fill after the run was interrupted.
  pagesim trace RUN_DIR [--out FILE]
      Write the log as a Chrome trace-event JSON file (default RUN_DIR/trace.json) that
      Perfetto UI (ui.perfetto.dev) opens: one track per simulated thread.
  pagesim sweep SWEEP.yaml [--out DIR] [--jobs N] [--resume] [--shard K/N] [--report] [--yes]
                            [--max-events N] [--max-bytes SIZE] [--no-fsync]
      Run a parameter study (workloads/sweeps/): every run on a worker thread, its run directory
      under DIR/runs/, its parameters and figures in DIR/results.sqlite (default
      results/sweeps/<sweep>). First it prints its plan: runs, and an estimate of their events and
      event-log bytes; a plan of more than 100,000 runs, 10^10 events or 50 GB of logs is refused
      (exit 2) unless --yes. --resume continues the sweep in DIR: runs whose inputs (workload,
      platform profile, parameters, seed, sinks, the simulator's code) are unchanged are kept,
      changed ones re-run, ones no longer planned removed; --shard runs a slice; --report writes
      DIR/report.html at the end (as pagesim report does). Each run has the budgets of pagesim run
      (--max-events, --max-bytes); a run past them is recorded as failed, with its files kept.
      --no-fsync: as for pagesim run, each run's events.arrow is not synced (throw-away sweeps).
  pagesim explore [--variant seed|newest] [--time 10m | --runs N] [--jobs N] [--seed S]
                  [--shard K/N] [--out DIR] [--shrink-runs N]
      Search the model for races and hangs (docs/findings.md): generate workloads (swarm testing:
      each run turns a random half of the features off), perturb schedules, inject faults and
      check every step (invariants, lost writes, context, kernel bugs, memory balance after
      teardown, hangs, no progress). --time and --runs bound the runs; then each new failure, by
      signature, is shrunk to a small workload (at most --shrink-runs runs, default 500, or 60 s
      each; Ctrl-C: written as drawn) and written to DIR/findings/NNN/
      (workload.yaml, finding.md) with the command that reproduces it; DIR/coverage.json lists the kernel functions' exits reached and not reached.
      The same flags give the same runs on any --jobs. Default DIR results/explore/<variant>-<S>.
      Ctrl-C keeps what was found. Exit 1 with findings, 0 without. pagesim merge joins shards.
  pagesim explore --replay DIR/findings/NNN
      Run a finding's workload with explore's checks and say whether it fails the same way.
  pagesim merge OUT_DIR SHARD_DIR...
      Join the results of sweep (or explore) shards into one directory.
  pagesim report RESULTS_DIR [--out FILE]
      Write a sweep's results as one self-contained HTML page (default RESULTS_DIR/report.html):
      charts of work per side, the CPU/GPU trade-off, fault latency, migrations over time and
      HZ, each with a reading, and a table of configurations (docs/report.md). Opens offline.
  pagesim schema
      Print the workload format as JSON Schema, for editors (> workload.schema.json).
  pagesim demo [--seed N] [--customers N] [--json]
      Run the built-in check: the engine against queueing theory (M/M/1, M/D/1) and its speed.
  pagesim --help       This text.
  pagesim --version    The version.

Exit status: 0 success, 1 a simulation or check failed or a run passed its budget, 2 bad usage or input
(a file or flag that cannot be used, an --out that is a file or cannot be written: nothing is written),
130 / 143 a run stopped by SIGINT / SIGTERM (its files are complete up to that point).`;

function expectArgs(positionals: string[], command: string, what: string): string {
  const arg = positionals[1];
  if (arg === undefined) throw new UsageError(`${command}: which ${what}?`);
  if (positionals.length > 2) throw new UsageError(`unexpected argument "${positionals[2]}"`);
  return arg;
}

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  seed: { type: "string" },
  customers: { type: "string" },
  json: { type: "boolean" },
  out: { type: "string" },
  sink: { type: "string" },
  platform: { type: "string" },
  set: { type: "string", multiple: true },
  jobs: { type: "string" },
  resume: { type: "boolean" },
  report: { type: "boolean" },
  shard: { type: "string" },
  yes: { type: "boolean" },
  "max-events": { type: "string" },
  "max-bytes": { type: "string" },
  "no-fsync": { type: "boolean" },
  variant: { type: "string" },
  time: { type: "string" },
  runs: { type: "string" },
  replay: { type: "string" },
  "shrink-runs": { type: "string" },
} as const;
const STRING_OPTIONS = Object.entries(OPTIONS).filter(([, o]) => o.type === "string").map(([name]) => `--${name}`);

/**
 * A sweep's or an exploration's Ctrl-C: the first SIGINT says what happens and makes the returned
 * poll true (no new runs are dispatched); a second quits at once with 130.
 */
function stopOnSigint(what: string): () => boolean {
  let stop = false;
  process.on("SIGINT", () => {
    if (stop) process.exit(130);
    stop = true;
    console.error(`pagesim: SIGINT: ${what} (again to quit at once)`);
  });
  return () => stop;
}

/** How a --out (or the default in its place) is named in messages. */
const outLabel = (given: string | undefined, dir: string, what: string): string => (given === undefined ? `${what} ${dir}` : `--out ${given === "" ? '""' : given}`);

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: joinDashValues(argv, STRING_OPTIONS), options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help === true) {
    console.log(HELP);
    return 0;
  }
  if (values.version === true) {
    console.log(pagesimVersion());
    return 0;
  }
  const command = positionals[0];
  if (command === undefined) throw new UsageError("no command given");
  switch (command) {
    case "run": {
      const { loadWorkload } = await import("./workload/load.ts");
      const { defaultRunDir, recordRun } = await import("./record/run-dir.ts");
      const { checkOutDir } = await import("./record/out-dir.ts");
      const { formatRecordedRun } = await import("./cli/run.ts");
      const file = expectArgs(positionals, "run", "workload file");
      const seed = seedOption(values.seed);
      const sinks = sinksOption(values.sink);
      // --platform is --set platform=…, applied first so that --set platform.x=… refines it.
      const set = setOptions(values.set);
      const overrides = { ...(values.platform === undefined ? {} : { platform: values.platform }), ...set.overrides };
      const labels: Record<string, string> = { ...set.labels, seed: `--seed ${values.seed}` };
      if (values.platform !== undefined) labels.platform = `--platform ${values.platform}`;
      const workload = loadWorkload(file, { ...overrides, ...(seed === undefined ? {} : { seed }) }, labels);
      const outDir = values.out ?? defaultRunDir(file, seed ?? workload.seed);
      checkOutDir(outDir, outLabel(values.out, outDir, "the run directory"));
      const { budgetOptions } = await import("./cli/budget-args.ts");
      const budget = budgetOptions(values["max-events"], values["max-bytes"]);
      let signal: NodeJS.Signals | null = null;
      let filling: string | null = null; // the run directory, once its SQLite log is being filled
      const later = () => `events.arrow and run.json are saved; pagesim sqlite ${filling} fills events.sqlite later`;
      const onSignal = (s: NodeJS.Signals) => {
        if (signal !== null) {
          if (filling !== null) console.error(`pagesim: ${s} again: quitting; ${later()}`);
          process.exit(s === "SIGINT" ? 130 : 143); // a second signal: stop now
        }
        signal = s;
        console.error(filling === null ? `pagesim: ${s}: stopping the run and saving what it has (again to quit at once)` : `pagesim: ${s}: the run is saved; filling events.sqlite (again to quit at once: ${later()})`);
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      const { formatBytes } = await import("./record/budget.ts");
      const { dir, report, manifest } = await recordRun({
        file, workload, ...(seed === undefined ? {} : { seed }), outDir, sinks, overrides, budget, fsync: values["no-fsync"] !== true,
        shouldStop: () => signal !== null,
        onStaleRemoved: (path, bytes) => console.error(`pagesim: removed ${path} (${formatBytes(bytes)}), left by a killed run`),
        onSqliteFill: (d) => (filling = d),
      });
      console.log(values.json === true ? JSON.stringify({ dir, manifest, report }, null, 2) : formatRecordedRun(report, manifest, dir, file));
      if (manifest.status === "interrupted") return signal === "SIGTERM" ? 143 : 130;
      return report.invariants.length === 0 && report.lostWrites.length === 0 && report.failedSteps.length === 0 ? 0 : 1;
    }
    case "verify": {
      const { verifyRun } = await import("./record/verify.ts");
      const { formatVerify } = await import("./cli/run.ts");
      const dir = expectArgs(positionals, "verify", "run directory");
      const result = await verifyRun(dir);
      console.log(values.json === true ? JSON.stringify(result, null, 2) : formatVerify(result, dir));
      return result.divergence === null ? 0 : 1;
    }
    case "metrics": {
      const { metricsFromRunDir, formatMetrics } = await import("./record/log-metrics.ts");
      const dir = expectArgs(positionals, "metrics", "run directory");
      const { metrics } = await metricsFromRunDir(dir);
      console.log(values.json === true ? JSON.stringify(metrics, null, 2) : formatMetrics(metrics));
      return 0;
    }
    case "sqlite": {
      const { fillSqliteCommand } = await import("./record/sqlite-fill.ts");
      const dir = expectArgs(positionals, "sqlite", "run directory");
      const { path, rows, bytes } = await fillSqliteCommand(dir);
      console.log(`${path}: ${rows} events filled from events.arrow (${(bytes / 1e6).toFixed(2)} MB); run.json records it`);
      return 0;
    }
    case "trace": {
      const { writeTrace } = await import("./record/trace.ts");
      const dir = expectArgs(positionals, "trace", "run directory");
      const out = values.out ?? join(dir, "trace.json");
      const { path, traceEvents, problems } = await writeTrace(dir, out, outLabel(values.out, out, "the trace file"));
      console.log(`${path}: ${traceEvents} trace events; open it in https://ui.perfetto.dev`);
      if (problems.length === 0) return 0;
      console.log(`the log does not nest cleanly (${problems.length}): the trace closes these slices itself`);
      for (const p of problems.slice(0, 20)) console.log(`  ${p}`);
      return 1;
    }
    case "sweep": {
      const { runSweep, formatPlan } = await import("./sweep/runner.ts");
      const { checkOutDir, safeName } = await import("./record/out-dir.ts");
      const { sweepProgress } = await import("./cli/progress.ts");
      const { formatSweepTable, formatSweepSummary } = await import("./cli/sweep-table.ts");
      const file = expectArgs(positionals, "sweep", "sweep file");
      const jobs = values.jobs === undefined ? undefined : integerOption("jobs", values.jobs, 1, 1);
      const shard = shardOption(values.shard);
      const { budgetOptions } = await import("./cli/budget-args.ts");
      const budget = budgetOptions(values["max-events"], values["max-bytes"]);
      const outDir = values.out ?? join("results", "sweeps", safeName(file));
      checkOutDir(outDir, outLabel(values.out, outDir, "the sweep directory"));
      const stopped = stopOnSigint("finishing the runs in flight; --resume continues later");
      const progress = sweepProgress();
      const summary = await runSweep({
        file, outDir, budget, fsync: values["no-fsync"] !== true, resume: values.resume === true, yes: values.yes === true, ...(jobs === undefined ? {} : { jobs }), ...(shard === undefined ? {} : { shard }),
        onPlan: (plan) => console.log(formatPlan(plan)), onProgress: progress.update, shouldStop: stopped,
      });
      progress.stop();
      console.log(formatSweepSummary(summary));
      console.log(`\n${formatSweepTable(summary.dir)}\n`);
      console.log(`results: ${join(summary.dir, "results.sqlite")} (tables runs, run_params, metrics, series; docs/metrics.md); each run's directory under ${join(summary.dir, "runs")}`);
      if (values.report === true && !summary.stopped) {
        const { writeReport } = await import("./analysis/write-report.ts");
        const { path, charts } = writeReport(summary.dir);
        console.log(`report: ${path} (${charts.length} charts; open it in a browser)`);
      }
      return summary.stopped ? 130 : summary.failed > 0 ? 1 : 0;
    }
    case "explore": {
      if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
      const { formatExploreSummary, formatFinding, exploreProgress, timeOption, variantOption } = await import("./cli/explore.ts");
      if (values.replay !== undefined) {
        const { replayFinding } = await import("./explore/replay.ts");
        const r = replayFinding(values.replay);
        console.log(r.text);
        return r.reproduced ? 1 : 0;
      }
      const variant = variantOption(values.variant);
      const timeMs = timeOption(values.time);
      const runs = values.runs === undefined ? undefined : integerOption("runs", values.runs, 1, 1);
      if (runs === undefined && timeMs === undefined) throw new UsageError("explore: how long? give --runs N or --time DURATION (e.g. --time 10m)");
      const jobs = values.jobs === undefined ? undefined : integerOption("jobs", values.jobs, 1, 1);
      const seed = seedOption(values.seed) ?? 1;
      const shard = shardOption(values.shard);
      const shrinkRuns = integerOption("shrink-runs", values["shrink-runs"], 500, 0);
      const { checkOutDir } = await import("./record/out-dir.ts");
      const outDir = values.out ?? join("results", "explore", `${variant}-${seed}${shard === undefined ? "" : `-shard${shard.k}of${shard.n}`}`);
      checkOutDir(outDir, outLabel(values.out, outDir, "the exploration directory"));
      const stopped = stopOnSigint("finishing the runs in flight and keeping what was found");
      const { explore } = await import("./explore/explore.ts");
      const progress = exploreProgress();
      const summary = await explore({
        variant, seed, outDir, ...(runs === undefined ? {} : { runs }), ...(timeMs === undefined ? {} : { timeMs }), ...(jobs === undefined ? {} : { jobs }), ...(shard === undefined ? {} : { shard }),
        shrinkBudget: { maxRuns: shrinkRuns, maxMs: 60_000 },
        onProgress: progress.update, onFinding: (f) => console.error(formatFinding(f)), shouldStop: stopped,
      });
      progress.stop();
      console.log(formatExploreSummary(summary));
      return summary.stopped ? 130 : summary.findings.length > 0 ? 1 : 0;
    }
    case "merge": {
      const [, out, ...shards] = positionals;
      if (out === undefined || shards.length === 0) throw new UsageError("merge: OUT_DIR SHARD_DIR...");
      const { checkOutDir } = await import("./record/out-dir.ts");
      checkOutDir(out, `merge OUT_DIR ${out === "" ? '""' : out}`);
      const { isExploreDir, mergeExplorations } = await import("./explore/merge.ts");
      if (shards.every(isExploreDir)) {
        const m = mergeExplorations(out, shards);
        console.log(`${out}: merged ${m.runs} explore runs and ${m.findings} findings (by signature) from ${shards.length} shards`);
        return 0;
      }
      const { mergeSweeps } = await import("./sweep/runner.ts");
      const n = mergeSweeps(out, shards, (from, to) => cpSync(from, to, { recursive: true }));
      console.log(`${out}: merged ${n} runs from ${shards.length} shards`);
      return 0;
    }
    case "report": {
      const { writeReport } = await import("./analysis/write-report.ts");
      const { checkOutFile } = await import("./record/out-dir.ts");
      const dir = expectArgs(positionals, "report", "results directory");
      if (values.out !== undefined) checkOutFile(values.out, outLabel(values.out, values.out, ""), "report.html");
      const { path, charts, skipped } = writeReport(dir, values.out === undefined ? {} : { out: values.out });
      console.log(`${path}: ${charts.length} charts${skipped.length > 0 ? `; not in these results: ${skipped.join(", ")}` : ""}; open it in a browser`);
      return 0;
    }
    case "schema": {
      if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
      const { workloadJsonSchema } = await import("./workload/json-schema.ts");
      console.log(JSON.stringify(workloadJsonSchema(), null, 2));
      return 0;
    }
    case "demo": {
      if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
      const seed = seedOption(values.seed) ?? 1;
      const customers = integerOption("customers", values.customers, 1_000_000, 1000);
      const { runDemo, formatDemo } = await import("./cli/demo.ts");
      const summary = runDemo({ seed, customers });
      console.log(values.json === true ? JSON.stringify(summary, null, 2) : formatDemo(summary));
      return summary.queues.every((q) => q.insideInterval) ? 0 : 1;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** Bad input (a file, a run directory, a log, a results directory): exit 2, no usage hint. */
const INPUT_ERRORS = new Set(["WorkloadError", "RunDirError", "LogFormatError", "ResultsError", "OutputError"]);

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    // By name: the classes live in modules this file loads only for the command that needs them.
    const input = error instanceof Error && INPUT_ERRORS.has(error.name);
    const usage = input || error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") === true;
    console.error(`pagesim: ${error instanceof Error ? error.message : String(error)}`);
    if (usage && !input && !(error instanceof OptionError)) console.error("Run pagesim --help for usage.");
    process.exitCode = usage ? 2 : 1;
  },
);
