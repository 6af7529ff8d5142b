import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RecordBatchFileReader, tableFromArrays, tableFromIPC, tableToIPC } from "apache-arrow";
import { COLUMNS } from "../src/record/schema.ts";
import { beforeAll, describe, expect, it } from "vitest";
import { recordRun } from "../src/record/run-dir.ts";
import { loadWorkload } from "../src/workload/load.ts";

const cli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { encoding: "utf8" });
/** What a JavaScript error looks like when it leaks out to the user. */
const JS_MESSAGE = /TypeError|RangeError|Cannot read properties|undefined|null \(reading|at .*\.js:\d+|Error:/;

let good: string;
beforeAll(async () => {
  const file = "workloads/timeslice-refault.yaml";
  good = (await recordRun({ file, workload: loadWorkload(file), outDir: join(mkdtempSync(join(tmpdir(), "pagesim-badarrow-")), "good"), sinks: ["arrow"] })).dir;
});

/** A copy of the good run directory with its events.arrow damaged by `damage`. */
function damaged(damage: (path: string, size: number) => void): string {
  const dir = join(mkdtempSync(join(tmpdir(), "pagesim-badarrow-")), "run");
  cpSync(good, dir, { recursive: true });
  const arrow = join(dir, "events.arrow");
  damage(arrow, statSync(arrow).size);
  return dir;
}

describe("a damaged events.arrow given to verify and trace", () => {
  it.each([
    ["zeroed", (p: string, size: number) => writeFileSync(p, Buffer.alloc(size)), /events\.arrow: not an Arrow IPC file \(zeroed/],
    // Cut at about half, on a non-zero byte (a cut inside a run of zeros, such as a mostly-null column's buffer, gets the zeros sentence instead).
    ["truncated to half", (p: string, size: number) => truncateSync(p, lastNonZeroBefore(p, Math.floor(size / 2))), /events\.arrow: truncated or damaged after \d+ bytes: it ends without the Arrow footer/],
    ["truncated to its first 100 bytes", (p: string) => truncateSync(p, 100), /events\.arrow: truncated or damaged after 100 bytes/],
    ["empty", (p: string) => truncateSync(p, 0), /events\.arrow: empty \(0 bytes\)/],
    ["not Arrow at all", (p: string) => writeFileSync(p, "id,value\n1,2\n"), /events\.arrow: not an Arrow IPC file \(it does not start with ARROW1\)/],
  ])("%s: exit 2 and a sentence naming the file and what is wrong", (_name, damage, message) => {
    const dir = damaged(damage);
    for (const command of ["verify", "trace"]) {
      const r = cli(command, dir);
      expect(r.status, `${command}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.stderr, command).toMatch(message);
      expect(r.stderr, command).toContain(join(dir, "events.arrow"));
      expect(r.stderr.replace(join(dir, "events.arrow"), ""), command).not.toMatch(JS_MESSAGE);
      expect(r.stderr.trim().split("\n"), command).toHaveLength(1);
    }
    expect(readdirSync(dir).filter((f) => f.startsWith("trace"))).toEqual([]); // nothing half-written
  });

  it("a record batch whose header was zeroed is named by its number", () => {
    // The footer still lists the batches; the second one's message header is gone.
    const dir = damaged((p) => {
      const bytes = readFileSync(p);
      const reader = RecordBatchFileReader.from(bytes);
      reader.open();
      const block = reader.footer!.getRecordBatch(1)!;
      bytes.fill(0, Number(block.offset), Number(block.offset) + block.metaDataLength);
      writeFileSync(p, bytes);
    });
    const r = cli("verify", dir);
    expect(r.status, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/events\.arrow: damaged: record batch 2 of 2 cannot be (read|decoded)/);
    expect(r.stderr.replace(join(dir, "events.arrow"), "")).not.toMatch(JS_MESSAGE);
  });
});

describe("an events.arrow of another layout", () => {
  const refused = (dir: string, message: RegExp) => {
    for (const command of ["verify", "trace", "metrics"]) {
      const r = cli(command, dir);
      expect(r.status, `${command}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.stderr, command).toMatch(message);
      expect(r.stderr.replace(join(dir, "events.arrow"), ""), command).not.toMatch(JS_MESSAGE);
      expect(r.stderr.trim().split("\n"), command).toHaveLength(1);
    }
  };

  it("the old one-wide-table log (a column per field) is named as written by an older pagesim", () => {
    const dir = damaged((p) => writeFileSync(p, tableToIPC(tableFromArrays(Object.fromEntries(COLUMNS.map((c) => [c.name, new Int32Array(3)]))), "file")));
    refused(dir, /events\.arrow: written by an older pagesim \(one column per field, before the per-kind layout\); run it again to read it/);
  });

  it("a row whose union slot holds another kind's fields is named by its seq", () => {
    const dir = damaged((p) => {
      const table = tableFromIPC(readFileSync(p));
      const fields = table.batches[0]!.getChild("fields")!.data[0]!;
      const typeIds = fields.typeIds as Int8Array;
      // Row 10 now claims the member of row 0's kind (a different kind: mm.create starts every log).
      expect(typeIds[10]).not.toBe(typeIds[0]);
      typeIds[10] = typeIds[0]!;
      (fields.valueOffsets as Int32Array)[10] = 0;
      writeFileSync(p, tableToIPC(table, "file"));
    });
    refused(dir, /events\.arrow: event seq 10 is a [\w.]+ but holds the fields of [\w.]+/);
  });

  it("two rows of one kind whose union slots were swapped are named by the seq their member row carries", () => {
    let swapped = -1;
    const dir = damaged((p) => {
      const table = tableFromIPC(readFileSync(p));
      const fields = table.batches[0]!.getChild("fields")!.data[0]!;
      const typeIds = fields.typeIds as Int8Array;
      const offsets = fields.valueOffsets as Int32Array;
      // The first two rows of one kind after row 100: their fields trade places.
      const a = 101;
      const b = typeIds.findIndex((t, i) => i > a && t === typeIds[a]);
      [offsets[a], offsets[b]] = [offsets[b]!, offsets[a]!];
      swapped = a;
      writeFileSync(p, tableToIPC(table, "file"));
    });
    refused(dir, new RegExp(`events\\.arrow: event seq ${swapped}'s fields are row \\d+ of [\\w.]+, which says seq \\d+`));
  });
});

/** The length up to and including the last non-zero byte at or before `at`. */
function lastNonZeroBefore(path: string, at: number): number {
  const bytes = readFileSync(path);
  let cut = at;
  while (cut > 0 && bytes[cut - 1] === 0) cut--;
  return cut;
}
