/**
 * The one thing the analysis code needs from SQLite: run a query, get plain row objects. Both
 * better-sqlite3 (Node) and node:sqlite's DatabaseSync (Deno notebooks, where better-sqlite3's
 * addon does not load) fit behind it, so nothing here imports a driver.
 */

/** A query parameter: what both drivers bind. */
export type SqlParam = string | number | null;

/** A row as the drivers return it: column name to value. */
export type SqlRow = Record<string, unknown>;

/** A read-only query runner over one results.sqlite. */
export interface SqlSource {
  /** Runs `sql` with positional `?` parameters and returns every row. */
  all(sql: string, ...params: SqlParam[]): SqlRow[];
}

/**
 * The shape both drivers share: `db.prepare(sql).all(...params)`. Declared structurally (method
 * syntax, so the drivers' narrower parameter types still fit) to keep this file driver-free.
 */
export interface PreparingDatabase {
  prepare(sql: string): { all(...params: SqlParam[]): unknown[] };
}

/**
 * Wraps a better-sqlite3 `Database` or a node:sqlite `DatabaseSync` as a SqlSource:
 * `sqlSource(new DatabaseSync("results.sqlite", { readOnly: true }))` in a notebook.
 */
export function sqlSource(db: PreparingDatabase): SqlSource {
  return { all: (sql, ...params) => db.prepare(sql).all(...params) as SqlRow[] };
}

/** Whether the database has a table of that name (the `series` table is optional). */
export function hasTable(src: SqlSource, name: string): boolean {
  return src.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", name).length > 0;
}
