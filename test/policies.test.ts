import { describe, expect, it } from "vitest";
import * as z from "zod";
import { loadWorkload, parseWorkload, WorkloadError } from "../src/workload/load.ts";
import { runWorkload, type RunReport } from "../src/workload/run.ts";
import { definePolicy, ignore } from "../src/policies/policy-spec.ts";
import { policyNames, registerPolicy } from "../src/policies/registry.ts";

const PING_PONG = "workloads/atomic-ping-pong.yaml";

/** The atomic ping-pong under one policy: its report, its metrics, and how many log events of each kind. */
function pingPong(overrides: Record<string, unknown>) {
  const kinds = new Map<string, number>();
  const { report } = runWorkload(loadWorkload(PING_PONG, overrides), undefined, {
    onLog: (log) => log.subscribe({ onModelEvent: (_s, _t, _th, _c, ev) => kinds.set(ev.kind, (kinds.get(ev.kind) ?? 0) + 1) }),
  });
  return { report, m: report.metrics, kinds };
}

function sound(report: RunReport) {
  expect(report.invariants).toEqual([]);
  expect(report.lostWrites).toEqual([]);
  expect(report.kernelBugs).toEqual([]);
}

describe("migration policies on the atomic ping-pong (the livelock the timeslice exists for)", () => {
  it("none: every GPU atomic fails after its three migrations, each migration wasted (the reported livelock)", () => {
    const { report, m } = pingPong({ "policy.name": "none" });
    sound(report);
    expect(report.policy).toBe("none");
    expect(m.gpu_accesses).toBe(0);
    expect(m.gpu_access_failures).toBe(20);
    expect(m.migrations_to_device).toBe(60); // 3 attempts × 20 faults
    expect(m.ping_pongs).toBe(m.migrations_to_system); // every one moved back with no GPU work between
    expect(m.cpu_spin_ms).toBe(0);
  });

  it("xe: every GPU atomic completes; the CPU pays in spinning re-faults instead", () => {
    const { report, m, kinds } = pingPong({ "policy.name": "xe" });
    sound(report);
    expect(m.gpu_accesses).toBe(20);
    expect(m.gpu_access_failures).toBe(0);
    expect(m.ping_pongs).toBe(0);
    expect(kinds.get("cpu_fault.timeslice_spin")).toBeGreaterThan(100);
    expect(m.cpu_spin_ms).toBeGreaterThan(5);
    expect(m.cpu_sleep_ms).toBe(0);
  });

  it("notifier-block: the same GPU work, and the CPU sleeps in the notifier instead of spinning", () => {
    const xe = pingPong({ "policy.name": "xe" }).m;
    const { report, m, kinds } = pingPong({ "policy.name": "notifier-block" });
    sound(report);
    expect(m.gpu_accesses).toBe(xe.gpu_accesses);
    expect(kinds.get("cpu_fault.timeslice_spin") ?? 0).toBe(0);
    expect(kinds.get("mmu_notifier.block")).toBeGreaterThan(0);
    expect(m.cpu_spin_ms).toBe(0);
    expect(m.notifier_block_ms).toBeGreaterThan(1);
  });

  it("uvm: with its 500 µs lapse it never sees thrashing here (one 2 MiB migration takes ~1 ms); with 5 ms it throttles", () => {
    const none = pingPong({ "policy.name": "none" }).m;
    const fast = pingPong({ "policy.name": "uvm" }).m;
    expect(fast.gpu_throttles).toBe(0);
    expect(fast.gpu_access_failures).toBe(none.gpu_access_failures);
    const { report, m, kinds } = pingPong({ "policy.name": "uvm", "policy.uvm.lapseUs": 5000 });
    sound(report);
    expect(kinds.get("cpu_fault.policy_hold")).toBeGreaterThan(0);
    expect(m.cpu_sleep_ms).toBeGreaterThan(1);
    expect(m.gpu_accesses).toBeGreaterThan(0);
  });

  it("backoff: the CPU sleeps out a hold that grows with the ping-pongs", () => {
    const { report, m } = pingPong({ "policy.name": "backoff" });
    sound(report);
    expect(m.gpu_accesses).toBe(20);
    expect(m.cpu_sleep_ms).toBeGreaterThan(1);
    expect(m.cpu_spin_ms).toBe(0);
  });

  it("two-fault: each side's first fault after the other side's is turned back once, the second migrates", () => {
    const { report, kinds, m } = pingPong({ "policy.name": "two-fault" });
    sound(report);
    // Every GPU atomic's first fault is replayed (the GPU cannot map system memory for it), the
    // replay migrates; the CPU's next fault after it is sent back once. The handler's own retries
    // inside one GPU fault are not faults the filter sees, so they do not reset it.
    expect(m.gpu_throttles).toBe(20);
    expect(report.gpuFaults).toHaveLength(20);
    expect(kinds.get("cpu_fault.policy_hold")).toBe(20);
  });

  it("rate-limit: a budget below the ping-pong's demand throttles migrations", () => {
    const { report, m, kinds } = pingPong({ "policy.name": "rate-limit", "policy.rate-limit.bytesPerWindow": 4 * 1024 * 1024, "policy.rate-limit.windowMs": 10 });
    sound(report);
    expect((kinds.get("gpu_fault.throttle") ?? 0) + (kinds.get("cpu_fault.policy_hold") ?? 0)).toBeGreaterThan(0);
    expect(m.bytes_to_device! / (m.sim_end_ms! / 10)).toBeLessThanOrEqual(4 * 1024 * 1024 * 1.5 + 2 * 1024 * 1024);
  });

  it("back-to-back atomics without a hold: neither side gets anything done (the livelock flag); xe breaks it", () => {
    const contention = (policy: string) => {
      const { report } = runWorkload(loadWorkload("workloads/atomic-contention.yaml", { "policy.name": policy }));
      return { report, m: report.metrics };
    };
    const none = contention("none");
    sound(none.report);
    expect(none.m.livelock).toBe(1);
    expect(none.m.both_stuck_ms).toBeGreaterThan(100);
    expect(none.m.gpu_access_failures).toBe(40);
    // One CPU atomic is caught in it: each migration back is undone before the CPU retries.
    expect(Math.max(...none.report.steps.filter((s) => s.thread === "cpu0").map((s) => s.faults ?? 0))).toBeGreaterThan(100);
    const xe = contention("xe");
    sound(xe.report);
    expect(xe.m.livelock).toBe(0);
    expect(xe.m.gpu_accesses).toBe(40);
    expect(xe.m.cpu_spin_ms).toBeGreaterThan(1);
    expect(xe.m.sim_end_ms).toBeLessThan(none.m.sim_end_ms! / 10);
  });

  it("the same policy and seed give the same run", () => {
    const a = pingPong({ "policy.name": "uvm", "policy.uvm.lapseUs": 5000 });
    const b = pingPong({ "policy.name": "uvm", "policy.uvm.lapseUs": 5000 });
    expect(b.report.steps).toEqual(a.report.steps);
    expect(b.m).toEqual(a.m);
  });
});

