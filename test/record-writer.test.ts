import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { tableFromIPC, tableToIPC } from "apache-arrow";
import { afterAll, describe, expect, it, vi } from "vitest";
import { ArrowEventWriter } from "../src/record/arrow-file.ts";
import { readEventRows, type EventRow } from "../src/record/reader.ts";
import { EventRecorder } from "../src/record/recorder.ts";
import { recordRun } from "../src/record/run-dir.ts";
import { verifyRun } from "../src/record/verify.ts";
import { loadWorkload } from "../src/workload/load.ts";
import { WorkloadRun } from "../src/workload/run.ts";

/** Counts fsync calls made through node:fs (the Arrow writer's only sync). */
const syncs = vi.hoisted(() => ({ count: 0 }));
vi.mock(import("node:fs"), async (importOriginal) => {
  const fs = await importOriginal();
  return {
    ...fs,
    fsyncSync: (fd: number) => {
      syncs.count++;
      fs.fsyncSync(fd);
    },
  };
});

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "pagesim-writer-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Records a workload through the recorder's compiled row writers into an Arrow file. */
function recordTo(file: string, path: string, batchRows: number): ArrowEventWriter {
  const writer = new ArrowEventWriter(path);
  let recorder: EventRecorder | undefined;
  const run = new WorkloadRun(loadWorkload(file), 1, {
    onLog: (log) => {
      recorder = new EventRecorder(log.state, [writer], batchRows);
      log.subscribe(recorder);
    },
  });
  run.advance();
  recorder!.flush();
  writer.close();
  return writer;
}

describe("the Arrow event writer", () => {
  it("writes the bytes apache-arrow's own writer writes for the same table, each row holding only its kind's fields", () => {
    // Batches of 8,192 rows: the run spans many batches, the last one partial.
    const path = join(tempDir(), "events.arrow");
    const writer = recordTo("workloads/atomic-ping-pong.yaml", path, 8192);
    const bytes = readFileSync(path);
    expect(bytes.length).toBe(writer.bytesWritten);
    expect(Buffer.from(tableToIPC(tableFromIPC(bytes), "file")).equals(bytes)).toBe(true);
    // The narrow layout: the one-wide-table log took 231 bytes a row; a row now stores its header,
    // its union slot and its own kind's values only.
    const rows = tableFromIPC(bytes).numRows;
    expect(bytes.length / rows).toBeLessThan(64);
  });

  it("reads with apache-arrow alone as docs/events.md shows: each row's header, and its kind's columns by name under fields", async () => {
    const path = join(tempDir(), "events.arrow");
    recordTo("workloads/timeslice-refault.yaml", path, 8192);
    const log = tableFromIPC(readFileSync(path));
    const ours: EventRow[] = [];
    for await (const row of readEventRows(path)) ours.push(row);
    expect(log.numRows).toBe(ours.length);
    let i = 0;
    let ends = 0;
    for (const e of log) {
      const row = ours[i++]!;
      expect([Number(e.seq), Number(e.t_ns), e.kind, e.thread, e.ctx]).toEqual([row.seq, row.tNs, row.kind, row.thread, row.ctx]);
      const fields = e.fields as unknown as Record<string, unknown>;
      expect(Number(fields.seq)).toBe(row.seq); // a member's rows carry their seq
      if (e.kind === "migrate_to_devmem.end") {
        expect(fields.ret).toBe(row.values.ret);
        ends++;
      }
      if (e.kind === "page.write") expect([fields.mm, Number(fields.vpn), fields.version]).toEqual([row.values.mm, row.values.vpn, row.values.version]);
    }
    expect(ends).toBeGreaterThan(0);
  });

  it("a file whose every batch holds one row (the --max-events path) is still Arrow's bytes", () => {
    const path = join(tempDir(), "events.arrow");
    const writer = recordTo("workloads/irq-free-sync-release.yaml", path, 1);
    const bytes = readFileSync(path);
    expect(writer.batches).toBeGreaterThan(100);
    expect(Buffer.from(tableToIPC(tableFromIPC(bytes), "file")).equals(bytes)).toBe(true);
  });

  it("syncs events.arrow at close by default, and not with fsync: false; the files are the same and verify", async () => {
    const file = "workloads/timeslice-refault.yaml";
    const workload = loadWorkload(file);
    syncs.count = 0;
    const synced = await recordRun({ file, workload, outDir: tempDir(), sinks: ["arrow"] });
    expect(syncs.count).toBe(1);
    syncs.count = 0;
    const unsynced = await recordRun({ file, workload, outDir: tempDir(), sinks: ["arrow"], fsync: false });
    expect(syncs.count).toBe(0);
    expect(readFileSync(join(unsynced.dir, "events.arrow")).equals(readFileSync(join(synced.dir, "events.arrow")))).toBe(true);
    expect((await verifyRun(unsynced.dir)).divergence).toBeNull();
  });
});

describe("pagesim --no-fsync", () => {
  // dist/ is built by npm ci's prepare step (as test/cli.test.ts relies on).
  const cli = "dist/src/cli.js";
  const pagesim = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });

  it("run and sweep take it and write the same log; --help names it", () => {
    const a = join(tempDir(), "a");
    const b = join(tempDir(), "b");
    const file = "workloads/irq-free-sync-release.yaml";
    const plain = pagesim("run", file, "--sink", "arrow", "--out", a);
    const fast = pagesim("run", file, "--sink", "arrow", "--no-fsync", "--out", b);
    expect(plain.status, plain.stderr).toBe(0);
    expect(fast.status, fast.stderr).toBe(0);
    expect(readFileSync(join(b, "events.arrow")).equals(readFileSync(join(a, "events.arrow")))).toBe(true);

    const dir = tempDir();
    const sweep = join(dir, "s.yaml");
    writeFileSync(sweep, `description: one run\nworkloads: [${JSON.stringify(resolve(file))}]\nparameters:\n  model.hz: [250]\nsinks: [arrow]\n`);
    const swept = pagesim("sweep", sweep, "--no-fsync", "--jobs", "1", "--out", join(dir, "out"));
    expect(swept.status, swept.stderr).toBe(0);
    const runs = readdirSync(join(dir, "out", "runs"));
    expect(runs).toHaveLength(1);
    expect(existsSync(join(dir, "out", "runs", runs[0]!, "events.arrow"))).toBe(true);

    const help = pagesim("--help").stdout;
    expect(help.match(/--no-fsync/g)?.length).toBeGreaterThanOrEqual(3);
  }, 120_000);
});
