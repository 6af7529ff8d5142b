import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { checkArrowFile } from "./reader.ts";
import type { RunManifest } from "./manifest.ts";
import { readManifest, RunDirError, writeManifest } from "./run-files.ts";
import { writeSqlite } from "./sqlite.ts";

/** True when the run asked for events.sqlite and it is not there yet (a fill was cut short or never ran). */
export function sqlitePending(dir: string, m: RunManifest): boolean {
  return m.sqlite === "pending" || (m.sinks.includes("sqlite") && !existsSync(join(dir, "events.sqlite")));
}

/**
 * Fills events.sqlite from the run's events.arrow, after the run or later (`pagesim sqlite`,
 * `pagesim verify`), and records it in run.json. Everything the SQLite file holds besides the
 * events comes from run.json, so a later fill writes the very bytes the run's own fill would have.
 * When the run asked for SQLite alone, the Arrow log is removed once SQLite holds its rows.
 */
export async function fillRunSqlite(dir: string, m: RunManifest, o: { keepArrow?: boolean } = {}): Promise<{ manifest: RunManifest; rows: number }> {
  const arrow = join(dir, "events.arrow");
  if (!existsSync(arrow)) throw new RunDirError(`${dir}: no events.arrow to fill events.sqlite from (the run recorded with --sink ${m.sinks.join(",") || "none"})`);
  await checkArrowFile(arrow);
  const meta = { run: { workload: m.workload.name, seed: m.seed, status: m.status, pagesim: m.pagesim }, threads: m.threads, objects: m.objects };
  const { rows, bytes } = await writeSqlite(arrow, join(dir, "events.sqlite"), meta);
  const manifest: RunManifest = { ...m, files: sortedFiles({ ...m.files, "events.sqlite": { bytes } }), sqlite: "complete" };
  writeManifest(dir, manifest);
  return { manifest: o.keepArrow === true ? manifest : dropIntermediateArrow(dir, manifest), rows };
}

/** With the sqlite sink alone, events.arrow was only the source of the fill: once SQLite has its rows, it goes. */
export function dropIntermediateArrow(dir: string, m: RunManifest): RunManifest {
  if (m.sinks.includes("arrow") || !m.sinks.includes("sqlite") || m.files["events.arrow"] === undefined) return m;
  const files = { ...m.files };
  delete files["events.arrow"];
  const manifest = { ...m, files };
  writeManifest(dir, manifest);
  rmSync(join(dir, "events.arrow"), { force: true });
  return manifest;
}

/** events.arrow before events.sqlite, whichever was written first: run.json's bytes do not depend on when SQLite was filled. */
function sortedFiles(files: RunManifest["files"]): RunManifest["files"] {
  return Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b)));
}

/** `pagesim sqlite RUN_DIR`: (re)fills events.sqlite from the run's Arrow log, whatever state it was left in. */
export async function fillSqliteCommand(dir: string): Promise<{ path: string; rows: number; bytes: number }> {
  const manifestPath = join(dir, "run.json");
  if (!existsSync(manifestPath)) throw new RunDirError(`${dir}: not a run directory (no run.json)`);
  const { manifest, rows } = await fillRunSqlite(dir, readManifest(manifestPath));
  return { path: join(dir, "events.sqlite"), rows, bytes: manifest.files["events.sqlite"]!.bytes };
}
