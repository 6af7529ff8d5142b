import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tableFromIPC, tableToIPC } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { eventsMarkdown } from "../src/record/events-doc.ts";
import { readEventRows, rowChecksum } from "../src/record/reader.ts";
import { recordRun, type SinkName } from "../src/record/run-dir.ts";
import { verifyRun } from "../src/record/verify.ts";
import { loadWorkload } from "../src/workload/load.ts";
import { editArrowRow } from "./support/arrow-edit.ts";

const WORKLOADS = readdirSync("workloads").filter((f) => f.endsWith(".yaml")).map((f) => join("workloads", f));
const tempDir = () => mkdtempSync(join(tmpdir(), "pagesim-run-"));

async function record(file: string, sinks: SinkName[] = ["arrow"], outDir = tempDir()) {
  return recordRun({ file, workload: loadWorkload(file), outDir, sinks });
}

describe("a recorded run", () => {
  it.each(WORKLOADS)("%s: writes its run directory and verify passes", async (file) => {
    const { dir, manifest } = await record(file, ["arrow", "sqlite"]);
    expect(readdirSync(dir).sort()).toEqual(["events.arrow", "events.sqlite", "run.json", "workload.yaml"]);
    expect(manifest.status).toBe("complete");
    const table = tableFromIPC(readFileSync(join(dir, "events.arrow")));
    expect(table.numRows).toBe(manifest.events);
    const result = await verifyRun(dir);
    expect(result.divergence).toBeNull();
    expect(result.events).toBe(manifest.events);
    expect(result.invariantChecks).toBeGreaterThan(0);
    expect(result.digest.replayed).toBe(manifest.digest);
  });

  it("is byte-identical for the same workload and seed; another seed is recorded as given", async () => {
    const file = "workloads/irq-free-sync-release.yaml";
    const a = await record(file, ["arrow", "sqlite"]);
    const b = await record(file, ["arrow", "sqlite"]);
    for (const name of ["events.arrow", "events.sqlite"]) {
      expect(readFileSync(join(a.dir, name)).equals(readFileSync(join(b.dir, name))), name).toBe(true);
    }
    const other = await recordRun({ file, workload: loadWorkload(file), outDir: tempDir(), sinks: ["arrow"], seed: 7 });
    expect(other.manifest.seed).toBe(7);
    expect(a.manifest.digest).toBe(b.manifest.digest);
  });

  it("is byte-identical from other processes running at the same time, whatever their locale and time zone", async () => {
    const file = "workloads/timeslice-refault.yaml";
    const here = await record(file, ["arrow"]);
    const dirs = [tempDir(), tempDir()];
    const envs = [{ TZ: "Pacific/Kiritimati", LANG: "de_DE.UTF-8" }, { TZ: "America/St_Johns", LANG: "C" }];
    await Promise.all(
      dirs.map(
        (out, i) =>
          new Promise<void>((resolve, reject) => {
            const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "run", file, "--out", out, "--sink", "arrow"], { env: { ...process.env, ...envs[i] }, stdio: "ignore" });
            child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`run exited ${code}`))));
          }),
      ),
    );
    const expected = readFileSync(join(here.dir, "events.arrow"));
    for (const out of dirs) expect(readFileSync(join(out, "events.arrow")).equals(expected), out).toBe(true);
  }, 60_000);

  it("records every model event with its thread, and engine events share the sequence", async () => {
    const { dir } = await record("workloads/timeslice-refault.yaml");
    const kinds = new Set<string>();
    let seq = 0;
    for await (const row of readEventRows(join(dir, "events.arrow"))) {
      expect(row.seq).toBe(seq++);
      kinds.add(row.kind);
    }
    for (const k of ["migrate_to_devmem.begin", "migrate_to_devmem.end", "dma.map", "page.copy", "devmem.timeslice", "cpu_fault.timeslice_spin", "handle_mm_fault.begin", "step.end", "rwsem.acquire_read", "proc.spin", "zdd.put"]) {
      expect(kinds, k).toContain(k);
    }
  });
});

const corrupt = editArrowRow;

describe("pagesim verify on a corrupted log", () => {
  async function firstFolioPut(dir: string) {
    for await (const row of readEventRows(join(dir, "events.arrow"))) if (row.kind === "folio.put" && row.seq > 100) return row;
    throw new Error("no folio.put");
  }

  it("names the event whose value was changed (its checksum no longer matches)", async () => {
    const { dir } = await record("workloads/pinned-page-ebusy.yaml");
    const put = await firstFolioPut(dir);
    await corrupt(dir, put.seq, (row) => { row.folio = (put.values.folio as number) + 1; });
    const result = await verifyRun(dir);
    expect(result.divergence).toMatchObject({ seq: put.seq, kind: "folio.put" });
    expect(result.divergence!.what).toMatch(/checksum/);
  });

  it("names the event when the change keeps a valid checksum: replay finds the refcount differs", async () => {
    const { dir } = await record("workloads/pinned-page-ebusy.yaml");
    const put = await firstFolioPut(dir);
    // Make the put name a different live folio, and re-sign the row as a forger would.
    const other = (put.values.folio as number) === 0 ? 1 : 0;
    expect(rowChecksum(put.values)).toBe(put.recordedCheck);
    await corrupt(dir, put.seq, (row) => { row.folio = other; }, { resign: true });
    const result = await verifyRun(dir);
    expect(result.divergence?.seq).toBe(put.seq);
    expect(result.divergence?.what).toMatch(/refcount|refuses/);
  });

  it("names the first missing event when a row is dropped", async () => {
    const { dir, manifest } = await record("workloads/device-unbind.yaml");
    const path = join(dir, "events.arrow");
    const table = tableFromIPC(readFileSync(path));
    const drop = 50;
    const kept = table.slice(0, drop).concat(table.slice(drop + 1));
    writeFileSync(path, tableToIPC(kept, "file"));
    const result = await verifyRun(dir);
    expect(result.divergence).toMatchObject({ seq: drop + 1, what: "events are missing or out of order", expected: `seq ${drop}` });
    expect(manifest.events).toBeGreaterThan(drop);
  });
});

describe("docs/events.md", () => {
  it("is what the schema generates (run `npm run docs` after changing an event)", () => {
    expect(readFileSync("docs/events.md", "utf8")).toBe(eventsMarkdown());
  });
});
