import { existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RunManifest } from "./manifest.ts";

/**
 * The temporary names a run directory's writers use (and used: `events.sqlite.pending` is an
 * older version's). Only these are removed, never anything else a user keeps in the directory.
 */
const STALE = /^(events\.arrow|events\.sqlite|events\.sqlite\.pending|run\.json|workload\.yaml|trace\.json)(\.tmp)?(-wal|-shm|-journal)?$/;

/** A file a killed run (or a killed SQLite fill) can leave behind: a temporary, never a final name. */
export function isStaleFile(name: string): boolean {
  const m = STALE.exec(name);
  return m !== null && (m[2] !== undefined || m[1] === "events.sqlite.pending");
}

/** Removes what killed runs left in `dir`; returns each file's name and size, for the caller to say so. */
export function removeStaleFiles(dir: string): { name: string; bytes: number }[] {
  if (!existsSync(dir)) return [];
  const removed: { name: string; bytes: number }[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!isStaleFile(name)) continue;
    const path = join(dir, name);
    const bytes = statSync(path).size;
    rmSync(path, { force: true });
    removed.push({ name, bytes });
  }
  return removed;
}

/** Writes run.json whole: under a temporary name, then renamed over the old one. */
export function writeManifest(dir: string, manifest: RunManifest): void {
  const tmp = join(dir, "run.json.tmp");
  writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(tmp, join(dir, "run.json"));
}

/** Reads run.json, saying so when it is not the JSON a run writes. */
export function readManifest(path: string): RunManifest {
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new RunDirError(`${path}: not a readable run.json (expected the JSON a run writes)`);
  }
  if (typeof manifest !== "object" || manifest === null || !Array.isArray((manifest as RunManifest).sinks)) throw new RunDirError(`${path}: not a run's run.json (no "sinks")`);
  return manifest as RunManifest;
}

/** A run directory that is missing or incomplete: a usage error (exit 2). */
export class RunDirError extends Error {
  override name = "RunDirError";
}
