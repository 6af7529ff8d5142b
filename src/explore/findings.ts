import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { WorkloadError } from "../workload/errors.ts";
import type { ShrinkOutcome, Variant } from "./probe.ts";
import { workloadSize } from "./shrink.ts";
import { withTeardown } from "./teardown.ts";
import type { Problem, WorkloadInput } from "./types.ts";

/**
 * A finding's directory, DIR/findings/NNN/: workload.yaml (the shrunk workload, its seed in it),
 * run.yaml (the same with the teardown as workload steps, for `pagesim run`), original.yaml (as drawn), finding.md (the explanation and the command that reproduces it) and
 * finding.json (signature, check, sizes, shrinking statistics).
 */

export interface FindingSummary {
  number: number;
  dir: string;
  signature: string;
  check: Problem["check"];
  message: string;
  runIndex: number;
  runSeed: number;
  original: { threads: number; steps: number };
  shrunk: { threads: number; steps: number };
  shrinkRuns: number;
  shrinkTimedOut: boolean;
  command: string;
}

export interface FindingInput {
  variant: Variant;
  seed: number;
  runIndex: number;
  runSeed: number;
  signature: string;
  original: WorkloadInput;
  shrunk: ShrinkOutcome;
}

export const findingName = (n: number): string => String(n).padStart(3, "0");

/** The one command that reproduces a finding. */
export const replayCommand = (dir: string): string => `npx pagesim explore --replay ${dir}`;

/** Writes finding `number` under outDir/findings/ and says what it is. */
export function writeFinding(outDir: string, number: number, f: FindingInput): FindingSummary {
  const dir = join(outDir, "findings", findingName(number));
  mkdirSync(dir, { recursive: true });
  const p = f.shrunk.problem;
  const command = replayCommand(dir);
  const head = `# pagesim explore finding ${findingName(number)} (${f.variant}): ${p.check}: ${p.message}\n# reproduce: ${command}\n`;
  writeFileSync(join(dir, "workload.yaml"), `${head}${stringify(f.shrunk.input)}`);
  // For `pagesim run`: the same workload with explore's teardown as workload steps, so the run's
  // report applies the memory-balance check too (it has no final read-back).
  writeFileSync(join(dir, "run.yaml"), `# finding ${findingName(number)} with every process's exit and the device's unbind appended: npx pagesim run ${join(dir, "run.yaml")}\n${stringify(withTeardown(f.shrunk.input))}`);
  writeFileSync(join(dir, "original.yaml"), `# as drawn: run ${f.runIndex} of pagesim explore --variant ${f.variant} --seed ${f.seed} (run seed ${f.runSeed})\n${stringify(f.original)}`);
  const summary: FindingSummary = {
    number, dir, signature: f.signature, check: p.check, message: p.message, runIndex: f.runIndex, runSeed: f.runSeed,
    original: workloadSize(f.original), shrunk: workloadSize(f.shrunk.input), shrinkRuns: f.shrunk.runs, shrinkTimedOut: f.shrunk.timedOut, command,
  };
  writeFileSync(join(dir, "finding.json"), `${JSON.stringify({ ...summary, variant: f.variant, exploreSeed: f.seed }, null, 2)}\n`);
  writeFileSync(join(dir, "finding.md"), findingMarkdown(summary, f.shrunk));
  return summary;
}

function findingMarkdown(s: FindingSummary, shrunk: ShrinkOutcome): string {
  return [
    `# Finding ${findingName(s.number)}: ${s.check}`,
    "",
    shrunk.markdown,
    "",
    `Signature: \`${s.signature}\``,
    "",
    `Shrunk from ${s.original.threads} threads and ${s.original.steps} steps (run ${s.runIndex}, seed ${s.runSeed}) to ${s.shrunk.threads} threads and ${s.shrunk.steps} steps in ${s.shrinkRuns} runs${s.shrinkTimedOut ? " (the budget ran out first)" : ""}.`,
    "",
    `Reproduce: \`${s.command}\``,
    "",
  ].join("\n");
}

/** A finding directory's workload and signature, for --replay. */
export function readFinding(dir: string): { input: WorkloadInput; signature: string } {
  const read = (name: string): string => {
    try {
      return readFileSync(join(dir, name), "utf8");
    } catch {
      throw new WorkloadError(`${dir}: not a finding directory (no readable ${name}); expected DIR/findings/NNN of pagesim explore`);
    }
  };
  const json = JSON.parse(read("finding.json")) as { signature?: unknown };
  if (typeof json.signature !== "string") throw new WorkloadError(`${join(dir, "finding.json")}: no "signature" string; expected the file pagesim explore wrote`);
  return { input: parseYamlInput(read("workload.yaml"), join(dir, "workload.yaml")), signature: json.signature };
}

function parseYamlInput(text: string, path: string): WorkloadInput {
  // The harness validates it against the workload schema when it runs it.
  try {
    return parse(text) as WorkloadInput;
  } catch {
    throw new WorkloadError(`${path}: not valid YAML; expected the workload pagesim explore wrote`);
  }
}
