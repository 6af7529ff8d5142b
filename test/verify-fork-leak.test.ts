import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import type { Kernel } from "../src/kernel/kernel.ts";
import { readEventRows } from "../src/record/reader.ts";
import { recordRun } from "../src/record/run-dir.ts";
import { verifyRun } from "../src/record/verify.ts";
import { loadWorkload } from "../src/workload/load.ts";

/**
 * A deliberately broken model, in this file only: fork leaves a private mapping's device-private
 * entries writable (copy_nonpresent_pte without its write-protect), so a GPU write after fork
 * goes straight into the device page both processes map, the bug of issue #15 §1. The log of
 * such a run is consistent with itself (every event applies, every refcount matches); only the
 * write-version check can tell that the other process read a write it could never see.
 */
let brokenCalls = 0;
vi.mock(import("../src/kernel/fault.ts"), async (importOriginal) => {
  const real = await importOriginal();
  return {
    ...real,
    pteWriteProtected: (k: Kernel, vmaKind: string, folio: number, index: number) => {
      if (k.state.folios.memory(folio) === "device") {
        brokenCalls++;
        return false;
      }
      return real.pteWriteProtected(k, vmaKind, folio, index);
    },
  };
});

const FILE = "workloads/fork-gpu-write.yaml";

describe("the fork leak of #15 §1, kept reachable by a broken model: verify fails it from the log (#15 §2)", () => {
  it.each(["seed", "newest"] as const)("%s: verify names the child's read that saw the parent's post-fork GPU write", async (variant) => {
    brokenCalls = 0;
    const workload = loadWorkload(FILE);
    workload.model.variant = variant;
    const { dir, manifest } = await recordRun({ file: FILE, workload, outDir: mkdtempSync(join(tmpdir(), "pagesim-leak-")), sinks: ["arrow"] });
    expect(brokenCalls).toBeGreaterThan(0); // the broken variant was taken

    // The leak, as the log shows it: after the fork the parent's GPU write, and then the child's
    // read of the same page returning the version that write left.
    let forked = false;
    const parentWrites = new Map<number, number>(); // vpn -> version the parent's last write after fork left
    let leak: { readSeq: number; version: number } | null = null;
    for await (const row of readEventRows(join(dir, "events.arrow"))) {
      const v = row.values;
      if (row.kind === "mm.fork") forked = true;
      if (forked && row.kind === "page.write" && v.mm === 0) parentWrites.set(v.vpn as number, v.version as number);
      if (row.kind === "page.read" && v.mm === 1 && leak === null && parentWrites.get(v.vpn as number) === v.version) leak = { readSeq: row.seq, version: v.version as number };
    }
    expect(leak).not.toBeNull();

    // The run's own report and verify come from the same check and name the same read.
    expect(manifest.result.lostWrites[0]).toMatch(new RegExp(`^seq ${leak!.readSeq}, child: process mm 1 read 0x4000000 and did not see the last write it could see \\(it saw what process mm 0 last wrote there\\)`));
    const result = await verifyRun(dir);
    expect(result.divergence).toMatchObject({ seq: leak!.readSeq, kind: "page.read", expected: "v1", found: "v2" });
    expect(result.divergence!.what).toMatch(/process mm 1 read .* \(it saw what process mm 0 last wrote there\)/);

    // And as a user sees it: exit 1, the seq named.
    const cli = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", "verify", dir], { encoding: "utf8" });
    expect(cli.status).toBe(1);
    expect(cli.stdout + cli.stderr).toContain(`DIVERGES at event seq ${leak!.readSeq} (page.read): lost or leaked write: process mm 1 read 0x4000000`);
  }, 60_000);
});
