import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ArrowEventWriter } from "../src/record/arrow-file.ts";
import { EventRecorder } from "../src/record/recorder.ts";
import { writeTrace } from "../src/record/trace.ts";
import { createModelState, type ModelState } from "../src/pagemap/state.ts";
import type { RunEvent } from "../src/machine/run-events.ts";
import { loadWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Records a bundled workload into a fresh run directory: events.arrow and a run.json. */
function recordInto(workload: string): string {
  const dir = mkdtempSync(join(tmpdir(), "pagesim-trace-"));
  const writer = new ArrowEventWriter(join(dir, "events.arrow"));
  let rec!: EventRecorder;
  const { world } = runWorkload(loadWorkload(`${root}workloads/${workload}.yaml`), undefined, {
    onLog: (log) => {
      rec = new EventRecorder(log.state, [writer]);
      log.subscribe(rec);
    },
  });
  rec.flush();
  writer.close();
  // Engine.objectName answers `#id` past the last registered object.
  const objects: string[] = [];
  while (world.engine.objectName(objects.length) !== `#${objects.length}`) objects.push(world.engine.objectName(objects.length));
  writeFileSync(join(dir, "run.json"), JSON.stringify({ workload: { name: workload }, threads: rec.threads, objects }));
  return dir;
}

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  s?: string;
  id?: string;
  cat?: string;
  args?: Record<string, unknown>;
}

/** Checks the rules Perfetto's JSON importer relies on; returns the B/E slice names seen. */
function checkTrace(events: TraceEvent[], allowUnclosed = false): { slices: Set<string>; counters: number } {
  const stacks = new Map<string, string[]>();
  const lastTs = new Map<string, number>();
  const asyncOpen = new Set<string>();
  const slices = new Set<string>();
  let counters = 0;
  events.forEach((e, i) => {
    const where = `event ${i} ${JSON.stringify(e)}`;
    expect(typeof e.name, where).toBe("string");
    expect(e.name.length, where).toBeGreaterThan(0);
    expect(["B", "E", "X", "i", "C", "M", "b", "e"], where).toContain(e.ph);
    expect(typeof e.ts === "number" && Number.isFinite(e.ts) && e.ts >= 0, where).toBe(true);
    expect(e.pid, where).toBe(1);
    expect(Number.isInteger(e.tid) && e.tid >= 0, where).toBe(true);
    const track = `${e.pid}/${e.tid}`;
    expect(e.ts, `${where}: time went backwards on track ${track}`).toBeGreaterThanOrEqual(lastTs.get(track) ?? 0);
    if (e.ph !== "M") lastTs.set(track, e.ts);
    const stack = stacks.get(track) ?? (stacks.set(track, []), stacks.get(track)!);
    switch (e.ph) {
      case "B":
        stack.push(e.name);
        slices.add(e.name);
        break;
      case "E":
        expect(stack.at(-1), `${where}: E does not close the newest open B on ${track}`).toBe(e.name);
        stack.pop();
        if (!allowUnclosed) expect(e.args?.unclosed, `${where}: closed by the converter, not by the log`).toBeUndefined();
        break;
      case "X":
        expect(typeof e.dur === "number" && e.dur >= 0, where).toBe(true);
        break;
      case "i":
        expect(e.s, where).toBe("t");
        break;
      case "C":
        counters++;
        expect(Object.keys(e.args ?? {}).length, where).toBeGreaterThan(0);
        for (const v of Object.values(e.args!)) expect(typeof v, where).toBe("number");
        break;
      case "M":
        if (e.name === "thread_name" || e.name === "process_name") expect(typeof e.args?.name, where).toBe("string");
        break;
      case "b":
      case "e": {
        expect(typeof e.cat === "string" && typeof e.id === "string", where).toBe(true);
        const key = `${e.cat}/${e.id}/${e.name}`;
        if (e.ph === "b") asyncOpen.add(key);
        else expect(asyncOpen.delete(key), `${where}: async end without its begin`).toBe(true);
        break;
      }
    }
  });
  for (const [track, stack] of stacks) expect(stack, `slices left open on ${track}`).toEqual([]);
  expect([...asyncOpen], "async slices left open").toEqual([]);
  return { slices, counters };
}

const WORKLOADS = ["timeslice-refault", "irq-free-sync-release", "device-unbind", "fork-shared-device-pages", "pinned-page-ebusy", "dma-map-failure", "mprotect-window-clamp"];

