import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { recordRun } from "../src/record/run-dir.ts";
import { loadWorkload } from "../src/workload/load.ts";

const cli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { encoding: "utf8" });

let good: string;
let events: number;
beforeAll(async () => {
  const file = "workloads/timeslice-refault.yaml";
  const run = await recordRun({ file, workload: loadWorkload(file), outDir: join(mkdtempSync(join(tmpdir(), "pagesim-vsql-")), "good"), sinks: ["arrow", "sqlite"] });
  good = run.dir;
  events = run.manifest.events;
});

/** A copy of the good run whose events.sqlite `edit` changed. */
function edited(edit: (db: Database.Database) => void): string {
  const dir = join(mkdtempSync(join(tmpdir(), "pagesim-vsql-")), "run");
  cpSync(good, dir, { recursive: true });
  const db = new Database(join(dir, "events.sqlite"));
  edit(db);
  db.close();
  return dir;
}

describe("verify checks events.sqlite against the Arrow log", () => {
  it("an untouched copy passes, and verify says it compared every row", () => {
    const r = cli("verify", good);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`events.sqlite holds the same ${events} rows, every column, and passes SQLite's integrity check`);
  });

  it("one edited value fails (exit 1) naming its seq and column", () => {
    const dir = edited((db) => db.prepare("UPDATE events SET t_ns = t_ns + 1 WHERE seq = 4321").run());
    const r = cli("verify", dir);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/DIVERGES at event seq 4321 \(.*\): events\.sqlite differs from events\.arrow in column t_ns/);
  });

  it("an edited text value is found too", () => {
    const dir = edited((db) => db.prepare("UPDATE events SET ctx = 'irq' WHERE seq = (SELECT min(seq) FROM events WHERE seq > 100 AND ctx <> 'irq')").run());
    const seq = new Database(join(good, "events.sqlite"), { readonly: true }).prepare("SELECT min(seq) FROM events WHERE seq > 100 AND ctx <> 'irq'").pluck().get();
    const r = cli("verify", dir);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`DIVERGES at event seq ${seq} .*column ctx`));
  });

  it("an edited list value (pfns, a JSON array in SQLite) is found", () => {
    const sql = "SELECT min(seq) FROM events WHERE pfns IS NOT NULL AND pfns <> '[]'";
    const seq = new Database(join(good, "events.sqlite"), { readonly: true }).prepare(sql).pluck().get() as number;
    expect(seq).toBeGreaterThan(0);
    const dir = edited((db) => db.prepare("UPDATE events SET pfns = '[1,2,3]' WHERE seq = ?").run(seq));
    const r = cli("verify", dir);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`DIVERGES at event seq ${seq} .*column pfns`));
  });

  it("a deleted row fails naming its seq", () => {
    const dir = edited((db) => db.prepare("DELETE FROM events WHERE seq = 777").run());
    const r = cli("verify", dir);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/DIVERGES at event seq 777 \(.*\): events\.sqlite lacks this row/);
  });

  it("an extra row fails naming its seq", () => {
    const dir = edited((db) => db.prepare("INSERT INTO events (seq, t_ns, kind, thread, ctx, \"check\") VALUES (?, 0, 'step.begin', 0, 'process', 0)").run(events + 5));
    const r = cli("verify", dir);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`DIVERGES at event seq ${events + 5} .*events\\.sqlite has a row seq ${events + 5} past the end of the Arrow log`));
  });

  it("corrupt bytes fail SQLite's integrity check (exit 1)", () => {
    const dir = edited(() => {});
    const path = join(dir, "events.sqlite");
    const bytes = readFileSync(path);
    // Garbage over pages in the middle of the events table's b-tree (the header page is left alone).
    for (let i = 40 * 4096; i < 48 * 4096; i++) bytes[i] = (i * 7919) & 0xff;
    writeFileSync(path, bytes);
    const r = cli("verify", dir);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/DIVERGES in \(events\.sqlite\): events\.sqlite: fails SQLite's integrity check/);
    expect(r.stderr).toBe("");
  });

  it("a file that is not a database at all fails with a sentence, not a JavaScript message", () => {
    const dir = edited(() => {});
    writeFileSync(join(dir, "events.sqlite"), Buffer.alloc(100_000, 0x41));
    const r = cli("verify", dir);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/events\.sqlite: not a readable SQLite database: file is not a database/);
  });
});
