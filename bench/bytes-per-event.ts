/**
 * Bytes per event of the Arrow event log over every bundled workload (issue #16's goal: ≤ 64 on
 * average), and a check that each file still opens in the Arrow project's own JavaScript reader.
 *
 * Each workloads/*.yaml runs at its own seed, as a user runs it (`pagesim run FILE --sink arrow
 * --no-fsync`, the built CLI, one process each) into a temporary run directory. The log's bytes
 * are the sizes of every `.arrow` file under the run directory (whatever the layout: one table or
 * several), the file length as a reader sees it, with the blocks the file system allocated beside
 * it (the writer leaves value-less stretches as holes). Two averages: total bytes ÷ total events
 * (weighted by events) and the mean of the workloads' own bytes per event.
 *
 * The check: every `.arrow` file opens with apache-arrow's `tableFromIPC`, and the rows agree with
 * run.json's event count: events.arrow's numRows when there is one, else the rows of all files
 * together. A failed check exits 1.
 *
 *   node dist/bench/bytes-per-event.js [--only NAME] [--json]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { tableFromIPC } from "apache-arrow";
import { projectFile } from "./project-file.ts";

const CLI = fileURLToPath(new URL("../src/cli.js", import.meta.url));
const WORKLOADS = dirname(projectFile("workloads/atomic-ping-pong.yaml", import.meta.url));

interface Row {
  workload: string;
  events: number;
  bytes: number;
  allocatedBytes: number;
  bytesPerEvent: number;
  files: { file: string; bytes: number; numRows: number }[];
  /** null when the files open and their rows agree with run.json; else what is wrong. */
  problem: string | null;
}

/** Every file under `dir` whose name ends in .arrow. */
function arrowFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".arrow"))
    .map((f) => join(dir, f))
    .sort();
}

function measure(file: string, dir: string): Row {
  const workload = basename(file, ".yaml");
  const out = join(dir, workload);
  // Exit 1 is a run whose checks found something (a lost write, a failed step): its log is whole.
  const r = spawnSync(process.execPath, [CLI, "run", file, "--out", out, "--sink", "arrow", "--no-fsync"], { encoding: "utf8", maxBuffer: 64 << 20 });
  const base = { workload, events: 0, bytes: 0, allocatedBytes: 0, bytesPerEvent: 0, files: [] };
  let manifest: { events?: number; status?: string };
  try {
    manifest = JSON.parse(readFileSync(join(out, "run.json"), "utf8")) as typeof manifest;
  } catch {
    return { ...base, problem: `pagesim run exited ${r.status} without a run.json: ${r.stderr.trim().split("\n")[0] ?? ""}` };
  }
  const events = manifest.events ?? 0;
  const files: Row["files"] = [];
  let problem: string | null = manifest.status === "complete" ? null : `run.json status ${manifest.status}`;
  let allocatedBytes = 0;
  for (const path of arrowFiles(out)) {
    const st = statSync(path);
    allocatedBytes += st.blocks * 512;
    let numRows = -1;
    try {
      numRows = tableFromIPC(readFileSync(path)).numRows;
    } catch (e) {
      problem ??= `${relative(out, path)} does not open with tableFromIPC: ${(e as Error).message}`;
    }
    files.push({ file: relative(out, path), bytes: st.size, numRows });
  }
  const main = files.find((f) => f.file === "events.arrow");
  const rows = main !== undefined ? main.numRows : files.reduce((n, f) => n + f.numRows, 0);
  if (files.length === 0) problem ??= "no .arrow file in the run directory";
  else if (rows !== events) problem ??= `${main !== undefined ? "events.arrow has" : "the .arrow files have"} ${rows} rows, run.json says ${events} events`;
  rmSync(out, { recursive: true, force: true });
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  return { workload, events, bytes, allocatedBytes, bytesPerEvent: events === 0 ? 0 : bytes / events, files, problem };
}

const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
const files = readdirSync(WORKLOADS)
  .filter((f) => f.endsWith(".yaml") && (only === undefined || f === `${only}.yaml`))
  .sort()
  .map((f) => join(WORKLOADS, f));
if (files.length === 0) throw new Error(`bench: no workload ${only === undefined ? "" : `named ${only} `}in ${WORKLOADS}`);

const dir = mkdtempSync(join(tmpdir(), "pagesim-bench-bytes-"));
let rows: Row[];
try {
  rows = files.map((f) => measure(f, dir));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const MB = 1e6;
console.log(`event log bytes per event, ${rows.length} bundled workloads (each at its own seed, pagesim run --sink arrow)`);
console.log("| workload | events | .arrow files | bytes | allocated | bytes/event | opens, rows = events |");
console.log("|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.workload} | ${r.events.toLocaleString("en")} | ${r.files.length} | ${(r.bytes / MB).toFixed(2)} MB | ${(r.allocatedBytes / MB).toFixed(2)} MB | ${r.bytesPerEvent.toFixed(1)} | ${r.problem ?? "yes"} |`,
  );
}
const totalEvents = rows.reduce((n, r) => n + r.events, 0);
const totalBytes = rows.reduce((n, r) => n + r.bytes, 0);
const totalAllocated = rows.reduce((n, r) => n + r.allocatedBytes, 0);
const weighted = totalBytes / totalEvents;
const mean = rows.reduce((n, r) => n + r.bytesPerEvent, 0) / rows.length;
const problems = rows.filter((r) => r.problem !== null);
console.log(`\ntotal: ${totalEvents.toLocaleString("en")} events, ${(totalBytes / MB).toFixed(1)} MB (${(totalAllocated / MB).toFixed(1)} MB allocated)`);
console.log(`bytes/event: ${weighted.toFixed(1)} over all events (total ÷ total), ${mean.toFixed(1)} as the mean of the ${rows.length} workloads' own; goal ≤ 64`);
console.log(`every file opens with tableFromIPC and its rows equal run.json's events: ${problems.length === 0 ? "yes" : `NO, ${problems.length} workloads: ${problems.map((r) => r.workload).join(", ")}`}`);
if (process.argv.includes("--json")) {
  console.log(JSON.stringify({ workloads: rows.length, totalEvents, totalBytes, totalAllocated, bytesPerEvent: weighted, meanBytesPerEvent: mean, allOpen: problems.length === 0, rows }));
}
if (problems.length > 0) process.exitCode = 1;
