import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { WorkloadError } from "../workload/errors.ts";
import type { RunHooks } from "../workload/run.ts";
import { CoverageTable } from "./coverage.ts";
import { coverageJson, coverageRows } from "./coverage-report.ts";
import { writeFinding, type FindingSummary } from "./findings.ts";
import { EPOCH_RUNS, epochRuns, type Shard } from "./plan.ts";
import { inProcessExecutor, workerExecutor, type Executor } from "./pool.ts";
import type { RunOutcome, Variant } from "./probe.ts";
import { steerWeights } from "./steer.ts";

/**
 * `pagesim explore` (issue #18; docs/design/explore.md): generated workloads, swarm-tested, run
 * with every check; each new failure (by signature) shrunk to a small workload and written with
 * its explanation under DIR/findings/NNN/; coverage of the kernel functions' exits written as it
 * grows. Deterministic for `--runs`: the same flags give the same runs, findings and coverage on
 * any --jobs (epochs are barriers; results are taken in run order).
 */

export interface ExploreOptions {
  variant: Variant;
  /** Stop after this many runs (over all shards), or when `timeMs` has passed, whichever first. */
  runs?: number;
  timeMs?: number;
  jobs?: number;
  seed: number;
  shard?: Shard;
  outDir: string;
  /** Test hooks (planted bugs): the exploration then runs on this thread, whatever `jobs` says. */
  hooks?: RunHooks;
  /** Each finding's shrinking budget (default 500 runs or 60 s). */
  shrinkBudget?: { maxRuns: number; maxMs: number };
  onProgress?: (p: ExploreProgress) => void;
  onFinding?: (f: FindingSummary) => void;
  /** Polled between runs: true stops dispatching (Ctrl-C); what was found is kept. */
  shouldStop?: () => boolean;
}

export interface ExploreProgress {
  runs: number;
  /** The run count to reach, when --runs set one for this shard. */
  total?: number;
  runsPerSec: number;
  findings: number;
  labelsReached: number;
  labelsTotal: number;
  elapsedMs: number;
}

export interface ExploreSummary {
  dir: string;
  variant: Variant;
  seed: number;
  shard: string;
  runs: number;
  engineSteps: number;
  events: number;
  wallMs: number;
  /** Wall time spent running drawn workloads (not shrinking or writing findings): what runs/s divides by. */
  runMs: number;
  /** Wall time spent shrinking and writing the findings, after the runs. */
  shrinkMs: number;
  stopped: boolean;
  findings: FindingSummary[];
  coverage: CoverageTable;
}

/** Runs an exploration; see ExploreOptions. */
export async function explore(o: ExploreOptions): Promise<ExploreSummary> {
  if (o.runs === undefined && o.timeMs === undefined) throw new WorkloadError("explore: give --runs N or --time DURATION");
  if (existsSync(join(o.outDir, "explore.json"))) throw new WorkloadError(`${o.outDir}: holds an earlier exploration (explore.json); use another --out`);
  mkdirSync(join(o.outDir, "findings"), { recursive: true });
  const jobs = Math.max(1, o.jobs ?? availableParallelism());
  const executor: Executor = o.hooks !== undefined ? inProcessExecutor(o.hooks) : workerExecutor(jobs);
  const coverage = new CoverageTable();
  const signatures = new Set<string>();
  const pending: RunOutcome[] = [];
  const s: ExploreSummary = { dir: o.outDir, variant: o.variant, seed: o.seed, shard: o.shard === undefined ? "" : `${o.shard.k}/${o.shard.n}`, runs: 0, engineSteps: 0, events: 0, wallMs: 0, runMs: 0, shrinkMs: 0, stopped: false, findings: [], coverage };
  const started = performance.now();
  let epochStart = started;
  const runLimit = o.runs ?? Infinity;
  const deadline = o.timeMs === undefined ? Infinity : started + o.timeMs;
  const expired = (): boolean => performance.now() >= deadline || o.shouldStop?.() === true;
  const total = o.runs === undefined ? undefined : o.shard === undefined ? o.runs : epochRunsTotal(o.runs, o.shard);
  const progress = (): void => {
    const elapsedMs = performance.now() - started;
    const rows = coverageRows(coverage, o.variant);
    o.onProgress?.({ runs: s.runs, ...(total === undefined ? {} : { total }), runsPerSec: s.runs / Math.max((s.runMs + (performance.now() - epochStart)) / 1000, 1e-3), findings: s.findings.length + pending.length, labelsReached: rows.filter((r) => r.runs > 0).length, labelsTotal: rows.length, elapsedMs });
  };
  try {
    for (let epoch = 0; epoch * EPOCH_RUNS < runLimit && !expired(); epoch++) {
      const weights = steerWeights(coverage, o.variant);
      const indices = epochRuns(epoch, runLimit, o.shard);
      const outcomes: RunOutcome[] = [];
      let next = 0;
      // `jobs` lanes, each taking the next run index when its last run answers; --time and
      // Ctrl-C are looked at before each dispatch.
      const lane = async (): Promise<void> => {
        while (next < indices.length && !expired()) {
          const runIndex = indices[next++]!;
          outcomes.push(await executor.run({ kind: "run", runIndex, seed: o.seed, variant: o.variant, weights }));
          s.runs++;
          progress();
        }
      };
      const laneStart = performance.now();
      epochStart = laneStart;
      await Promise.all(Array.from({ length: jobs }, lane));
      s.runMs += performance.now() - laneStart;
      epochStart = performance.now();
      takeEpoch(outcomes, s, signatures, pending);
      writeState(o.outDir, s, pending);
      progress();
    }
    s.stopped = o.shouldStop?.() === true;
    // Shrinking after the runs, so --time buys runs (a no-progress candidate takes seconds); after
    // Ctrl-C each finding is written as drawn, explained but not shrunk.
    const shrinkStart = performance.now();
    await shrinkAndWrite(o, executor, s, pending, s.stopped ? { maxRuns: 0, maxMs: 0 } : (o.shrinkBudget ?? { maxRuns: 500, maxMs: 60_000 }));
    s.shrinkMs = performance.now() - shrinkStart;
  } finally {
    await executor.close();
  }
  s.wallMs = performance.now() - started;
  writeState(o.outDir, s, []);
  return s;
}

