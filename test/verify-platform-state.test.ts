import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readEventRows, type EventRow } from "../src/record/reader.ts";
import { recordRun } from "../src/record/run-dir.ts";
import { verifyRun } from "../src/record/verify.ts";
import { loadWorkload } from "../src/workload/load.ts";
import { dropArrowRow, editArrowRow } from "./support/arrow-edit.ts";

/**
 * Platform state is event-sourced (#16 item 2): a real run's log with one GPU-binding, VRAM or
 * copy-engine event removed or altered (re-signed, or renumbered after a removal, so the row
 * checks and the sequence still hold) fails verify at a named seq.
 */
const FILE = "workloads/xe-2mib-fault-calibration.yaml";

async function record(): Promise<{ dir: string; rows: EventRow[] }> {
  const { dir } = await recordRun({ file: FILE, workload: loadWorkload(FILE), outDir: mkdtempSync(join(tmpdir(), "pagesim-plat-")), sinks: ["arrow"] });
  const rows: EventRow[] = [];
  for await (const row of readEventRows(join(dir, "events.arrow"))) rows.push(row);
  return { dir, rows };
}

const only = (rows: EventRow[], kind: string): EventRow => {
  const found = rows.filter((r) => r.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};


describe("verify rebuilds the platform state from the log and names the event that breaks it", () => {
  it("an unaltered log verifies, and holds one of each platform event these tests edit", async () => {
    const { dir, rows } = await record();
    for (const kind of ["svm_range.insert", "svm_range.notifier_seq", "svm_range.bind", "vram.init", "vram.alloc", "vram.touch", "copy.init", "copy.submit", "copy.start", "copy.job"]) only(rows, kind);
    expect((await verifyRun(dir)).divergence).toBeNull();
  });

  it("GPU binding altered: a bind naming system memory for device pages is refused at its seq", async () => {
    const { dir, rows } = await record();
    const bind = only(rows, "svm_range.bind");
    expect(bind.values.memory).toBe("device");
    await editArrowRow(dir, bind.seq, (row) => { row.memory = "system"; }, { resign: true });
    const result = await verifyRun(dir);
    expect(result.divergence).toMatchObject({ seq: bind.seq, kind: "svm_range.bind" });
    expect(result.divergence!.what).toMatch(/^the model refuses this event: svm range 0 bound to system memory at page \d+, which maps a device-private entry/);
  });

  it("GPU binding removed: without the migration's svm_range.notifier_seq, the bind's sequence is not the range's; refused at the bind's seq", async () => {
    const { dir, rows } = await record();
    const insert = only(rows, "svm_range.insert");
    const setSeq = only(rows, "svm_range.notifier_seq");
    const bind = only(rows, "svm_range.bind");
    expect(bind.values.notifier_seq).toBe(setSeq.values.notifier_seq);
    expect(setSeq.values.notifier_seq).not.toBe(insert.values.notifier_seq); // the migration's invalidation moved it
    await dropArrowRow(dir, setSeq.seq);
    const result = await verifyRun(dir);
    expect(result.divergence).toMatchObject({
      seq: bind.seq - 1,
      kind: "svm_range.bind",
      what: `the model refuses this event: svm range 0 bound for notifier sequence ${bind.values.notifier_seq}, but its notifier is at ${insert.values.notifier_seq}`,
    });
  });

  it("VRAM altered: an allocation of another size is refused at its seq (the allocator hands out other pages)", async () => {
    const { dir, rows } = await record();
    const alloc = only(rows, "vram.alloc");
    const size = alloc.values.size_bytes as number;
    await editArrowRow(dir, alloc.seq, (row) => { row.size_bytes = size / 2; }, { resign: true });
    const result = await verifyRun(dir);
    expect(result.divergence).toMatchObject({ seq: alloc.seq, kind: "vram.alloc" });
    expect(result.divergence!.what).toMatch(/^the model refuses this event: the allocator hands out pfns \d+…\d+ \(256\), not \d+…\d+ \(512\)/);
  });

  it("VRAM removed: without the allocation, the GPU's use of it (LRU touch) is refused at that seq", async () => {
    const { dir, rows } = await record();
    const alloc = only(rows, "vram.alloc");
    const touch = only(rows, "vram.touch");
    await dropArrowRow(dir, alloc.seq);
    const result = await verifyRun(dir);
    expect(result.divergence).toMatchObject({ seq: touch.seq - 1, kind: "vram.touch", what: "the model refuses this event: devmem 0 is not on the VRAM LRU" });
  });

  it("copy engine altered: a job completing with other bytes than it was submitted with is refused at its seq", async () => {
    const { dir, rows } = await record();
    const job = only(rows, "copy.job");
    const bytes = job.values.bytes as number;
    await editArrowRow(dir, job.seq, (row) => { row.bytes = bytes - 4096; }, { resign: true });
    const result = await verifyRun(dir);
    expect(result.divergence).toMatchObject({ seq: job.seq, kind: "copy.job", what: `the model refuses this event: copy job 0 completes as ${bytes - 4096} bytes to_device, submitted as ${bytes} bytes to_device` });
  });

  it("MMU notifier removed: an invalidation's end without its start is refused at the end's seq", async () => {
    const { dir, rows } = await record();
    const start = rows.find((r) => r.kind === "mmu_notifier.begin")!;
    const end = rows.find((r) => r.kind === "mmu_notifier.end" && r.seq > start.seq)!;
    expect(end.values.mm).toBe(start.values.mm);
    await dropArrowRow(dir, start.seq);
    const result = await verifyRun(dir);
    expect(result.divergence).toMatchObject({ seq: end.seq - 1, kind: "mmu_notifier.end", what: `the model refuses this event: mmu notifier: invalidate_range_end of mm ${String(start.values.mm)} without a start` });
  });

  it("copy engine removed: a job that never got a channel cannot complete; refused at the completion's seq", async () => {
    const { dir, rows } = await record();
    const start = only(rows, "copy.start");
    const job = only(rows, "copy.job");
    await dropArrowRow(dir, start.seq);
    const result = await verifyRun(dir);
    expect(result.divergence).toMatchObject({ seq: job.seq - 1, kind: "copy.job", what: "the model refuses this event: copy job 0 completes but never got a channel" });
  });

  it("policy state altered or removed: a CPU nap that no policy hold asked for, or of another length, is refused at its seq", async () => {
    // The ping-pong (4 round trips) under uvm with a 5 ms lapse: a CPU fault on the thrashing range naps.
    const file = "workloads/atomic-ping-pong.yaml";
    const workload = loadWorkload(file, { "policy.name": "uvm", "policy.uvm.lapseUs": 5000, "threads.cpu0.pattern.count": 4, "threads.gpu0.pattern.count": 4 });
    const record2 = async () => {
      const { dir } = await recordRun({ file, workload, outDir: mkdtempSync(join(tmpdir(), "pagesim-plat-")), sinks: ["arrow"] });
      const rows: EventRow[] = [];
      for await (const row of readEventRows(join(dir, "events.arrow"))) rows.push(row);
      return { dir, rows };
    };
    const altered = await record2();
    const nap = altered.rows.find((r) => r.kind === "fault.nap")!;
    const hold = altered.rows.filter((r) => r.kind === "cpu_fault.policy_hold" && r.seq < nap.seq).at(-1)!;
    expect(hold.values.duration_ns).toBe(nap.values.duration_ns);
    expect(nap.values.nap_thread).toBe(nap.thread); // the faulting thread's own nap
    expect((await verifyRun(altered.dir)).divergence).toBeNull();
    const ns = nap.values.duration_ns as number;
    await editArrowRow(altered.dir, nap.seq, (row) => { row.duration_ns = ns + 1000; }, { resign: true });
    expect((await verifyRun(altered.dir)).divergence).toMatchObject({ seq: nap.seq, kind: "fault.nap", what: `the model refuses this event: thread ${nap.thread} naps ${ns + 1000} ns, but ${ns} ns were asked for` });

    const removed = await record2();
    await dropArrowRow(removed.dir, hold.seq);
    expect((await verifyRun(removed.dir)).divergence).toMatchObject({ seq: nap.seq - 1, kind: "fault.nap", what: `the model refuses this event: thread ${nap.thread} naps ${ns} ns, but no nap was asked for` });
  }, 120_000);
});
