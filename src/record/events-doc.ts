import { ENGINE_EVENT_KINDS } from "../engine/index.ts";
import { COLUMNS, ENGINE_KIND_FIELDS, REFCOUNT_KINDS, RUN_EVENT_SPECS, type ColumnName } from "./schema.ts";

const ARROW_TYPE: Record<string, string> = {
  i32: "int32",
  u32: "uint32",
  i64: "int64",
  bool: "bool",
  enum: "dictionary<utf8>",
  text: "utf8",
  i64list: "list<int64>",
};
const SQLITE_TYPE: Record<string, string> = { i32: "INTEGER", u32: "INTEGER", i64: "INTEGER", bool: "INTEGER 0/1", enum: "TEXT", text: "TEXT", i64list: "TEXT (JSON array)" };

/** Kinds grouped by the layer that emits them, for the reader's sake. */
function group(kind: string): string {
  if (kind.startsWith("step.") || kind.startsWith("access.")) return "Workload steps and page accesses";
  if (/^(svm_range|gpu_fault|gpu|copy)\./.test(kind)) return "The driver and GPU (Xe GPU SVM, copy engine)";
  if (/^(dpagemap|devmem|zdd|dma|kernel|cpu_fault)\.|^(migrate_to_devmem|migrate_to_ram|evict_to_ram|populate_mm)\./.test(kind)) return "drm_pagemap";
  return "Memory management (mm)";
}

/**
 * docs/events.md, generated from the log's schema (src/record/schema.ts) so it cannot go stale:
 * a test fails when the file and this text differ (`npm run docs` rewrites it).
 */