/** Runs --runs N gives shard K/N. */
function epochRunsTotal(runs: number, shard: Shard): number {
  return Math.floor(runs / shard.n) + (shard.k - 1 < runs % shard.n ? 1 : 0);
}

/** An epoch's outcomes, in run order: coverage added; a run failing with a signature not seen before becomes a finding to shrink. */
function takeEpoch(outcomes: RunOutcome[], s: ExploreSummary, signatures: Set<string>, pending: RunOutcome[]): void {
  outcomes.sort((a, b) => a.runIndex - b.runIndex);
  for (const r of outcomes) {
    s.coverage.addRun(r.runIndex, r.labels);
    s.engineSteps += r.engineSteps;
    s.events += r.events;
    if (r.failure === undefined || signatures.has(r.failure.signature)) continue;
    signatures.add(r.failure.signature);
    pending.push(r);
  }
}

/** Shrinks every pending finding (in parallel on the executor) and writes them, numbered in run order. */
async function shrinkAndWrite(o: ExploreOptions, executor: Executor, s: ExploreSummary, fresh: RunOutcome[], budget: { maxRuns: number; maxMs: number }): Promise<void> {
  const shrunk = await Promise.all(fresh.map((r, i) => executor.shrink({ kind: "shrink", id: i, input: r.failure!.input, signature: r.failure!.signature, budget })));
  for (const [i, r] of fresh.entries()) {
    const number = s.findings.length + 1;
    const finding = writeFinding(o.outDir, number, { variant: o.variant, seed: o.seed, runIndex: r.runIndex, runSeed: r.runSeed, signature: r.failure!.signature, original: r.failure!.input, shrunk: shrunk[i]! });
    s.findings.push(finding);
    o.onFinding?.(finding);
  }
}

/**
 * explore.json and coverage.json, rewritten after every epoch (an interrupted exploration keeps
 * them); `pending` lists the failures found and not yet shrunk (each replays from its run index).
 */
function writeState(dir: string, s: ExploreSummary, pending: RunOutcome[]): void {
  const { coverage, findings, ...rest } = s;
  const unshrunk = pending.map((r) => ({ runIndex: r.runIndex, runSeed: r.runSeed, signature: r.failure!.signature }));
  writeFileSync(join(dir, "coverage.json"), `${JSON.stringify(coverageJson(coverage, s.variant), null, 2)}\n`);
  writeFileSync(join(dir, "explore.json"), `${JSON.stringify({ ...rest, findings, ...(unshrunk.length > 0 ? { pending: unshrunk } : {}) }, null, 2)}\n`);
}
