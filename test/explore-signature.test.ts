import { describe, expect, it } from "vitest";
import type { ExecContext } from "../src/engine/index.ts";
import { explainProblem } from "../src/explore/explain.ts";
import { namedObjects } from "../src/explore/objects.ts";
import { normalizeMessage, problemSignature } from "../src/explore/signature.ts";
import { frameNames, StackTracker } from "../src/explore/stacks.ts";
import type { LoggedEvent, Problem } from "../src/explore/types.ts";
import type { RunEvent } from "../src/machine/run-events.ts";
import { parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";
import { heldPageWorkload } from "./support/held-page-workload.ts";

/** A hand-made log: each entry a thread uid, its context and the event it commits; seq and time count up. */
function log(entries: [thread: number, ctx: ExecContext, ev: RunEvent][]): LoggedEvent[] {
  return entries.map(([thread, ctx, ev], i) => ({ seq: i * 2, tNs: i * 1000, thread, ctx, ev }));
}

const frames = (t: StackTracker, uid: number): string[] | undefined => t.stacksAt().get(uid)?.frames;

describe("StackTracker: per-thread stacks from the log", () => {
  it("nests begin/end pairs under the step and unwinds them", () => {
    const t = new StackTracker();
    t.onSpawn(1, "cpu0", "process");
    const evs = log([
      [1, "process", { kind: "step.begin", op: "write", step: 0 }],
      [1, "process", { kind: "access.begin", mm: 0, addr: 0x1000, access: "write" }],
      [1, "process", { kind: "handle_mm_fault.begin", mm: 0, addr: 0x1000, access: "write" }],
      [1, "process", { kind: "migrate_to_ram.begin", mm: 0, start: 0x1000, end: 0x2000 }],
      [1, "process", { kind: "mmu_notifier.begin", mm: 0 }],
    ]);
    for (const e of evs) t.onModelEvent(e.seq, e.tNs, e.thread, e.ctx, e.ev);
    expect(frames(t, 1)).toEqual(["step:write", "access", "handle_mm_fault", "migrate_to_ram", "mmu_notifier"]);
    t.onModelEvent(20, 9000, 1, "process", { kind: "mmu_notifier.end", mm: 0 });
    t.onModelEvent(21, 9000, 1, "process", { kind: "migrate_to_ram.end", ret: 0, exit: "ok" });
    expect(frames(t, 1)).toEqual(["step:write", "access", "handle_mm_fault"]);
    t.onModelEvent(22, 9000, 1, "process", { kind: "handle_mm_fault.end", outcome: "ok" });
    t.onModelEvent(23, 9000, 1, "process", { kind: "access.end", ok: true, stallNs: 0 });
    t.onModelEvent(24, 9000, 1, "process", { kind: "step.end", op: "write", step: 0, result: "ok v1" });
    expect(frames(t, 1)).toEqual([]);
    expect(t.unmatchedEnds).toBe(0);
  });

  it("survives unmatched ends and functions left open by a throw", () => {
    const t = StackTracker.fromEvents(
      log([
        [2, "gpu", { kind: "migrate_to_devmem.end", ret: -12, exit: "err_out:kvcalloc" }], // found mid-function: no begin seen
        [2, "gpu", { kind: "step.begin", op: "populate", step: 0 }],
        [2, "gpu", { kind: "populate_mm.begin", mm: 0, start: 0, end: 4096 }],
        [2, "gpu", { kind: "migrate_to_devmem.begin", mm: 0, start: 0, end: 4096 }],
        [2, "gpu", { kind: "mmu_notifier.begin", mm: 0 }],
        [2, "gpu", { kind: "populate_mm.end", ret: -16, exit: "driver:EBUSY" }], // migrate_to_devmem and the notifier never ended
      ]),
      new Map([[2, "gpu0"]]),
    );
    expect(frames(t, 2)).toEqual(["step:populate"]);
    expect(t.unmatchedEnds).toBe(1);
    t.onModelEvent(30, 9000, 2, "gpu", { kind: "access.end", ok: false, stallNs: 0 });
    expect(frames(t, 2)).toEqual(["step:populate"]);
    expect(t.unmatchedEnds).toBe(2);
    t.onModelEvent(31, 9000, 2, "gpu", { kind: "step.end", op: "populate", step: 0, result: "-EBUSY" });
    expect(frames(t, 2)).toEqual([]);
  });

  it("gives IRQ threads and workqueue workers a frame from their spawn name, and forgets them at exit", () => {
    const t = new StackTracker();
    t.onSpawn(3, "irq@0x4000000", "irq");
    t.onSpawn(4, "irq:folio17", "irq");
    t.onSpawn(5, "irq-timer:folio17", "process");
    t.onSpawn(6, "kworker/drm_pagemap_release", "workqueue");
    t.onSpawn(7, "cpu0", "process");
    expect(frames(t, 3)).toEqual(["irq"]);
    expect(frames(t, 4)).toEqual(["irq"]);
    expect(frames(t, 5)).toEqual(["irq-timer"]);
    expect(frames(t, 6)).toEqual(["kworker/drm_pagemap_release"]);
    expect(frames(t, 7)).toEqual([]);
    t.onModelEvent(0, 0, 3, "irq", { kind: "zdd.put", zdd: 0, holder: "page" });
    expect(frameNames(t.recent().at(-1)!.frame)).toEqual(["irq"]);
    t.onEngineEvent(1, "proc.exit", 0, 3);
    expect(t.stacksAt().has(3)).toBe(false);
    // A list without spawn names still gets the context's frame.
    const bare = StackTracker.fromEvents(log([[9, "irq", { kind: "folio.put", folio: 4 }]]));
    expect(frames(bare, 9)).toEqual(["irq"]);
  });
});

describe("namedObjects: the objects a checker's sentence names", () => {
  it("reads the checkers' prefixes, hex and decimal", () => {
    expect(namedObjects("mm 1 vpn 262145: present entry maps device folio 40")).toEqual([
      { kind: "page", mm: 1, vpnFirst: 262145, vpnLast: 262145 },
      { kind: "folio", id: 40 },
    ]);
    expect(namedObjects("mm 0 PMD at vpn 512: leaf not inside one VMA")).toEqual([{ kind: "page", mm: 0, vpnFirst: 512, vpnLast: 1023 }]);
    expect(namedObjects("seq 40, cpu1: process mm 1 read 0x40001000 and did not see the last write it could see")).toEqual([
      { kind: "page", mm: 1, vpnFirst: 0x40001, vpnLast: 0x40001 },
    ]);
    expect(namedObjects("hung: cpu0: the access to 0x40000000 (mm 0, vpn 0x40000, device pfn 12) has faulted")).toEqual([
      { kind: "page", mm: 0, vpnFirst: 0x40000, vpnLast: 0x40000 },
      { kind: "pfn", pfn: 12 },
    ]);
    expect(namedObjects("zdd 3: refcount 2, holders 1 (1 pages + creator)")).toEqual([{ kind: "zdd", id: 3 }]);
    expect(namedObjects("devmem 2: its zdd is destroyed but it is not detached")).toEqual([{ kind: "devmem", id: 2 }]);
    expect(namedObjects("mm 0: vma 3 overlaps vma 4")).toEqual([
      { kind: "vma", mm: 0, id: 3 },
      { kind: "vma", mm: 0, id: 4 },
    ]);
    expect(namedObjects("svm range 5: bound to a freed folio")).toEqual([{ kind: "range", id: 5 }]);
    expect(namedObjects("system pages: counter says 3, live folios hold 2")).toEqual([]);
  });
});

describe("problemSignature on hand-made logs", () => {
  const names = new Map([[1, "cpu0"], [2, "cpu1"], [3, "gpu0"]]);
  const events = log([
    [1, "process", { kind: "step.begin", op: "write", step: 0 }],
    [1, "process", { kind: "page.write", mm: 1, vpn: 0x40001, folio: 7, index: 0, version: 1 }],
    [1, "process", { kind: "step.end", op: "write", step: 0, result: "ok v1" }],
    [3, "gpu", { kind: "step.begin", op: "read", step: 0 }],
    [3, "gpu", { kind: "access.begin", mm: 1, addr: 0x40001000, access: "read" }],
    [3, "gpu", { kind: "gpu_fault.begin", mm: 1, addr: 0x40001000, access: "read" }],
    [3, "gpu", { kind: "populate_mm.begin", mm: 1, start: 0x40000000, end: 0x40200000 }],
    [3, "gpu", { kind: "migrate_to_devmem.begin", mm: 1, start: 0x40000000, end: 0x40200000 }],
    [3, "gpu", { kind: "pte.set", mm: 1, vpn: 0x40001, pteKind: "device-private", folio: 9, index: 0 }],
    [2, "process", { kind: "step.begin", op: "atomic", step: 0 }],
    [2, "process", { kind: "page.write", mm: 1, vpn: 0x40005, folio: 12, index: 0, version: 1 }], // another page
    [2, "process", { kind: "step.end", op: "atomic", step: 0, result: "ok v1" }],
    [1, "process", { kind: "step.begin", op: "read", step: 1 }],
    [1, "process", { kind: "page.read", mm: 1, vpn: 0x40001, folio: 9, index: 0, version: 0 }],
    [1, "process", { kind: "kernel.bug", fn: "migrate_to_ram", what: "something" }],
  ]);
  const lost: Problem = { check: "lost-write", message: "seq 26, cpu0: process mm 1 read 0x40001000 and did not see the last write it could see: expected v1, found v0", seq: 26 };

  it("takes the threads whose events touched the page the message names, each with its stack at its last touch, sorted", () => {
    const t = StackTracker.fromEvents(events, names);
    // cpu1 touched another page only; cpu0 last touched it reading (its write came before).
    expect(problemSignature(lost, t)).toBe(
      "lost-write | seq #, cpu#: process mm # read # and did not see the last write it could see: expected v#, found v# | " +
        "[populate_mm > migrate_to_devmem] [step:read]",
    );
  });

  it("ignores numbers: another page, thread and seq give the same signature", () => {
    const moved = events.map((e) => ({ ...e, seq: e.seq + 100, ev: shiftPage(e.ev) }));
    const t = StackTracker.fromEvents(moved, new Map([[1, "cpu3"], [2, "cpu1"], [3, "gpu0"]]));
    const problem: Problem = { ...lost, seq: 126, message: "seq 126, cpu3: process mm 1 read 0x80001000 and did not see the last write it could see: expected v1, found v0" };
    expect(problemSignature(problem, t)).toBe(problemSignature(lost, StackTracker.fromEvents(events, names)));
    expect(normalizeMessage(problem.message)).toBe(normalizeMessage(lost.message));
  });

  it("differs for a different check, and falls back to the last thread when nothing is named", () => {
    const t = StackTracker.fromEvents(events, names);
    expect(problemSignature({ ...lost, check: "invariant" }, t)).not.toBe(problemSignature(lost, t));
    const bug: Problem = { check: "kernel-bug", message: "28000 ns, migrate_to_ram: something", seq: 28 };
    expect(problemSignature(bug, t)).toBe("kernel-bug | # ns, migrate_to_ram: something | [step:read]");
    const x = explainProblem(bug, events, names);
    expect(x.paragraph).toContain("It names no model object. No logged event touched a named object, so the thread that committed the last event stands for it: cpu0 (process) was in step:read.");
    expect(x.excerpt).toEqual([
      "0 @0.000µs cpu0 step.begin op=write step=0",
      "2 @1.000µs cpu0 page.write mm=1 vpn=0x40001 folio=7 index=0 version=1",
      "4 @2.000µs cpu0 step.end op=write step=0 result=ok v1",
      "24 @12.000µs cpu0 step.begin op=read step=1",
      "26 @13.000µs cpu0 page.read mm=1 vpn=0x40001 folio=9 index=0 version=0",
      "28 @14.000µs cpu0 kernel.bug fn=migrate_to_ram what=something",
    ]);
    // Only events up to the problem's seq count: at seq 18 the last event is gpu0's pte.set.
    expect(problemSignature({ ...bug, seq: 17 }, t)).toBe("kernel-bug | # ns, migrate_to_ram: something | [populate_mm > migrate_to_devmem]");
  });
});

describe("teardown problems: where the leaked object came from", () => {
  const names = new Map([[1, "cpu0"], [3, "gpu0"]]);
  const events = log([
    [3, "gpu", { kind: "step.begin", op: "populate", step: 0 }],
    [3, "gpu", { kind: "populate_mm.begin", mm: 0, start: 0, end: 8192 }],
    [3, "gpu", { kind: "migrate_to_devmem.begin", mm: 0, start: 0, end: 8192 }],
    [3, "gpu", { kind: "zdd.alloc", zdd: 4, owner: 1 }],
    [3, "gpu", { kind: "zdd.get", zdd: 4 }],
    [3, "gpu", { kind: "migrate_to_devmem.end", ret: -12, exit: "err_out:kvcalloc" }],
    [3, "gpu", { kind: "populate_mm.end", ret: -12, exit: "driver:ENOMEM" }],
    [3, "gpu", { kind: "step.end", op: "populate", step: 0, result: "-ENOMEM" }],
    [1, "process", { kind: "step.begin", op: "munmap", step: 0 }],
    [1, "process", { kind: "mmu_notifier.begin", mm: 0 }],
    [1, "process", { kind: "zdd.put", zdd: 4, holder: "page" }],
    [1, "process", { kind: "mmu_notifier.end", mm: 0 }],
    [1, "process", { kind: "step.end", op: "munmap", step: 0, result: "0" }],
  ]);
  const leak: Problem = { check: "teardown", message: "zdd 4: the creator's reference was never put (a migration left without zdd_put)", seq: 24 };

  it("takes the creator's stack for a teardown check, the last toucher's otherwise", () => {
    const t = StackTracker.fromEvents(events, names);
    expect(problemSignature(leak, t)).toBe("teardown | zdd #: the creator's reference was never put (a migration left without zdd_put) | [populate_mm > migrate_to_devmem]");
    expect(problemSignature({ ...leak, check: "invariant" }, t)).toBe(
      "invariant | zdd #: the creator's reference was never put (a migration left without zdd_put) | [mmu_notifier] [populate_mm > migrate_to_devmem]",
    );
    const x = explainProblem(leak, events, names);
    expect(x.paragraph).toContain("What leaked came from where it was created: zdd 4 by gpu0 (gpu) in step:populate > populate_mm > migrate_to_devmem at seq 6.");
    expect(x.excerpt.at(-1)).toBe("20 @10.000µs cpu0 zdd.put zdd=4 holder=page");
  });

  it("remembers a creation after its event has left the window of kept events", () => {
    const t = new StackTracker(3);
    for (const [i, e] of events.entries()) {
      if (i === 0) t.onSpawn(3, "gpu0", "gpu");
      t.onModelEvent(e.seq, e.tNs, e.thread, e.ctx, e.ev);
    }
    expect(t.recent().map((e) => e.seq)).toEqual([20, 22, 24]);
    expect(problemSignature(leak, t)).toBe("teardown | zdd #: the creator's reference was never put (a migration left without zdd_put) | [populate_mm > migrate_to_devmem]");
  });
});

describe("threads the sentence names", () => {
  const t = StackTracker.fromEvents(
    log([
      [5, "process", { kind: "step.begin", op: "atomic", step: 0 }],
      [1, "process", { kind: "step.begin", op: "read", step: 0 }],
      [1, "process", { kind: "page.read", mm: 0, vpn: 1, folio: 3, index: 0, version: 0 }],
    ]),
    new Map([[5, "a"], [1, "cpu0"]]),
  );

  it("count where a checker writes a thread (name[step], name:), not as a word of the sentence", () => {
    expect(problemSignature({ check: "invariant", message: "mm 0 vpn 1: present entry points at a freed folio 3", seq: 4 }, t)).toMatch(/ \| \[step:read\]$/);
    expect(problemSignature({ check: "hung", message: "hung: a[0] atomic: the access to mm 0, vpn 0x1 never completes", seq: 4 }, t)).toMatch(/ \| \[step:atomic\] \[step:read\]$/);
  });
});

function shiftPage(ev: RunEvent): RunEvent {
  const e = { ...ev } as Record<string, unknown>;
  if (typeof e.vpn === "number") e.vpn = (e.vpn as number) + 0x40000;
  if (typeof e.addr === "number") e.addr = (e.addr as number) + 0x40000000;
  if (typeof e.start === "number") e.start = (e.start as number) + 0x40000000;
  if (typeof e.end === "number") e.end = (e.end as number) + 0x40000000;
  if (typeof e.folio === "number") e.folio = (e.folio as number) + 100;
  return e as unknown as RunEvent;
}

/**
 * A real run: an interrupt drops the last device-page reference of a populated range, and with
 * a synchronous release the zdd is destroyed (and the BO put sleeps) in IRQ context.
 */
function irqFreeYaml(o: { seed: number; addr: number; pages: number }): string {
  const hex = (n: number) => `0x${n.toString(16)}`;
  const end = o.addr + o.pages * 4096;
  return `description: irq free
seed: ${o.seed}
model: { zddRelease: inline }
device: { release: sync }
mappings:
  - { addr: ${hex(o.addr)}, size: ${o.pages * 4}KiB }
threads:
  - name: cpu0
    steps:
      - { op: write, addr: ${hex(o.addr)}, pages: ${o.pages} }
  - name: gpu0
    ctx: gpu
    steps:
      - { op: populate, start: ${hex(o.addr)}, end: ${hex(end)}, timesliceMs: 100, at: 100us }
      - { op: get, addr: ${hex(o.addr)} }
      - { op: munmap, addr: ${hex(o.addr + 4096)}, size: ${(o.pages - 1) * 4}KiB }
      - { op: munmap, addr: ${hex(o.addr)}, size: 4KiB }
      - { op: irq_put, addr: ${hex(o.addr)}, after: 10us }
`;
}

interface Captured {
  events: LoggedEvent[];
  names: Map<number, string>;
  live: StackTracker;
  /** The tracker's stacks when the context violation happened, and that event's seq. */
  violation: { seq: number; stacks: Map<number, string[]> } | null;
}

function capture(o: { seed: number; addr: number; pages: number }): Captured {
  const events: LoggedEvent[] = [];
  const names = new Map<number, string>();
  const live = new StackTracker();
  let violation: Captured["violation"] = null;
  runWorkload(parseWorkload(irqFreeYaml(o), "workloads/inline.yaml"), undefined, {
    onLog: (l) => {
      l.subscribe(live);
      l.subscribe({
        onSpawn: (uid, name) => void names.set(uid, name),
        onModelEvent: (seq, tNs, thread, ctx, ev) => void events.push({ seq, tNs, thread, ctx, ev }),
        onEngineEvent: (seq, kind) => {
          if (kind === "ctx.violation" && violation === null) violation = { seq, stacks: new Map([...live.stacksAt()].map(([uid, s]) => [uid, s.frames])) };
        },
      });
    },
  });
  return { events, names, live, violation };
}

const seqOf = (c: Captured, pred: (e: LoggedEvent) => boolean): LoggedEvent => {
  const e = c.events.find(pred);
  if (e === undefined) throw new Error("event not in the log");
  return e;
};

describe("signature and explanation on a captured log", () => {
  const a = capture({ seed: 1, addr: 0x4000000, pages: 16 });
  const b = capture({ seed: 9, addr: 0x10000000, pages: 32 });
  const uidOf = (c: Captured, name: string) => [...c.names].find(([, n]) => n === name)![0];

  it("never throws on a log with events missing (a run cut short, ends without begins)", () => {
    let x = 12345;
    const random = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let unmatched = 0;
    for (let trial = 0; trial < 20; trial++) {
      const kept = a.events.filter(() => random() > 0.2);
      const t = StackTracker.fromEvents(kept, a.names);
      unmatched += t.unmatchedEnds;
      const problem: Problem = { check: "invariant", message: "zdd 0: refcount 0 but not destroyed", seq: kept.at(-1)!.seq };
      expect(problemSignature(problem, t)).toMatch(/^invariant \| zdd #: refcount # but not destroyed \| \S/);
      expect(explainProblem(problem, kept, a.names).excerpt.length).toBeGreaterThan(0);
    }
    expect(unmatched).toBeGreaterThan(0); // the path was taken
    expect(problemSignature({ check: "no-progress", message: "no step ended in 2000000 engine steps", seq: -1 }, new StackTracker())).toBe("no-progress | no step ended in # engine steps | -");
  });

  it("tracks the real run's stacks live as from the list", () => {
    const gpu = uidOf(a, "gpu0");
    const inNotifier = a.events.find((e) => e.thread === gpu && e.ev.kind === "zdd.put" && e.ev.holder === "page")!;
    const fromList = StackTracker.fromEvents(a.events, a.names, inNotifier.seq);
    expect(fromList.stacksAt().get(gpu)!.frames).toEqual(["step:munmap", "mmu_notifier"]);
    const pop = StackTracker.fromEvents(a.events, a.names, seqOf(a, (e) => e.ev.kind === "migrate_to_devmem.begin").seq);
    expect(pop.stacksAt().get(gpu)!.frames).toEqual(["step:populate", "populate_mm", "migrate_to_devmem"]);
    expect(a.violation).not.toBeNull();
    expect(a.violation!.stacks.get(uidOf(a, "irq@0x4000000"))).toEqual(["irq"]);
    expect(a.violation!.stacks.get(gpu)).toEqual(["step:irq_put"]);
    // At the end every begin found its end and every thread has exited (set-up, -1, is no thread).
    expect(a.live.unmatchedEnds).toBe(0);
    expect([...a.live.stacksAt().keys()]).toEqual([-1]);
  });

  it("gives two runs of the same bug, other seed, address and folio numbers, one signature", () => {
    const problems = [a, b].map((c): Problem => {
      const free = [...c.events].reverse().find((e) => e.ev.kind === "folio.free" && c.names.get(e.thread)?.startsWith("irq@") === true)!;
      return { check: "invariant", message: `folio ${(free.ev as { folio: number }).folio}: refcount 0 but not freed (leaked)`, seq: free.seq };
    });
    expect(problems[0]!.message).not.toBe(problems[1]!.message);
    const sigA = problemSignature(problems[0]!, StackTracker.fromEvents(a.events, a.names));
    const sigB = problemSignature(problems[1]!, StackTracker.fromEvents(b.events, b.names));
    expect(sigA).toBe(sigB);
    expect(sigA).toMatch(/^invariant \| folio #: refcount # but not freed \(leaked\) \| .*\[irq\]/);
    // The context violation names no object, only its thread.
    const ctx = [a, b].map((c): Problem => ({ check: "context", message: `sleeping in ${c === a ? "irq@0x4000000" : "irq@0x10000000"} (irq): bo put`, seq: c.violation!.seq }));
    const ctxA = problemSignature(ctx[0]!, StackTracker.fromEvents(a.events, a.names));
    expect(ctxA).toBe(problemSignature(ctx[1]!, StackTracker.fromEvents(b.events, b.names)));
    expect(ctxA).toBe("context | sleeping in irq@# (irq): bo put | [irq]");
    const x = explainProblem(ctx[0]!, a.events, a.names);
    expect(x.paragraph).toContain("It names no model object");
    expect(x.paragraph).toContain("The thread involved: irq@0x4000000 (irq) was in irq.");
    expect(x.excerpt.length).toBeGreaterThan(0);
    expect(x.excerpt.every((line) => / irq@0x4000000 /.test(line))).toBe(true);
  });

  it("explains a zdd problem: the check, the threads, their stacks and the last events on the zdd", () => {
    const destroy = seqOf(a, (e) => e.ev.kind === "zdd.destroy");
    const problem: Problem = { check: "invariant", message: "zdd 0: refcount 0 but not destroyed", seq: destroy.seq };
    const x = explainProblem(problem, a.events, a.names);
    expect(x.paragraph).toContain("checkModelInvariants");
    expect(x.paragraph).toContain("zdd 0: refcount 0 but not destroyed");
    expect(x.paragraph).toMatch(/gpu0 \(gpu\)[^;]*step:munmap > mmu_notifier/);
    expect(x.paragraph).toMatch(/irq@0x4000000 \(irq\)[^;]*\birq\b/);
    expect(x.paragraph).not.toContain("cpu0"); // cpu0 never touched the zdd
    expect(x.excerpt.length).toBeGreaterThan(3);
    expect(x.excerpt.length).toBeLessThanOrEqual(12);
    expect(x.excerpt.at(-1)).toMatch(new RegExp(`^${destroy.seq} @\\S+ irq@0x4000000 zdd.destroy zdd=0$`));
    expect(x.excerpt.some((line) => /gpu0 zdd\.put zdd=0 holder=page \(×15\)$/.test(line))).toBe(true);
    expect(x.markdown).toContain("```text\n" + x.excerpt.join("\n") + "\n```");
    // The same problem's signature names the same stacks.
    expect(problemSignature(problem, StackTracker.fromEvents(a.events, a.names))).toBe("invariant | zdd #: refcount # but not destroyed | [irq] [mmu_notifier]");
  });
});

describe("a hung fault, captured: the hung thread and the holder the sentence names", () => {
  // A CPU write, a populate to VRAM, a pin of one device page never released, then a CPU read of it (test/hung-fault.test.ts).
  const text = heldPageWorkload("pin", "");
  const events: LoggedEvent[] = [];
  const names = new Map<number, string>();
  const live = new StackTracker();
  const { report } = runWorkload(parseWorkload(text, "workloads/inline.yaml"), undefined, {
    onLog: (l) => {
      l.subscribe(live);
      l.subscribe({ onSpawn: (uid, name) => void names.set(uid, name), onModelEvent: (seq, tNs, thread, ctx, ev) => void events.push({ seq, tNs, thread, ctx, ev }) });
    },
  });

  it("signs with the faulting stack and the pin step, live as from the list", () => {
    expect(report.hang).not.toBeNull();
    const problem: Problem = { check: "hung", message: report.hang!.message, seq: events.at(-1)!.seq };
    const sig = problemSignature(problem, live);
    // cpu0's pin is thousands of events back, out of the live tracker's window: the sentence names it.
    expect(events.length).toBeGreaterThan(4096);
    expect(sig).toMatch(/ \| \[handle_mm_fault\] \[step:pin\]$/);
    expect(problemSignature(problem, StackTracker.fromEvents(events, names, problem.seq))).toBe(sig);
    const x = explainProblem(problem, events, names);
    expect(x.paragraph).toContain("It names mm 0 vpn 0x4003, device pfn 3.");
    expect(x.paragraph).toMatch(/cpu1 \(process\) last touched them in step:read > access > handle_mm_fault, and was in step:read > access at the failure; cpu0 \(process\) last touched them in step:pin/);
    expect(x.excerpt.some((line) => / cpu1 migrate_to_ram\.end ret=0 exit=\S+$/.test(line))).toBe(true); // an end counts through its begin
  });
});
