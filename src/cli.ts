#!/usr/bin/env node
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { runDemo, formatDemo } from "./cli/demo.ts";
import { UsageError, integerOption } from "./cli/args.ts";
import { formatRunReport } from "./cli/run.ts";
import { loadWorkload, WorkloadError } from "./workload/load.ts";
import { runWorkload } from "./workload/run.ts";

const HELP = `pagesim: a discrete-event simulator of how Linux's DRM pagemap layer migrates GPU
shared-virtual-memory pages between system RAM and device memory.

Usage:
  pagesim run WORKLOAD.yaml [--seed N] [--json]
      Run a scripted workload on the drm_pagemap model: every step's return value, where each
      page ended up, context violations, and the model's invariants.
  pagesim demo [--seed N] [--customers N] [--json]
      Run the built-in check: the engine against queueing theory (M/M/1, M/D/1) and its speed.
  pagesim --help       This text.
  pagesim --version    The version.

Exit status: 0 success, 1 a simulation or check failed, 2 bad usage or input.`;

/** Our package.json's version, found by walking up from this file (src/ or dist/src/). */
function version(): string {
  let dir = new URL(".", import.meta.url);
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "pagesim" && pkg.version !== undefined) return pkg.version;
    } catch {
      // not here: look one folder up
    }
    dir = new URL("..", dir);
  }
  return "unknown";
}

function main(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
      seed: { type: "string" },
      customers: { type: "string" },
      json: { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    console.log(HELP);
    return 0;
  }
  if (values.version === true) {
    console.log(version());
    return 0;
  }
  const command = positionals[0];
  if (command === undefined) throw new UsageError("no command given");
  if (command === "run") {
    const file = positionals[1];
    if (file === undefined) throw new UsageError("run: which workload file?");
    if (positionals.length > 2) throw new UsageError(`unexpected argument "${positionals[2]}"`);
    const workload = loadWorkload(file);
    const seed = values.seed === undefined ? undefined : integerOption("seed", values.seed, 1);
    const { report } = runWorkload(workload, seed);
    console.log(values.json === true ? JSON.stringify(report, null, 2) : formatRunReport(report, file));
    return report.invariants.length === 0 && report.lostWrites.length === 0 ? 0 : 1;
  }
  if (command !== "demo") throw new UsageError(`unknown command "${command}"`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  const seed = integerOption("seed", values.seed, 1);
  const customers = integerOption("customers", values.customers, 1_000_000, 1000);
  const summary = runDemo({ seed, customers });
  console.log(values.json === true ? JSON.stringify(summary, null, 2) : formatDemo(summary));
  return summary.queues.every((q) => q.insideInterval) ? 0 : 1;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  const usage = error instanceof UsageError || error instanceof WorkloadError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
  console.error(`pagesim: ${error instanceof Error ? error.message : String(error)}`);
  if (usage && !(error instanceof WorkloadError)) console.error("Run pagesim --help for usage.");
  process.exitCode = usage ? 2 : 1;
}