export function eventsMarkdown(): string {
  const out: string[] = [
    "# The event log",
    "",
    "<!-- Generated from src/record/schema.ts by `npm run docs`; do not edit by hand. -->",
    "",
    "Every change to the model's state is an event, and the state changes only by applying events",
    "(one `apply` function for the live run and for `pagesim verify`'s replay). A run directory holds",
    "the log as `events.arrow` (Arrow IPC file, one record batch per 65,536 events) and/or",
    "`events.sqlite` (table `events`, plus `run`, `threads`, `objects` and `kinds`).",
    "",
    "`events.arrow` is narrow: one row per event, with the header every event has (`seq`, `t_ns`,",
    "`kind`, `thread`, `ctx`), the row's checksum (`check`), and `fields`, an Arrow dense union with",
    "one member per kind (all engine kinds share the member `engine`). A member is a table of its",
    "kind's rows: `seq`, then the kind's own columns below, typed and never null (but `refcount` and",
    "an engine event's `object`), so a row stores only what its kind has: about 52 bytes an event",
    "over the bundled workloads. The columns keep the names and meanings of the table below.",
    "`events.sqlite`'s `events` table is one wide table: every column below, null where the kind",
    "has no such column, so one `select` reads every event in order.",
    "",
    "## Reading the log",
    "",
    "JavaScript or TypeScript (apache-arrow, as the notebooks do):",
    "",
    "```ts",
    "import { tableFromIPC } from \"apache-arrow\";",
    "const log = tableFromIPC(readFileSync(\"results/timeslice-refault/seed-1/events.arrow\"));",
    "for (const e of log) if (e.kind === \"migrate_to_devmem.end\") console.log(e.t_ns, e.thread, e.fields.ret);",
    "```",
    "",
    "Python (pyarrow reads the file as it is; pandas, polars and DuckDB take its tables from",
    "pyarrow, as none of them takes a union column):",
    "",
    "```python",
    "import pyarrow as pa, pyarrow.ipc",
    "log = pyarrow.ipc.open_file(\"results/timeslice-refault/seed-1/events.arrow\").read_all()",
    "header = log.drop_columns([\"fields\"])   # seq, t_ns, kind, thread, ctx, check: every event in order",
    "",
    "def kind_table(log, kind):",
    "    \"\"\"One kind's rows (\"engine\" for engine events): seq and the kind's columns.\"\"\"",
    "    union = log.schema.field(\"fields\").type",
    "    member = [union.field(i).name for i in range(union.num_fields)].index(kind)",
    "    names = [f.name for f in union.field(member).type]",
    "    parts = [c.field(member) for c in log.column(\"fields\").chunks]   # each batch's rows of that kind",
    "    return pa.Table.from_batches([pa.RecordBatch.from_arrays(p.flatten(), names=names) for p in parts])",
    "",
    "ends = kind_table(log, \"migrate_to_devmem.end\").to_pandas().merge(header.to_pandas(), on=\"seq\")",
    "# polars.from_arrow(kind_table(...)); duckdb.sql(\"select kind, count(*) from header group by kind\")",
    "```",
    "",
    "SQL, on `events.sqlite`:",
    "",
    "```sh",
    "sqlite3 results/timeslice-refault/seed-1/events.sqlite \\",
    "  \"select t_ns, thread, ret from events where kind = 'migrate_to_devmem.end'\"",
    "```",
    "",
    "Thread names are in `run.json` (`threads`) and the SQLite `threads` table; engine object names",
    "(locks, completions, queues) in `run.json` (`objects`) and the `objects` table.",
    "",
    "## When the files are written",
    "",
    "A run writes `events.arrow` as it goes (under `events.arrow.tmp`), then gives it, `workload.yaml`",
    "and `run.json` their final names; `events.sqlite` is filled from the Arrow log after that, under",
    "`events.sqlite.tmp`. Until the fill is done `run.json` says `\"sqlite\": \"pending\"` and its",
    "`files` has no `events.sqlite`; then `\"sqlite\": \"complete\"` and `files` lists it. A fill cut",
    "short (a second Ctrl-C, a kill) leaves `\"pending\"`: `pagesim sqlite RUN_DIR` fills it, and so does",
    "`pagesim verify RUN_DIR`, which then compares its rows with the Arrow log. With `--sink sqlite`",
    "alone, `events.arrow` is kept until SQLite holds its rows, then removed. The next run in a",
    "directory removes the `*.tmp` files a killed run left there, and says so.",
    "",
    "`status` in `run.json` is `complete`, `interrupted` (Ctrl-C or SIGTERM) or `stopped: budget` (the",
    "run passed `--max-events` or `--max-bytes`; `budget` says which, and where it stopped); in each",
    "case the log holds every event up to the last one and `pagesim verify` passes on it.",
    "",
    "## Columns",
    "",
    "| column | Arrow | SQLite | meaning |",
    "|---|---|---|---|",
  ];
  for (const c of COLUMNS) {
    const values = "values" in c ? ` (${(c.values as readonly string[]).map((v) => `\`${v}\``).join(", ")})` : "";
    out.push(`| \`${c.name}\` | ${ARROW_TYPE[c.type]} | ${SQLITE_TYPE[c.type]} | ${c.doc}${values} |`);
  }
  out.push("", "Every row has `seq`, `t_ns`, `kind`, `thread`, `ctx` and `check`.", "");
  const groups = new Map<string, string[]>();
  for (const [kind, spec] of Object.entries(RUN_EVENT_SPECS)) {
    const fields = Object.entries(spec.fields as Record<string, ColumnName>).map(([f, col]) => (f === col || snake(f) === col ? `\`${col}\`` : `\`${col}\` (${f})`));
    const g = group(kind);
    const rows = groups.get(g) ?? [];
    rows.push(`| \`${kind}\` | ${fields.join(", ") || "—"} | ${spec.doc} |`);
    groups.set(g, rows);
  }
  for (const [name, rows] of groups) out.push(`## ${name}`, "", "| kind | columns | what it records |", "|---|---|---|", ...rows, "");
  out.push(
    `Kinds ${listed([...REFCOUNT_KINDS])} also carry \`refcount\`: the count after the change.`,
    "",
    "## Engine events",
    "",
    `The simulation engine's own changes (threads, locks, completions, queues). Columns: \`${ENGINE_KIND_FIELDS.object}\` (which primitive, when there is one) and \`${ENGINE_KIND_FIELDS.arg}\`.`,
    "",
    "| kind | what it records |",
    "|---|---|",
  );
  for (const [kind, doc] of Object.entries(ENGINE_EVENT_KINDS)) out.push(`| \`${kind}\` | ${doc} |`);
  out.push("");
  return out.join("\n");
}

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** `a`, `b` and `c`. */
const listed = (names: string[]) => names.map((n) => `\`${n}\``).join(", ").replace(/, ([^,]*)$/, " and $1");