describe("a policy is one file and one registry line", () => {
  it("a toy policy plugged in through the same interface decides the CPU's faults", () => {
    // A toy: the CPU naps 1 ms on its first fault on each device allocation, then migrates.
    const toy = definePolicy({
      name: "toy-nap-once",
      summary: "the CPU naps once per allocation",
      knobs: z.strictObject({ napMs: z.number().positive().default(1) }),
      create(knobs) {
        const napped = new Set<number>();
        return {
          name: "toy-nap-once",
          gpuFault: () => ({ kind: "migrate", timesliceMs: 0 }),
          cpuFault: (q) => (napped.has(q.devmem) ? { kind: "migrate" } : (napped.add(q.devmem), { kind: "sleep", ns: knobs.napMs * 1e6 })),
          notifierBlockNs: () => 0,
          migrated: ignore,
        };
      },
    });
    registerPolicy(toy);
    expect(policyNames()).toContain("toy-nap-once");
    const { report, m, kinds } = pingPong({ "policy.name": "toy-nap-once", "policy.toy-nap-once.napMs": 2 });
    sound(report);
    expect(report.policy).toBe("toy-nap-once");
    expect(kinds.get("cpu_fault.policy_hold")).toBe(m.migrations_to_system);
    expect(m.cpu_sleep_ms).toBeCloseTo(2 * m.migrations_to_system!, 6);
  });

  it("an unknown policy or knob is refused when the workload loads, with its place in the file", () => {
    const text = "description: x\nplatform: xe-pcie4x8-iommu\npolicy:\n  name: uvm\n  uvm: { lapsUs: 5000 }\nmappings:\n  - { addr: 0x40000000, size: 2MiB }\nthreads:\n  - name: t\n    steps:\n      - { op: read, addr: 0x40000000 }\n";
    expect(() => parseWorkload(text, "workloads/p.yaml")).toThrow(/p\.yaml:5:\d+: policy\.uvm: unknown knob "lapsUs" for policy "uvm"; its knobs are threshold, pinThreshold, lapseUs/);
    expect(() => parseWorkload(text.replace("name: uvm", "name: uvmm"), "workloads/p.yaml")).toThrow(/policy\.name: no policy named "uvmm"; the policies are xe, none, notifier-block, uvm/);
    expect(() => parseWorkload(text.replace("platform: xe-pcie4x8-iommu\n", ""), "workloads/p.yaml")).toThrow(WorkloadError);
  });
});

