import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { stateDigest, stateSummary } from "../check/digest.ts";
import type { Workload } from "../workload/schema.ts";
import { WorkloadRun, type RunReport } from "../workload/run.ts";
import { ArrowEventWriter } from "./arrow-file.ts";
import { EventRecorder, type ThreadInfo } from "./recorder.ts";
import { safeName } from "./out-dir.ts";
import { writeSqlite } from "./sqlite.ts";
import { pagesimVersion } from "./version.ts";

export type SinkName = "arrow" | "sqlite";
export const SINK_NAMES: readonly SinkName[] = ["arrow", "sqlite"];

/** What run.json holds: everything needed to reproduce the run and to check its log. */
export interface RunManifest {
  pagesim: string;
  status: "complete" | "interrupted";
  workload: { name: string; file: string; description: string; overrides: Record<string, unknown>; resolved: Workload };
  seed: number;
  variant: string;
  sinks: SinkName[];
  events: number;
  endNs: number;
  /** Of the final model state (stateDigest): verify replays the log and must arrive at it. */
  digest: string;
  state: Record<string, number>;
  threads: ThreadInfo[];
  objects: string[];
  files: Record<string, { bytes: number }>;
  result: { steps: number; invariantsBroken: string[]; lostWrites: string[]; kernelBugs: string[]; contextViolations: number };
  reproduce: string;
}

export interface RecordOptions {
  /** The workload file, as the user named it. */
  file: string;
  workload: Workload;
  seed?: number;
  /** Default: results/<workload name>/seed-<seed>. */
  outDir?: string;
  sinks: readonly SinkName[];
  /** The --set / sweep overrides the workload was loaded with (recorded, and in the reproduce line). */
  overrides?: Record<string, unknown>;
  /** Process resumptions between looks at the clock (to let Node's event loop run). */
  sliceSteps?: number;
  /** Polled between slices: true stops the run early, keeping what it has (SIGINT/SIGTERM). */
  shouldStop?: () => boolean;
}

export interface RecordResult {
  dir: string;
  report: RunReport;
  manifest: RunManifest;
}

export function defaultRunDir(file: string, seed: number): string {
  return join("results", safeName(file), `seed-${seed}`);
}

/**
 * Runs one workload and writes its run directory: events.arrow and/or events.sqlite, a copy of
 * the workload, and run.json (written last). Every file is written under a temporary name and
 * renamed when whole, so a killed run leaves the previous run's files or none.
 */
export async function recordRun(o: RecordOptions): Promise<RecordResult> {
  const seed = o.seed ?? o.workload.seed;
  const dir = o.outDir ?? defaultRunDir(o.file, seed);
  mkdirSync(dir, { recursive: true });
  const wantLog = o.sinks.length > 0;
  // With SQLite alone, the Arrow log is still the intermediate: SQLite is filled from it after the run.
  const arrowPath = join(dir, "events.arrow");
  let writer: ArrowEventWriter | null = null;
  let recorder: EventRecorder | null = null;
  const run = new WorkloadRun(o.workload, seed, {
    onLog: (log) => {
      if (!wantLog) return;
      writer = new ArrowEventWriter(arrowPath);
      recorder = new EventRecorder(log.state, [writer]);
      log.subscribe(recorder);
    },
  });
  let interrupted = false;
  try {
    // Node runs signal handlers only between tasks: give it a turn every ~50 ms of wall time.
    let lastYield = performance.now();
    while (!run.advance(o.sliceSteps ?? 1000)) {
      if (performance.now() - lastYield < 50) continue;
      await yieldToEventLoop();
      lastYield = performance.now();
      if (o.shouldStop?.() === true) {
        interrupted = true;
        break;
      }
    }
  } catch (error) {
    (writer as ArrowEventWriter | null)?.abort();
    throw error;
  }
  const report = run.report();
  const w = run.world;
  const files: Record<string, { bytes: number }> = {};
  const threads = (recorder as EventRecorder | null)?.threads ?? [];
  const objects = w.engine.objectNames();
  const name = basename(o.file, extname(o.file));
  // Every file is completed under a temporary name first; the renames come together at the end,
  // run.json last, so a kill at any moment leaves each final name with a whole file.
  const renames: [string, string][] = [];
  (recorder as EventRecorder | null)?.flush();
  const finalWriter = writer as ArrowEventWriter | null;
  if (finalWriter !== null) {
    const bytes = finalWriter.close(false);
    if (o.sinks.includes("arrow")) {
      files["events.arrow"] = { bytes };
      renames.push([finalWriter.tmpPath, arrowPath]);
    }
  }
  if (o.sinks.includes("sqlite")) {
    const meta = { run: { workload: name, seed, status: interrupted ? "interrupted" : "complete", pagesim: pagesimVersion() }, threads, objects: [...objects] };
    const pending = join(dir, "events.sqlite.pending");
    files["events.sqlite"] = { bytes: (await writeSqlite(finalWriter!.tmpPath, pending, meta)).bytes };
    renames.push([pending, join(dir, "events.sqlite")]);
    if (!o.sinks.includes("arrow")) rmSync(finalWriter!.tmpPath, { force: true });
  }
  copyFileSync(o.file, join(dir, "workload.yaml.tmp"));
  renames.push([join(dir, "workload.yaml.tmp"), join(dir, "workload.yaml")]);

  const manifest: RunManifest = {
    pagesim: pagesimVersion(),
    status: interrupted ? "interrupted" : "complete",
    workload: { name, file: o.file, description: o.workload.description, overrides: o.overrides ?? {}, resolved: o.workload },
    seed,
    variant: o.workload.model.variant,
    sinks: [...o.sinks],
    events: w.log.length,
    endNs: w.engine.nowNs,
    digest: stateDigest(w.p.state),
    state: stateSummary(w.p.state),
    threads,
    objects: [...objects],
    files,
    result: {
      steps: report.steps.length,
      invariantsBroken: report.invariants,
      lostWrites: report.lostWrites,
      kernelBugs: report.kernelBugs,
      contextViolations: report.contextViolations.length,
    },
    reproduce: [`pagesim run ${join(dir, "workload.yaml")}`, ...Object.entries(o.overrides ?? {}).filter(([k]) => k !== "seed").map(([k, v]) => `--set ${k}=${JSON.stringify(v)}`), `--seed ${seed} --out ${dir}`].join(" "),
  };
  writeFileSync(join(dir, "run.json.tmp"), `${JSON.stringify(manifest, null, 2)}\n`);
  renames.push([join(dir, "run.json.tmp"), join(dir, "run.json")]);
  for (const [from, to] of renames) renameSync(from, to);
  // A file the previous run in this directory wrote but this one did not would contradict run.json.
  for (const stale of ["events.arrow", "events.sqlite"]) if (files[stale] === undefined) rmSync(join(dir, stale), { force: true });
  return { dir, report, manifest };
}

/** Reads a run directory's run.json, saying what is wrong when it cannot. */
export function runDirFiles(dir: string): { manifest: string; arrow: string; sqlite: string } {
  const manifest = join(dir, "run.json");
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RunDirError(`${dir}: not a run directory (no such directory)`);
  if (!existsSync(manifest)) throw new RunDirError(`${dir}: not a run directory (no run.json)`);
  return { manifest, arrow: join(dir, "events.arrow"), sqlite: join(dir, "events.sqlite") };
}

/** A run directory that is missing or incomplete: a usage error (exit 2). */
export class RunDirError extends Error {
  override name = "RunDirError";
}
