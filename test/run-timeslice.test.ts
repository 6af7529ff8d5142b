import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_ATOMIC_TIMESLICE_MS } from "../src/platform/timeslice.ts";
import { recordRun } from "../src/record/run-dir.ts";
import { loadWorkload } from "../src/workload/load.ts";
import { runTimeslice } from "../src/workload/run-timeslice.ts";

const of = (file: string, overrides: Record<string, unknown> = {}) => runTimeslice(loadWorkload(`workloads/${file}`, overrides));

describe("a run's timeslice, resolved once from whichever key set it (src/workload/run-timeslice.ts)", () => {
  it("a populate step's own timeslice, as the sweep sets it", () => {
    expect(of("timeslice-refault.yaml")).toEqual({ timesliceMs: 5, timesliceFrom: "threads.1.steps.0.timesliceMs" });
    expect(of("timeslice-refault.yaml", { "threads.1.steps.0.timesliceMs": 10 })).toEqual({ timesliceMs: 10, timesliceFrom: "threads.1.steps.0.timesliceMs" });
    // Named by thread rather than position: the same step, recorded as the override named it.
    expect(of("timeslice-refault.yaml", { "threads.gpu0.steps.0.timesliceMs": 1 })).toEqual({ timesliceMs: 1, timesliceFrom: "threads.gpu0.steps.0.timesliceMs" });
  });

  it("the policy's on a platform: its knob, else the profile's atomic_svm_timeslice_ms, whose default is defined once", () => {
    expect(of("atomic-ping-pong.yaml")).toEqual({ timesliceMs: DEFAULT_ATOMIC_TIMESLICE_MS, timesliceFrom: "platform.gpu.atomicTimesliceMs" });
    expect(of("atomic-ping-pong.yaml", { "platform.gpu.atomicTimesliceMs": 10 })).toEqual({ timesliceMs: 10, timesliceFrom: "platform.gpu.atomicTimesliceMs" });
    expect(of("atomic-ping-pong.yaml", { "policy.name": "notifier-block", "policy.notifier-block.timesliceMs": 7 })).toEqual({ timesliceMs: 7, timesliceFrom: "policy.notifier-block.timesliceMs" });
    // A policy that holds by other means records none, whatever the platform says.
    expect(of("atomic-ping-pong.yaml", { "policy.name": "uvm", "platform.gpu.atomicTimesliceMs": 10 })).toEqual({ timesliceMs: "unused", timesliceFrom: "" });
  });

  it("mixed when the parts of a run ask for different ones (xe's 5 ms, a populate step's 0)", () => {
    expect(of("fork-gpu-write.yaml")).toEqual({ timesliceMs: "mixed", timesliceFrom: "platform.gpu.atomicTimesliceMs,threads.1.steps.0.timesliceMs" });
    expect(of("fork-gpu-write.yaml", { "threads.1.steps.0.timesliceMs": 5 })).toEqual({ timesliceMs: 5, timesliceFrom: "platform.gpu.atomicTimesliceMs,threads.1.steps.0.timesliceMs" });
  });

  it("run.json records it as the run's parameter", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-run-timeslice-"));
    const overrides = { "threads.1.steps.0.timesliceMs": 1 };
    await recordRun({ file: "workloads/timeslice-refault.yaml", workload: loadWorkload("workloads/timeslice-refault.yaml", overrides), outDir: dir, sinks: [], overrides });
    const manifest = JSON.parse(readFileSync(join(dir, "run.json"), "utf8")) as { parameters?: unknown };
    expect(manifest.parameters).toEqual({ timesliceMs: 1, timesliceFrom: "threads.1.steps.0.timesliceMs" });
  });
});
