import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunEvent } from "../src/machine/run-events.ts";
import { runWorkload, type RunHooks } from "../src/workload/run.ts";
import { parseWorkload } from "../src/workload/load.ts";
import { explore } from "../src/explore/explore.ts";
import { readFinding } from "../src/explore/findings.ts";
import { diagnose } from "../src/explore/probe.ts";

/**
 * Issue #18's acceptance: a bug planted in the model (here, in the test only) is found by
 * `explore` within a bounded number of runs, shrunk to a few steps, and its printed command
 * reproduces it. The plant: migrate_to_devmem's error paths forget to put the creator's zdd
 * reference (drm_pagemap_zdd_put at err_free). It hooks the run's log: a `zdd.put` of the creator
 * committed by a thread inside migrate_to_devmem before that call stamped the devmem's timeslice
 * (which only the success path does, before its own put) is dropped, so the state keeps the
 * reference. No per-step invariant notices (the creator is a counted holder); only the memory
 * balance after teardown does.
 */
export const plantSkippedZddPut: RunHooks = {
  onLog: (log) => {
    const engine = (log as unknown as { engine: { current: { uid: number } | null } }).engine;
    const onErrorPath = new Map<number, boolean>(); // thread → inside migrate_to_devmem, no timeslice yet
    log.subscribe({
      onModelEvent: (_seq, _t, thread, _ctx, ev) => {
        if (ev.kind === "migrate_to_devmem.begin") onErrorPath.set(thread, true);
        else if (ev.kind === "devmem.timeslice") onErrorPath.set(thread, false);
        else if (ev.kind === "migrate_to_devmem.end") onErrorPath.delete(thread);
      },
    });
    const commit = log.commit.bind(log);
    log.commit = (ev: RunEvent): void => {
      const uid = engine.current?.uid;
      if (ev.kind === "zdd.put" && ev.holder === "creator" && uid !== undefined && onErrorPath.get(uid) === true) {
        planted.dropped++;
        return;
      }
      commit(ev);
    };
  },
};
const planted = { dropped: 0 };

const RUN_BOUND = 64;

describe("pagesim explore finds a planted bug (issue #18)", () => {
  it(`finds a skipped zdd put on an error path within ${RUN_BOUND} runs, shrinks it to at most 4 steps, and the printed command reproduces it`, async () => {
    const out = mkdtempSync(join(tmpdir(), "explore-planted-"));
    const printed: string[] = [];
    const summary = await explore({ variant: "newest", seed: 1, runs: RUN_BOUND, outDir: out, hooks: plantSkippedZddPut, shrinkBudget: { maxRuns: 200, maxMs: 10_000 }, onFinding: (f) => printed.push(f.command) });
    console.log(summary.findings.map((f) => `run ${f.runIndex}: ${f.check}: ${f.message.slice(0, 90)} (${f.original.steps} → ${f.shrunk.steps} steps, ${f.shrinkRuns} runs)`).join("\n"));
    expect(planted.dropped, "the plant took effect").toBeGreaterThan(0);
    const finding = summary.findings.find((f) => f.check === "teardown" && /creator's reference was never put/.test(f.message));
    expect(finding, `findings: ${summary.findings.map((f) => `${f.check}: ${f.message}`).join("; ")}`).toBeDefined();
    expect(finding!.runIndex).toBeLessThan(RUN_BOUND);
    expect(finding!.shrunk.steps).toBeLessThanOrEqual(4);
    expect(finding!.shrunk.steps).toBeLessThan(finding!.original.steps);
    // The printed command names the finding's directory; replaying it (with the plant, which
    // lives in this test) gives the same signature, and without the plant the workload is clean.
    expect(printed).toContain(finding!.command);
    const dir = /--replay (\S+)$/.exec(finding!.command)![1]!;
    const { input, signature } = readFinding(dir);
    expect(diagnose(input, plantSkippedZddPut)?.signature).toBe(signature);
    expect(diagnose(input)).toBeUndefined();
    expect(readFileSync(join(dir, "finding.md"), "utf8")).toContain("zdd");
    // run.yaml, the finding for `pagesim run` (teardown as steps): its report names the leak with the plant, nothing without.
    const runYaml = join(dir, "run.yaml");
    const invariants = (hooks?: RunHooks): string[] => runWorkload(parseWorkload(readFileSync(runYaml, "utf8"), runYaml), undefined, hooks).report.invariants;
    expect(invariants(plantSkippedZddPut).some((m) => /the creator's reference was never put/.test(m))).toBe(true);
    expect(invariants()).toEqual([]);
  }, 600_000);
});
