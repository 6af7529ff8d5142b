import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tableFromIPC } from "apache-arrow";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";

/** ~210k events (one per page write once the pages are present): the SQLite fill after the run takes over a second, long enough to be hit. */
function longWorkload(dir: string): string {
  const steps = Array.from({ length: 400 }, () => "      - { op: write, addr: 0x4000000, pages: 512, after: 1us }").join("\n");
  const file = join(dir, "long.yaml");
  writeFileSync(file, `description: a run whose SQLite fill takes a while\nseed: 1\nmappings:\n  - { addr: 0x4000000, size: 2MiB }\nthreads:\n  - name: cpu0\n    steps:\n${steps}\n`);
  return file;
}

const cli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { encoding: "utf8" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True while SQLite is being filled: its temporary file (under any name a version used) exists. */
const filling = (out: string) => existsSync(out) && readdirSync(out).some((f) => /^events\.sqlite.*\.tmp$/.test(f));

describe("a second Ctrl-C during the SQLite fill", () => {
  it("leaves events.arrow and run.json under their final names; pagesim sqlite fills the log later; the next run removes stale temporaries", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-int2-"));
    const out = join(dir, "run");
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "run", longWorkload(dir), "--out", out], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    for (let i = 0; i < 1200 && !filling(out); i++) await sleep(25);
    expect(filling(out), "the fill never started").toBe(true);
    child.kill("SIGINT");
    for (let i = 0; i < 200 && !stderr.includes("SIGINT"); i++) await sleep(10); // the first one was heard
    child.kill("SIGINT");
    expect(await exited, stderr).toBe(130);
    expect(filling(out), "the fill had finished before the second SIGINT: the test did not hit its window").toBe(true);

    // The Arrow log and run.json were already complete; run.json says the SQLite log is pending.
    expect(existsSync(join(out, "events.arrow"))).toBe(true);
    expect(existsSync(join(out, "events.sqlite"))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect(manifest.status).toBe("complete");
    expect(manifest.sqlite).toBe("pending");
    expect(manifest.files["events.sqlite"]).toBeUndefined();
    const arrowRows = tableFromIPC(readFileSync(join(out, "events.arrow"))).numRows;
    expect(arrowRows).toBe(manifest.events);
    expect(stderr).toContain(`pagesim sqlite ${out}`);

    // verify fills a pending SQLite log itself (on a copy), then checks it against the Arrow log.
    const copy = join(dir, "copy");
    cpSync(out, copy, { recursive: true });
    const verified = cli("verify", copy);
    expect(verified.status, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/filled events\.sqlite/);
    expect(verified.stdout).toMatch(new RegExp(`events\\.sqlite holds the same ${arrowRows} rows`));

    // pagesim sqlite finishes it in place, and run.json then records the file.
    const filled = cli("sqlite", out);
    expect(filled.status, filled.stdout + filled.stderr).toBe(0);
    const after = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect(after.sqlite).toBe("complete");
    expect(after.files["events.sqlite"].bytes).toBe(readFileSync(join(out, "events.sqlite")).length);
    const db = new Database(join(out, "events.sqlite"), { readonly: true });
    expect(db.prepare("SELECT count(*) FROM events").pluck().get()).toBe(arrowRows);
    db.close();
    expect(readFileSync(join(out, "events.sqlite")).equals(readFileSync(join(copy, "events.sqlite")))).toBe(true);
    expect(readdirSync(out).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    const ok = cli("verify", out);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);

    // Temporaries a killed run left behind are removed by the next run in that directory, which says so.
    writeFileSync(join(out, "events.arrow.tmp"), "left by a run killed with SIGKILL");
    writeFileSync(join(out, "events.sqlite.tmp"), "left by a killed SQLite fill");
    copyFileSync("workloads/device-unbind.yaml", join(dir, "small.yaml"));
    const next = cli("run", join(dir, "small.yaml"), "--out", out);
    expect(next.status, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/removed .*events\.arrow\.tmp.* left by a killed run/);
    expect(readdirSync(out).sort()).toEqual(["events.arrow", "events.sqlite", "run.json", "workload.yaml"]);
    rmSync(dir, { recursive: true, force: true }); // ~150 MB of logs
  }, 120_000);
});
