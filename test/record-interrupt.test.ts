import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tableFromIPC } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { verifyRun } from "../src/record/verify.ts";

/**
 * A workload long enough (a few seconds) to be stopped in the middle. Once its pages are present
 * each page write is one event (page.write: only accesses that fault are marked with
 * access.begin/access.end), and ~1 M events are recorded before the signal lands (~3 M when every
 * access was marked); filling them into SQLite and verifying them under tsx takes ~10–25 s on a
 * loaded machine: hence the 120 s limits. Each case removes its directory (hundreds of MB).
 */
function longWorkload(dir: string): string {
  const steps = Array.from({ length: 4000 }, () => "      - { op: write, addr: 0x4000000, pages: 512, after: 1us }").join("\n");
  const file = join(dir, "long.yaml");
  writeFileSync(file, `description: a long run to interrupt\nseed: 1\nmappings:\n  - { addr: 0x4000000, size: 2MiB }\nthreads:\n  - name: cpu0\n    steps:\n${steps}\n`);
  return file;
}

/** Starts `pagesim run` in one Node process (so signals reach it directly). */
function startRun(file: string, out: string) {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "run", file, "--out", out], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal === null ? null : -1))));
  return { child, exited, stderr: () => stderr };
}

/** Waits until the run has written some of its log under the temporary name. */
async function untilRecording(out: string): Promise<void> {
  const tmp = join(out, "events.arrow.tmp");
  for (let i = 0; i < 600; i++) {
    if (existsSync(tmp) && statSync(tmp).size > 2_000_000) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the run never started writing its log");
}

describe("an interrupted run", () => {
  it("on SIGINT flushes what it has, says it was interrupted, and its files verify", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-int-"));
    const out = join(dir, "run");
    const run = startRun(longWorkload(dir), out);
    await untilRecording(out);
    run.child.kill("SIGINT");
    expect(await run.exited, run.stderr()).toBe(130);
    const manifest = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect(manifest.status).toBe("interrupted");
    const table = tableFromIPC(readFileSync(join(out, "events.arrow")));
    expect(table.numRows).toBe(manifest.events);
    expect(manifest.events).toBeGreaterThan(10_000);
    expect(existsSync(join(out, "events.sqlite"))).toBe(true);
    const result = await verifyRun(out);
    expect(result.divergence).toBeNull();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("killed with SIGKILL, leaves the previous run's complete files under the final names", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-kill-"));
    const out = join(dir, "run");
    const file = longWorkload(dir);
    const first = startRun(file, out);
    await untilRecording(out);
    first.child.kill("SIGTERM");
    expect(await first.exited, first.stderr()).toBe(143);
    const before = Object.fromEntries(["events.arrow", "events.sqlite", "run.json"].map((n) => [n, readFileSync(join(out, n))]));

    const second = startRun(file, out);
    await untilRecording(out);
    second.child.kill("SIGKILL");
    await second.exited;
    for (const [name, bytes] of Object.entries(before)) expect(readFileSync(join(out, name)).equals(bytes), name).toBe(true);
    expect((await verifyRun(out)).divergence).toBeNull();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});
