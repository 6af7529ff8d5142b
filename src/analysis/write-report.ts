import { existsSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openResults } from "./better-sqlite.ts";
import { buildReport } from "./report.ts";
import { ResultsError } from "./results.ts";

export interface WriteReportOptions {
  /** Where to write the page; default RESULTS_DIR/report.html. */
  out?: string;
}

export interface WrittenReport {
  path: string;
  /** Ids of the charts drawn: work, pareto, latency, migrations, hz (those the results allow). */
  charts: string[];
  /** Ids of the charts shown as "not in these results". */
  skipped: string[];
}

/**
 * Writes RESULTS_DIR/report.html from RESULTS_DIR/results.sqlite: one self-contained page (inline
 * SVG and CSS, nothing fetched). Written under a temporary name and renamed when whole, so a
 * killed run never leaves half a report. Throws ResultsError (bad input) naming the path when the
 * directory or its results.sqlite is missing or not a sweep's.
 */
export function writeReport(resultsDir: string, options: WriteReportOptions = {}): WrittenReport {
  if (!existsSync(resultsDir) || !statSync(resultsDir).isDirectory()) throw new ResultsError(`${resultsDir}: no such directory`);
  const file = join(resultsDir, "results.sqlite");
  if (!existsSync(file)) throw new ResultsError(`${resultsDir}: no results.sqlite in it (pagesim sweep writes one)`);
  const built = readAndBuild(file);
  const path = options.out ?? join(resultsDir, "report.html");
  const temp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(temp, built.html);
    renameSync(temp, path);
  } catch (error) {
    if (existsSync(temp)) unlinkSync(temp);
    throw error;
  }
  return { path, charts: built.charts, skipped: built.skipped };
}

/** Builds the report from the file, closing the database whatever happens. */
function readAndBuild(file: string): ReturnType<typeof buildReport> {
  const src = openResults(file);
  try {
    return buildReport(src, file);
  } finally {
    src.close();
  }
}