describe("writeTrace: a run's event log as a Perfetto-readable trace", () => {
  for (const workload of WORKLOADS) {
    it(`${workload}: valid phases, nested slices, time never backwards, counters`, async () => {
      const dir = recordInto(workload);
      try {
        const result = await writeTrace(dir);
        expect(result.path).toBe(join(dir, "trace.json"));
        expect(result.problems).toEqual([]);
        expect(() => statSync(`${result.path}.tmp`)).toThrow();
        const parsed = JSON.parse(readFileSync(result.path, "utf8")) as { displayTimeUnit: string; traceEvents: TraceEvent[] };
        expect(parsed.displayTimeUnit).toBe("ns");
        expect(Array.isArray(parsed.traceEvents)).toBe(true);
        expect(parsed.traceEvents.length).toBe(result.traceEvents);
        const { slices, counters } = checkTrace(parsed.traceEvents);
        expect(slices.has("migrate_to_devmem") || slices.has("populate_mm"), [...slices].join(", ")).toBe(true);
        expect(counters).toBeGreaterThan(0);
        const names = parsed.traceEvents.filter((e) => e.ph === "M" && e.name === "thread_name").map((e) => e.args!.name);
        expect(names).toContain("world set-up (no thread)");
        expect(parsed.traceEvents.find((e) => e.name === "process_name")?.args?.name).toBe(`pagesim ${workload}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("timeslice-refault: µs timestamps are exact, page copies coalesce, the counters add up", async () => {
    const dir = recordInto("timeslice-refault");
    try {
      const { path } = await writeTrace(dir, join(dir, "out.json"));
      const events = (JSON.parse(readFileSync(path, "utf8")) as { traceEvents: TraceEvent[] }).traceEvents;
      // The migration copies 512 pages at one time on the GPU thread: one instant, count 512.
      const copies = events.filter((e) => e.name === "page.copy");
      expect(copies.map((e) => e.args?.count)).toEqual([512, 512]);
      // The CPU spins on the timeslice thousands of times, each a mark on its track.
      expect(events.filter((e) => e.name === "cpu_fault.timeslice_spin").length).toBeGreaterThan(4000);
      // 512 system pages written, migrated to the device (system freed), and back.
      const last = (name: string) => events.filter((e) => e.ph === "C" && e.name === name).at(-1)?.args;
      expect(last("system")).toEqual({ "pages in use": 512 });
      expect(last("device")).toEqual({ "pages in use": 0 });
      expect(Math.max(...events.filter((e) => e.ph === "C" && e.name === "device").map((e) => e.args!["pages in use"] as number))).toBe(512);
      expect(last("zdds")).toEqual({ live: 0 });
      expect(last("devmem allocations")).toEqual({ live: 0 });
      // The populate started at 1 ms: ts 1000 µs; sub-µs times keep their digits.
      expect(events.find((e) => e.name === "populate_mm" && e.ph === "B")?.ts).toBe(1000);
      expect(events.some((e) => !Number.isInteger(e.ts))).toBe(true);
      const mmap = events.filter((e) => e.ph === "b" && e.cat === "rwsem");
      expect(mmap.length).toBeGreaterThan(4000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a log whose time goes backwards, naming the seq, and leaves no output", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-trace-"));
    try {
      const writer = new ArrowEventWriter(join(dir, "events.arrow"));
      // Engine events only, so the recorder never reads the model state.
      const rec = new EventRecorder(undefined as unknown as ModelState, [writer]);
      rec.onSpawn(0, "cpu0", "process");
      rec.onEngineEvent(0, "proc.spawn", 5000, 0, -1, 0);
      rec.onEngineEvent(1, "proc.spin", 5000, 0, -1, 100);
      rec.onEngineEvent(2, "proc.sleep", 4000, 0, -1, 10);
      rec.flush();
      writer.close();
      writeFileSync(join(dir, "run.json"), JSON.stringify({ threads: rec.threads, objects: [] }));
      await expect(writeTrace(dir)).rejects.toThrow(/seq 2\b/);
      expect(() => statSync(join(dir, "trace.json"))).toThrow();
      expect(() => statSync(join(dir, "trace.json.tmp"))).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("counts a THP as 512 pages through a split, and reports a .begin its thread never ended", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-trace-"));
    try {
      const writer = new ArrowEventWriter(join(dir, "events.arrow"));
      const rec = new EventRecorder(createModelState(), [writer]);
      rec.onSpawn(0, "cpu0", "process");
      let seq = 0;
      const model = (tNs: number, ev: object) => rec.onModelEvent(seq++, tNs, 0, "process", ev as RunEvent);
      model(0, { kind: "folio.alloc", folio: 0, order: 9, memory: "system", pagemap: -1, pfn: -1 });
      model(10, { kind: "folio.split", folio: 0, firstNew: 1 });
      model(20, { kind: "folio.free", folio: 0 });
      model(20, { kind: "folio.free", folio: 511 });
      model(30, { kind: "folio.alloc", folio: 600, order: 0, memory: "device", pagemap: 0, pfn: 5 });
      model(40, { kind: "migrate_to_ram.begin", mm: 0, start: 0x4000000, end: 0x4001000 });
      model(50, { kind: "folio.free", folio: 600 });
      rec.onEngineEvent(seq++, "proc.exit", 60, 0, -1, 0);
      rec.flush();
      writer.close();
      writeFileSync(join(dir, "run.json"), JSON.stringify({ threads: rec.threads, objects: [] }));
      const result = await writeTrace(dir);
      expect(result.problems).toEqual(["seq 5: migrate_to_ram on cpu0 (process) never ended (thread exited at seq 7)"]);
      const events = (JSON.parse(readFileSync(result.path, "utf8")) as { traceEvents: TraceEvent[] }).traceEvents;
      checkTrace(events, true);
      const samples = (name: string) => events.filter((e) => e.ph === "C" && e.name === name).map((e) => [e.ts, e.args!["pages in use"]]);
      expect(samples("system")).toEqual([[0, 512], [0.02, 511], [0.02, 510]]);
      expect(samples("device")).toEqual([[0.03, 1], [0.05, 0]]);
      const begin = events.find((e) => e.name === "migrate_to_ram" && e.ph === "B");
      expect(begin?.args).toMatchObject({ seq: 5, start: "0x4000000", end: "0x4001000" });
      expect(events.find((e) => e.name === "migrate_to_ram" && e.ph === "E")).toMatchObject({ ts: 0.06, tid: 1, args: { unclosed: true } });
      expect(events.find((e) => e.name === "process_name")?.args?.name).toMatch(/^pagesim pagesim-trace-/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
