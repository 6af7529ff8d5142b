import { describe, expect, it } from "vitest";
import { applyKernelEvent, IllegalTransition } from "../src/kernel/apply.ts";
import type { KernelEvent } from "../src/kernel/events.ts";
import { applyPagemapEvent } from "../src/pagemap/apply.ts";
import type { PagemapEvent } from "../src/pagemap/events.ts";
import { createModelState } from "../src/pagemap/state.ts";
import { applyPlatformEvent, withPlatformState, type PlatformEvent } from "../src/platform/events.ts";

/** Dispatch is total: a kind an apply does not know is an error, never silently dropped. */
describe("the kernel, pagemap and platform apply functions", () => {
  it("accept the kinds that change no state (a drm_pagemap call entry, a fault stage) and leave the state alone", () => {
    const state = withPlatformState(createModelState());
    applyPagemapEvent(state, { kind: "migrate_to_ram.begin", mm: 0, start: 0, end: 4096 });
    applyPlatformEvent(state, { kind: "gpu_fault.stage", stage: "bind", durationNs: 10, ret: 0, attempt: 0 });
    expect(state.zdds.size).toBe(0);
    expect(state.svmRanges.size).toBe(0);
  });

  it("throw on an unknown kind, naming it", () => {
    const state = withPlatformState(createModelState());
    expect(() => applyPagemapEvent(state, { kind: "migrate_to_nowhere.begin" } as unknown as PagemapEvent)).toThrow(IllegalTransition);
    expect(() => applyPagemapEvent(state, { kind: "zdd.teleport" } as unknown as PagemapEvent)).toThrow(/unknown pagemap event kind zdd\.teleport/);
    expect(() => applyPlatformEvent(state, { kind: "gpu_fault.teleport" } as unknown as PlatformEvent)).toThrow(/unknown platform event kind gpu_fault\.teleport/);
    expect(() => applyPlatformEvent(state, { kind: "vram.teleport" } as unknown as PlatformEvent)).toThrow(/unknown platform event kind vram\.teleport/);
    expect(() => applyKernelEvent(state, { kind: "pte.teleport" } as unknown as KernelEvent)).toThrow(/unknown kernel event kind pte\.teleport/);
  });
});
