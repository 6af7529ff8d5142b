import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readEventRows, rowChecksum, type EventRow } from "../src/record/reader.ts";
import { recordRun } from "../src/record/run-dir.ts";
import { verifyRun } from "../src/record/verify.ts";
import { loadWorkload } from "../src/workload/load.ts";
import { editArrowRow } from "./support/arrow-edit.ts";

const FILE = "workloads/fork-shared-device-pages.yaml";

async function record() {
  return recordRun({ file: FILE, workload: loadWorkload(FILE), outDir: mkdtempSync(join(tmpdir(), "pagesim-wv-")), sinks: ["arrow"] });
}

async function rows(dir: string): Promise<EventRow[]> {
  const out: EventRow[] = [];
  for await (const row of readEventRows(join(dir, "events.arrow"))) out.push(row);
  return out;
}

describe("verify checks every read against the last write its process could see (#15 §2)", () => {
  it("the log holds each access's version: writes and reads with their process and page, and the fork", async () => {
    const { dir } = await record();
    const all = await rows(dir);
    const reads = all.filter((r) => r.kind === "page.read");
    const writes = all.filter((r) => r.kind === "page.write");
    // The parent writes 512 pages and reads one back; the child reads one, writes it and reads it.
    expect(writes.filter((r) => r.values.mm === 0)).toHaveLength(512);
    expect(writes.filter((r) => r.values.mm === 1)).toHaveLength(1);
    expect(reads.filter((r) => r.values.mm === 0)).toHaveLength(1);
    expect(reads.filter((r) => r.values.mm === 1)).toHaveLength(2);
    for (const r of [...reads, ...writes]) expect(typeof r.values.vpn === "number" && typeof r.values.version === "number", `seq ${r.seq}`).toBe(true);
    expect(all.filter((r) => r.kind === "mm.fork").map((r) => [r.values.mm, r.values.parent_mm])).toEqual([[1, 0]]);
  });

  it("a read's observed version changed (and the row re-signed) is named by its seq as a lost write", async () => {
    const { dir } = await record();
    const all = await rows(dir);
    // The child's first read after its own write: it must see that write.
    const childWrite = all.findIndex((r) => r.kind === "page.write" && r.values.mm === 1);
    const read = all.slice(childWrite).find((r) => r.kind === "page.read" && r.values.mm === 1)!;
    const seen = read.values.version as number;
    expect(rowChecksum(read.values)).toBe(read.recordedCheck);
    await editArrowRow(dir, read.seq, (row) => { row.version = seen - 1; } /* the version before the child's write: the write looks lost */, { resign: true });
    const result = await verifyRun(dir);
    expect(result.divergence).toMatchObject({ seq: read.seq, kind: "page.read", expected: `v${seen}`, found: `v${seen - 1}` });
    expect(result.divergence!.what).toMatch(/^lost or leaked write: process mm 1 read 0x[0-9a-f]+ and did not see the last write it could see/);
    expect(result.events).toBe(read.seq + 1); // replay stopped at that row
  });

  it("a write's version changed (re-signed) is caught at that write, before any read", async () => {
    const { dir } = await record();
    const all = await rows(dir);
    const write = all.find((r) => r.kind === "page.write" && r.values.mm === 1)!;
    const v = write.values.version as number;
    await editArrowRow(dir, write.seq, (row) => { row.version = v + 5; }, { resign: true });
    const result = await verifyRun(dir);
    expect(result.divergence).toMatchObject({ seq: write.seq, kind: "page.write", expected: `version ${v} (its last write there left v${v - 1})`, found: `version ${v + 5}` });
  });

  it("the fixed model's GPU write after fork (workloads/fork-gpu-write.yaml) verifies clean", async () => {
    const file = "workloads/fork-gpu-write.yaml";
    const { dir, manifest } = await recordRun({ file, workload: loadWorkload(file), outDir: mkdtempSync(join(tmpdir(), "pagesim-wv-")), sinks: ["arrow"] });
    expect(manifest.result.lostWrites).toEqual([]);
    const all = await rows(dir);
    const fork = all.find((r) => r.kind === "mm.fork")!.seq;
    expect(all.some((r) => r.kind === "page.write" && r.values.mm === 0 && r.seq > fork)).toBe(true); // the parent wrote after the fork
    expect(all.some((r) => r.kind === "page.read" && r.values.mm === 1 && r.seq > fork)).toBe(true); // and the child read
    expect((await verifyRun(dir)).divergence).toBeNull();
  });

  it("an unaltered log passes", async () => {
    const { dir } = await record();
    expect((await verifyRun(dir)).divergence).toBeNull();
  });
});
