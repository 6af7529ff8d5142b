import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parse, stringify } from "yaml";
import { checkModelInvariants, teardownProblems } from "../src/check/pagemap-invariants.ts";
import { withTeardown } from "../src/explore/teardown.ts";
import type { WorkloadInput } from "../src/explore/types.ts";
import { PageTable } from "../src/kernel/page-table.ts";
import { createModelState } from "../src/pagemap/state.ts";
import { parseWorkload } from "../src/workload/load.ts";
import { WorkloadRun } from "../src/workload/run.ts";

/**
 * Memory balance at the end (issue #18, docs/design/explore.md §2.4, plan slice 3): once every
 * process has exited, the device is unbound and deferred work has drained, nothing may be left:
 * no zdd, no creator reference, no system page, no folio with a reference.
 */
function run(text: string): WorkloadRun {
  const r = new WorkloadRun(parseWorkload(text, "workloads/inline.yaml"));
  r.advance();
  return r;
}

const LEAK = `description: a get that is never put, then a full teardown
seed: 1
mappings:
  - { addr: 0x4000000, size: 64KiB }
threads:
  - name: cpu0
    steps:
      - { op: write, addr: 0x4000000 }
      - { op: get, addr: 0x4000000 }
      - { op: exit }
      - { op: unbind }
`;
const CLEAN = LEAK.replace("      - { op: exit }", "      - { op: irq_put, addr: 0x4000000 }\n      - { op: exit }");

describe("the teardown balance check", () => {
  it("reports a leaked get after every process exited and the device was unbound, naming the folio and the step that holds it", () => {
    const r = run(LEAK);
    expect(r.tornDown).toBe(true);
    const problems = r.report().invariants;
    expect(problems).toContainEqual(expect.stringMatching(/^folio \d+ \(system, order 0\): refcount 1 after teardown, held by cpu0\[1\] get$/));
    expect(problems).toContain("1 system pages still allocated after teardown");
    // explore tells teardown problems from invariants by calling the balance check alone
    const holders = (folio: number) => r.stepHolders(folio);
    expect(teardownProblems(r.world.p.state, holders)).toEqual(problems);
    expect(checkModelInvariants(r.world.p.state, { holders })).toEqual([]);
  });

  it("names a leaked pin by its step too", () => {
    const problems = run(LEAK.replace("op: get", "op: pin")).report().invariants;
    expect(problems).toContainEqual(expect.stringMatching(/^folio \d+ \(system, order 0\): refcount 1 after teardown, held by cpu0\[1\] pin$/));
  });

  it("the same workload with its irq_put is clean, and the check did run", () => {
    const r = run(CLEAN);
    expect(r.tornDown).toBe(true);
    expect(r.report().steps.map((s) => s.ret)).toEqual(["ok v1", "0", "0", "0", "0"]);
    expect(r.report().invariants).toEqual([]);
  });

  it("does not apply to a run that leaves a process alive (the leak is then no leak)", () => {
    const r = run(LEAK.replace("      - { op: exit }\n", ""));
    expect(r.tornDown).toBe(false);
    expect(r.report().invariants).toEqual([]);
  });

  it("names a live zdd, its creator reference and a process that never exited", () => {
    const state = createModelState();
    state.zdds.set(0, { id: 0, refcount: 1, creatorRef: true, devmem: -1, owner: 1, destroyed: false });
    state.zdds.set(1, { id: 1, refcount: 0, creatorRef: false, devmem: -1, owner: 1, destroyed: true });
    expect(checkModelInvariants(state)).toEqual([]); // refcount 1 = the creator: fine mid-run
    expect(checkModelInvariants(state, { afterTeardown: true })).toEqual([
      "zdd 0: the creator's reference was never put (a migration left without zdd_put)",
      "zdd 0: not destroyed after teardown (refcount 1)",
    ]);
    state.mms.set(0, { id: 0, users: 1, vmas: [], ptes: new PageTable(), notifierSeq: 2, activeInvalidations: 0 });
    expect(checkModelInvariants(state, { afterTeardown: true })).toContain("mm 0: 1 users after teardown (a process never exited)");
  });
});

describe("exit", () => {
  it("of a process that has already exited says so instead of putting its mm twice", () => {
    const r = run(LEAK.replace("      - { op: unbind }", "      - { op: exit }"));
    expect(r.report().steps.map((s) => s.ret).slice(2)).toEqual(["0", "process 0 has exited"]);
  });
});

const FORKING: WorkloadInput = {
  description: "a parent that writes, forks, and a child that writes too",
  seed: 3,
  mappings: [{ addr: 0x4000000, size: "64KiB" }],
  threads: [
    { name: "cpu0", steps: [{ op: "write", addr: 0x4000000, pages: 4 }, { op: "fork" }, { op: "exit" }] },
    { name: "child", process: 1, steps: [{ op: "write", addr: 0x4001000, at: "1ms" }] },
  ],
  until: "50ms",
};

describe("withTeardown", () => {
  it("appends an exit per process (after every thread), then an unbind, and drops until", () => {
    const input = withTeardown(FORKING);
    expect(input.until).toBeUndefined();
    expect(input.threads.map((t) => [t.name, t.process ?? 0, t.steps!.map((s) => (s.op === "wait" ? `wait ${s.thread}` : s.op))])).toEqual([
      ["cpu0", 0, ["write", "fork", "exit"]],
      ["child", 1, ["write"]],
      ["teardown.exit0", 0, ["wait cpu0", "wait child", "exit"]],
      ["teardown.exit1", 1, ["wait cpu0", "wait child", "exit"]],
      ["teardown.unbind", 0, ["wait teardown.exit0", "wait teardown.exit1", "unbind"]],
    ]);
    expect(FORKING.threads).toHaveLength(2); // the input is not edited
  });

  it("a torn-down run of a correct workload is balanced; the same with a leaked get is not", () => {
    const clean = run(stringify(withTeardown(FORKING)));
    expect(clean.tornDown).toBe(true);
    expect(clean.report().invariants).toEqual([]);
    const leaky = structuredClone(FORKING);
    leaky.threads[1]!.steps!.push({ op: "get", addr: 0x4001000 });
    const r = run(stringify(withTeardown(leaky)));
    expect(r.tornDown).toBe(true);
    expect(r.report().invariants).toContainEqual(expect.stringMatching(/^folio \d+ \(system, order 0\): refcount 1 after teardown, held by child\[1\] get$/));
  });
});

describe("bundled workloads with a teardown appended", () => {
  // A correct model leaves nothing behind: no false alarm from the balance check, with the
  // schedule perturbed too (fork, device THP, IRQ-context frees, deferred zdd release, eviction).
  const FILES = ["fork-shared-device-pages", "device-thp-streaming", "irq-frees-under-load", "free-realloc-loop", "multi-process-eviction"];
  it.each(FILES)("%s tears down balanced, unperturbed and perturbed", (name) => {
    const path = `workloads/${name}.yaml`;
    const input = withTeardown(parse(readFileSync(path, "utf8")) as WorkloadInput);
    for (const schedule of [undefined, { ties: "shuffle", jitter: 0.2 }] as const) {
      const r = new WorkloadRun(parseWorkload(stringify(schedule === undefined ? input : { ...input, schedule }), path));
      r.advance();
      expect(r.tornDown).toBe(true);
      expect(r.report().invariants).toEqual([]);
    }
  });
});
