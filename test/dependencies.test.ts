import { describe, it, expect } from "vitest";
import Database from "better-sqlite3";
import { tableFromArrays, tableFromIPC, tableToIPC } from "apache-arrow";

// The recording layer stands on these two; a fresh `npm ci` must leave both working
// (better-sqlite3's native binding is built only if package.json allows its install script).
describe("recording dependencies installed by npm ci", () => {
  it("better-sqlite3 opens a database with its native binding and round-trips rows", () => {
    const db = new Database(":memory:");
    db.exec("CREATE TABLE t (seq INTEGER, kind TEXT)");
    const insert = db.prepare("INSERT INTO t VALUES (?, ?)");
    db.transaction(() => {
      for (let i = 0; i < 100; i++) insert.run(i, i % 2 === 0 ? "zdd.get" : "zdd.put");
    })();
    expect(db.prepare("SELECT COUNT(*) AS n, SUM(seq) AS s FROM t").get()).toEqual({ n: 100, s: 4950 });
    db.close();
  });

  it("apache-arrow writes and reads an IPC stream", () => {
    const table = tableFromArrays({ t_ns: Float64Array.from([0, 10, 20]), pid: Int32Array.from([1, 2, 3]) });
    const back = tableFromIPC(tableToIPC(table, "stream"));
    expect(back.numRows).toBe(3);
    expect(Array.from(back.getChild("t_ns")!.toArray() as Float64Array)).toEqual([0, 10, 20]);
  });
});
