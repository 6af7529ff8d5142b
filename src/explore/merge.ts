import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WorkloadError } from "../workload/errors.ts";
import { CoverageTable } from "./coverage.ts";
import { coverageJson, type CoverageJson } from "./coverage-report.ts";
import type { ExploreSummary } from "./explore.ts";
import { findingName, replayCommand, type FindingSummary } from "./findings.ts";

/** explore.json as explore.ts writes it. */
type ExploreJson = Omit<ExploreSummary, "coverage" | "dir">;

/** True when `dir` holds an exploration (explore.json) rather than a sweep. */
export const isExploreDir = (dir: string): boolean => existsSync(join(dir, "explore.json"));

/**
 * `pagesim merge OUT DIR…` for explorations: findings joined by signature (the one from the
 * lowest run index kept, renumbered in run order), coverage added, runs and steps summed.
 */
export function mergeExplorations(outDir: string, dirs: string[]): { runs: number; findings: number } {
  const parts = dirs.map((dir) => ({ dir, json: readJson<ExploreJson>(dir, "explore.json"), coverage: readJson<CoverageJson>(dir, "coverage.json") }));
  const variants = new Set(parts.map((p) => p.json.variant));
  if (variants.size > 1) throw new WorkloadError(`merge: the explorations are of different variants (${[...variants].join(", ")}); merge one variant at a time`);
  const first = parts[0]!.json;
  const coverage = new CoverageTable();
  for (const p of parts) coverage.merge(CoverageTable.fromJson(p.coverage));
  const bySignature = new Map<string, { from: string; f: FindingSummary }>();
  for (const p of parts) for (const f of p.json.findings) {
    const had = bySignature.get(f.signature);
    if (had === undefined || f.runIndex < had.f.runIndex) bySignature.set(f.signature, { from: p.dir, f });
  }
  mkdirSync(join(outDir, "findings"), { recursive: true });
  const findings = [...bySignature.values()].sort((a, b) => a.f.runIndex - b.f.runIndex).map(({ f }, i) => {
    const dir = join(outDir, "findings", findingName(i + 1));
    cpSync(f.dir, dir, { recursive: true });
    const moved = { ...f, number: i + 1, dir, command: replayCommand(dir) };
    // The copied files name their old place in their reproduce command: name the new one.
    for (const name of ["workload.yaml", "finding.md"]) writeFileSync(join(dir, name), readFileSync(join(dir, name), "utf8").replaceAll(f.command, moved.command));
    writeFileSync(join(dir, "finding.json"), `${JSON.stringify({ ...(readJson<object>(dir, "finding.json")), ...moved }, null, 2)}\n`);
    return moved;
  });
  const sum = (k: "runs" | "engineSteps" | "events"): number => parts.reduce((n, p) => n + p.json[k], 0);
  const merged = { variant: first.variant, seed: first.seed, shard: "", runs: sum("runs"), engineSteps: sum("engineSteps"), events: sum("events"), wallMs: Math.max(...parts.map((p) => p.json.wallMs)), stopped: parts.some((p) => p.json.stopped), mergedFrom: dirs, findings };
  writeFileSync(join(outDir, "coverage.json"), `${JSON.stringify(coverageJson(coverage, first.variant), null, 2)}\n`);
  writeFileSync(join(outDir, "explore.json"), `${JSON.stringify(merged, null, 2)}\n`);
  return { runs: merged.runs, findings: findings.length };
}

function readJson<T>(dir: string, name: string): T {
  try {
    return JSON.parse(readFileSync(join(dir, name), "utf8")) as T;
  } catch {
    throw new WorkloadError(`${dir}: no readable ${name}; expected a directory pagesim explore wrote`);
  }
}
