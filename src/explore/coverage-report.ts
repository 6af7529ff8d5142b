import type { ModelVariant } from "../pagemap/context.ts";
import { PAGEMAP_EXITS } from "../pagemap/exits.ts";
import { PAGEMAP_FUNCTIONS } from "../pagemap/events.ts";
import { coverageKey, type CoverageJsonLabel, type CoverageTable } from "./coverage.ts";

/** One row of the coverage table. */
export interface CoverageRow {
  fn: string;
  label: string;
  /** exit, attempt (evict_to_ram) or early (before .begin); "exit" for a label outside the catalogue. */
  kind: string;
  runs: number;
  /** The first run that reached it; null when none did. */
  firstRun: number | null;
  /** false: reached, but not a label src/pagemap/exits.ts lists for this variant. */
  catalogued: boolean;
}

/**
 * Every exit of the variant (src/pagemap/exits.ts), plus any label a run reached that the
 * catalogue does not list for it; never-reached first, then by function and catalogue order.
 */
export function coverageRows(table: CoverageTable, variant: ModelVariant): CoverageRow[] {
  const rows: CoverageRow[] = [];
  const listed = new Set<string>();
  for (const fn of PAGEMAP_FUNCTIONS) {
    for (const def of PAGEMAP_EXITS[fn]) {
      if (!def.variants.includes(variant)) continue;
      const key = coverageKey(fn, def.label);
      listed.add(key);
      const t = table.tally(key);
      rows.push({ fn, label: def.label, kind: def.kind, runs: t?.runs ?? 0, firstRun: t?.firstRun ?? null, catalogued: true });
    }
  }
  const order = (fn: string): number => {
    const i = (PAGEMAP_FUNCTIONS as readonly string[]).indexOf(fn);
    return i < 0 ? PAGEMAP_FUNCTIONS.length : i;
  };
  const extra = table
    .keys()
    .filter((key) => !listed.has(key))
    .sort()
    .map((key): CoverageRow => {
      const at = key.indexOf(":");
      const t = table.tally(key)!;
      return { fn: key.slice(0, at), label: key.slice(at + 1), kind: "exit", runs: t.runs, firstRun: t.firstRun, catalogued: false };
    });
  for (const row of extra) {
    // After the last row of its function, so a function's rows stay together.
    const after = rows.findLastIndex((r) => order(r.fn) <= order(row.fn));
    rows.splice(after + 1, 0, row);
  }
  // A stable sort keeps function and catalogue order inside each group.
  return rows.sort((a, b) => Number(a.runs > 0) - Number(b.runs > 0));
}

/** The coverage table as printed at the end of an exploration: a summary line, then one row per exit. */
export function formatCoverage(table: CoverageTable, variant: ModelVariant): string {
  const rows = coverageRows(table, variant);
  const reached = rows.filter((r) => r.runs > 0).length;
  const fnWidth = Math.max("function".length, ...rows.map((r) => r.fn.length));
  const labelWidth = Math.max("label".length, ...rows.map((r) => r.label.length + (r.catalogued ? 0 : 2)));
  const runsWidth = Math.max("runs".length, ...rows.map((r) => String(r.runs).length));
  const line = (fn: string, label: string, runs: string, first: string) => `  ${fn.padEnd(fnWidth)}  ${label.padEnd(labelWidth)}  ${runs.padStart(runsWidth)}  ${first}`;
  const lines = [
    `coverage (${variant}): ${reached} of ${rows.length} exits reached in ${table.runs} runs`,
    line("function", "label", "runs", "first run"),
    // A label outside the catalogue is starred: the catalogue (src/pagemap/exits.ts) misses it.
    ...rows.map((r) => line(r.fn, r.catalogued ? r.label : `${r.label} *`, String(r.runs), r.firstRun === null ? "-" : String(r.firstRun))),
  ];
  return `${lines.join("\n")}\n`;
}

/** DIR/coverage.json: what formatCoverage prints, as data (CoverageTable.fromJson reads it back). */
export interface CoverageJson {
  variant: ModelVariant;
  runs: number;
  reached: number;
  total: number;
  labels: CoverageJsonLabel[];
}

export function coverageJson(table: CoverageTable, variant: ModelVariant): CoverageJson {
  const rows = coverageRows(table, variant);
  return {
    variant,
    runs: table.runs,
    reached: rows.filter((r) => r.runs > 0).length,
    total: rows.length,
    labels: rows.map((r) => ({ function: r.fn, label: r.label, kind: r.kind, runs: r.runs, firstRun: r.firstRun })),
  };
}
