import { existsSync } from "node:fs";
import { metricTable } from "../machine/metric-table.ts";
import { RunMetrics, type MetricEvent, type RunFigures } from "../machine/run-metrics.ts";
import type { RunManifest } from "./manifest.ts";
import { decodeEvent, LogFormatError, readEventRows } from "./reader.ts";
import { RunDirError, runDirFiles } from "./run-dir.ts";
import { readManifest } from "./run-files.ts";
import { isEngineKind, RUN_EVENT_SPECS } from "./schema.ts";

/** A run's metrics recomputed from its files: the figures and the table run.json stores. */
export interface LogMetrics {
  manifest: RunManifest;
  figures: RunFigures;
  metrics: Record<string, number>;
}

/**
 * `pagesim metrics`: folds a run directory's events.arrow through the one metrics reader
 * (src/machine/run-metrics.ts), with what the log does not hold taken from run.json: the run's
 * end time, its threads' names and the checks' verdicts.
 */
export async function metricsFromRunDir(dir: string): Promise<LogMetrics> {
  const files = runDirFiles(dir);
  const manifest = readManifest(files.manifest);
  if (typeof manifest.result !== "object" || manifest.result === null || typeof manifest.endNs !== "number" || typeof manifest.events !== "number") throw new RunDirError(`${files.manifest}: not a run's run.json (expected "events", "endNs" and "result")`);
  if (!existsSync(files.arrow)) throw new RunDirError(`${dir}: no events.arrow (the run recorded with --sink ${manifest.sinks.join(",") || "none"}); pagesim metrics reads the Arrow log`);
  const names = new Map((manifest.threads ?? []).map((t) => [t.uid, t.name]));
  const fold = new RunMetrics({ threadName: (uid) => names.get(uid) ?? String(uid) });
  const where = (seq: number) => `events.arrow, event seq ${seq}`;
  let events = 0;
  for await (const row of readEventRows(files.arrow)) {
    if (row.recordedCheck !== row.computedCheck) throw new LogFormatError(`${where(row.seq)}: the row's values do not match its checksum (the log was altered here; ${files.arrow})`);
    if (row.seq !== events) throw new LogFormatError(`${where(row.seq)}: expected seq ${events} (events are missing or out of order; ${files.arrow})`);
    events++;
    if (isEngineKind(row.kind)) continue;
    if (!Object.hasOwn(RUN_EVENT_SPECS, row.kind)) throw new LogFormatError(`${where(row.seq)}: unknown event kind "${row.kind}" (${files.arrow})`);
    const decoded = decodeEvent(row);
    if ("missing" in decoded) throw new LogFormatError(`${where(row.seq)}: the ${row.kind} row lacks the field ${decoded.missing} (${files.arrow})`);
    fold.event(row.seq, row.tNs, row.thread, row.ctx, decoded.ev as MetricEvent);
  }
  if (events !== manifest.events) throw new LogFormatError(`${files.arrow}: holds ${events} events where run.json says ${manifest.events} (a log cut short or a run.json of another run)`);
  const figures = fold.result(manifest.endNs, events);
  const r = manifest.result;
  const metrics = metricTable(figures, { contextViolations: r.contextViolations, invariantsBroken: r.invariantsBroken.length, failedSteps: r.failedSteps.length });
  return { manifest, figures, metrics };
}

/** The metrics as `name  value` lines, in the table's order (docs/metrics.md defines each). */
export function formatMetrics(metrics: Record<string, number>): string {
  const width = Math.max(0, ...Object.keys(metrics).map((k) => k.length));
  return Object.entries(metrics).map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}