describe("uvm's throttling periods (uvm_perf_thrashing_get_hint)", () => {
  it("favours the side that faults first in a period, never the same side two periods running", async () => {
    const { Engine } = await import("../src/engine/index.ts");
    const { loadPlatform, resolvePlatformPath } = await import("../src/workload/platform-schema.ts");
    const { createPolicy } = await import("../src/policies/registry.ts");
    const engine = new Engine({ seed: 1 });
    const profile = loadPlatform(resolvePlatformPath("xe-pcie4x8-iommu", "workloads/x.yaml"));
    const uvm = createPolicy({ name: "uvm", knobs: { lapseUs: 1000, pinThreshold: 100 } }, { engine, profile });
    const block = { mm: 0, start: 0x40000000, end: 0x40200000 };
    // Three migrations 100 µs apart, alternating sides: the block thrashes.
    for (const [i, direction] of (["to_device", "to_system", "to_device"] as const).entries()) {
      uvm.migrated({ ...block, direction, cause: direction === "to_device" ? "gpu" : "cpu", startNs: i * 100_000, nowNs: i * 100_000 + 50_000 });
    }
    const gpu = (t: number) => uvm.gpuFault({ mm: 0, addr: block.start, access: "atomic", needVram: true, nowNs: t }).kind;
    const cpu = (t: number) => uvm.cpuFault({ devmem: 1, mm: 0, addr: block.start, start: block.start, end: block.end, nowNs: t }).kind;
    // Period 1 (nap = lapse = 1 ms from t = 1 ms): the GPU faults first and is favoured; the CPU is throttled.
    expect(gpu(1_000_000)).toBe("migrate");
    expect(cpu(1_100_000)).toBe("sleep");
    expect(gpu(1_200_000)).toBe("migrate");
    // Period 2: the GPU faults first again, but held the role last period: it is throttled, and the CPU takes the role.
    expect(gpu(2_100_000)).toBe("throttle");
    expect(cpu(2_200_000)).toBe("migrate");
    expect(gpu(2_300_000)).toBe("throttle");
    // Period 3: the GPU, not favoured last period, is favoured again.
    expect(gpu(3_200_000)).toBe("migrate");
  });
});
