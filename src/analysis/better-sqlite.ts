import Database from "better-sqlite3";
import { ResultsError } from "./results.ts";
import { sqlSource, type SqlSource } from "./sql-source.ts";

/**
 * Opens a results.sqlite read-only with better-sqlite3: the Node-only adapter, kept out of the
 * modules notebooks import (Deno cannot load better-sqlite3's addon; it uses node:sqlite instead).
 * A file that is not SQLite is reported as bad input, naming it.
 */
export function openResults(path: string): SqlSource & { close(): void } {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.prepare("SELECT count(*) FROM sqlite_master").get();
  } catch (error) {
    throw new ResultsError(`${path}: cannot read it as SQLite (${error instanceof Error ? error.message : String(error)})`);
  }
  return { ...sqlSource(db), close: () => db.close() };
}
