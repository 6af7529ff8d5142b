import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import { fsProblem } from "../workload/fs-problem.ts";
import { checkOutFile, OutputError } from "./out-dir.ts";
import { readEventRows, type EventRow } from "./reader.ts";
import { RunDirError, runDirFiles } from "./run-dir.ts";

/**
 * `pagesim trace`: a run directory's events.arrow as a Chrome trace-event JSON file, for
 * ui.perfetto.dev (or chrome://tracing). One process (pid 1); one track per simulated thread,
 * tid = uid + 1, so set-up (thread -1) is tid 0.
 *
 * - `<fn>.begin`/`<fn>.end` (the drm_pagemap functions, handle_mm_fault, workload steps as
 *   `step <op>`) and a worker's `work.start`/`work.end` become B/E slices; a blocked thread
 *   (proc.block … proc.wake) becomes a B/E slice `wait <object>`. These nest, because a thread
 *   does nothing else while inside them; anything that does not nest is reported in `problems`
 *   and closed with `args.unclosed`, so the file still opens.
 * - proc.sleep / proc.spin become X slices `sleep` / `spin (busy)` (arg = duration).
 * - Lock and device-channel holds (mutex, spinlock, rwsem, server) are async slices (b/e), one
 *   async track per (object, thread): holds overlap across threads and need not nest.
 * - Instants for the events worth a mark (INSTANTS below); runs of page.copy / dma.map /
 *   dma.unmap / dma.iova_link of one thread at one timestamp are one instant with `count` (a migration copies
 *   512 pages at once).
 * - Counters: device and system pages in use, live zdds, live devmem allocations, and the
 *   refcount of the zdd touched last; a sample only when the value changes.
 *
 * Skipped, as bookkeeping that would swamp the view: folio.get/put/lock/unlock/set_zdd,
 * pte.set/clear, page.write/read, zdd.get/put and folio.alloc/free (these feed the counters only),
 * and the data-view markers mm.fork/unmap/move.
 *
 * Output is streamed (nothing per event is kept beyond the open slices and the live folios the
 * counters need), written to `<out>.tmp` and renamed when whole.
 */

interface RunInfo {
  threads?: { uid: number; name: string; ctx: string }[];
  objects?: string[];
  workload?: { name?: string } | string;
}

const INSTANTS = new Set([
  "cpu_fault.timeslice_spin", "kernel.bug", "ctx.violation", "dma.map", "dma.unmap", "dma.iova_alloc", "dma.iova_link", "dma.iova_sync", "dma.iova_unlink", "dma.iova_free", "devmem.timeslice", "zdd.destroy",
  "devmem.release", "page.copy", "devmem.init", "devmem.detach", "zdd.alloc", "zdd.bind", "dpagemap.create",
  "dpagemap.unbind", "folio.split", "folio.pin", "folio.unpin", "mm.create", "mmget", "mmput", "vma.insert", "vma.remove",
  "proc.spawn", "proc.exit", "work.queue", "completion.complete", "completion.complete_all", "completion.consume", "completion.reinit",
]);
/** Instants repeated per page or folio: consecutive ones of a thread at one time become one. */
const COALESCE = new Set(["page.copy", "dma.map", "dma.unmap", "dma.iova_link"]);
const HOLD = /^(mutex|spinlock|rwsem|server)\.(acquire|release)(?:_(read|write))?$/;
const HEADER = new Set(["seq", "t_ns", "kind", "thread", "ctx", "check"]);

/** ns → µs as an exact decimal literal: JSON numbers in µs, but no binary rounding of t/1000. */
function us(ns: number): string {
  if (!Number.isSafeInteger(ns) || ns < 0) throw new Error(`time ${ns} ns is not a non-negative integer`);
  const frac = ns % 1000;
  const whole = (ns - frac) / 1000;
  return frac === 0 ? `${whole}` : `${whole}.${String(frac).padStart(3, "0").replace(/0+$/, "")}`;
}

/** Appends JSON text to a file in large chunks, so memory stays flat however long the run. */
class ChunkedFile {
  private readonly fd: number;
  private buf = "";
  events = 0;

  constructor(path: string) {
    this.fd = openSync(path, "w");
  }

  raw(text: string): void {
    this.buf += text;
    if (this.buf.length >= 1 << 20) this.flush();
  }

  event(json: string): void {
    this.raw(this.events++ === 0 ? `\n${json}` : `,\n${json}`);
  }

  flush(): void {
    const bytes = Buffer.from(this.buf);
    for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done, bytes.length - done);
    this.buf = "";
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** A B slice open on a thread's track; `wait` for a blocked thread's. */
type Open = { name: string; seq: number; wait: boolean };
/** A held lock or device channel: an open async slice. */
type Hold = { uid: number; cat: string; mode: string; id: string; name: string };
/** The instant being coalesced, written when anything else is. */
type Pending = { kind: string; tNs: number; tid: number; args: Record<string, unknown>; count: number };

/**
 * Writes the trace of the run in `runDir` to `outPath`. `problems` names, by seq, every slice the
 * log left open or ended without a begin (a model bug; at most 100 are listed).
 */
export async function writeTrace(runDir: string, outPath = join(runDir, "trace.json"), outLabel = `--out ${outPath}`): Promise<{ path: string; traceEvents: number; problems: string[] }> {
  const manifest = runDirFiles(runDir).manifest;
  let info: RunInfo;
  try {
    info = JSON.parse(readFileSync(manifest, "utf8")) as RunInfo;
  } catch {
    throw new RunDirError(`${manifest}: not the JSON pagesim writes; expected a run directory's run.json`);
  }
  // Checked before anything is written: a directory there would leave a whole trace as <out>.tmp.
  checkOutFile(outPath, outLabel, "trace.json");
  const objects = info.objects ?? [];
  const threadNames = new Map((info.threads ?? []).map((t) => [t.uid, `${t.name} (${t.ctx})`]));
  threadNames.set(-1, "world set-up (no thread)");
  const workload = typeof info.workload === "string" ? info.workload : (info.workload?.name ?? basename(runDir));
  const objectName = (id: number): string => objects[id] ?? `#${id}`;
  const label = (uid: number): string => threadNames.get(uid) ?? `thread ${uid}`;

  const tmp = `${outPath}.tmp`;
  const out = new ChunkedFile(tmp);
  const problems: string[] = [];
  let unlisted = 0;
  const problem = (what: string): void => void (problems.length < 100 ? problems.push(what) : unlisted++);
  const stacks = new Map<number, Open[]>();
  const holds = new Map<number, Hold[]>();
  /** Live folios: order * 2 + (device ? 1 : 0). */
  const folios = new Map<number, number>();
  const counters = new Map<string, number>();
  let pending: Pending | null = null;
  let lastNs = 0;
  /** The latest time any slice reaches (an X slice can end after the last row). */
  let endNs = 0;

  const json = (name: string, ph: string, tNs: number, tid: number, args?: Record<string, unknown>, extra = ""): string =>
    `{"name":${JSON.stringify(name)},"ph":"${ph}","ts":${us(tNs)},"pid":1,"tid":${tid}${extra}${args === undefined ? "" : `,"args":${JSON.stringify(args)}`}}`;
  const flushPending = (): void => {
    if (pending === null) return;
    const p = pending;
    pending = null;
    out.event(json(p.kind, "i", p.tNs, p.tid, p.count > 1 ? { ...p.args, count: p.count } : p.args, `,"s":"t"`));
  };
  // Every write goes through emit, so a coalesced instant is written before anything after it.
  const emit = (name: string, ph: string, tNs: number, tid: number, args?: Record<string, unknown>, extra = ""): void => {
    flushPending();
    out.event(json(name, ph, tNs, tid, args, extra));
  };
  const counter = (name: string, key: string, delta: number, tNs: number, tid: number, absolute?: number): void => {
    const before = counters.get(name) ?? 0;
    const value = absolute ?? before + delta;
    if (value === before && counters.has(name)) return;
    counters.set(name, value);
    emit(name, "C", tNs, tid, { [key]: value });
  };
  const stackOf = (uid: number): Open[] => stacks.get(uid) ?? (stacks.set(uid, []), stacks.get(uid)!);
  /** Ends the newest open slice called `name`, first closing (and reporting) any opened after it. */
  const close = (row: EventRow, name: string, args: Record<string, unknown>): void => {
    const stack = stackOf(row.thread);
    const at = stack.findLastIndex((o) => o.name === name);
    if (at < 0) {
      problem(`seq ${row.seq}: ${row.kind} on ${label(row.thread)} with no open ${name}`);
      emit(`unmatched ${row.kind}`, "i", row.tNs, row.thread + 1, args, `,"s":"t"`);
      return;
    }
    while (stack.length > at + 1) unclosed(row.thread, stack.pop()!, row.tNs, `closed by seq ${row.seq} ${row.kind}`);
    stack.pop();
    emit(name, "E", row.tNs, row.thread + 1, args);
  };
  const unclosed = (uid: number, o: Open, tNs: number, why: string): void => {
    problem(`seq ${o.seq}: ${o.name} on ${label(uid)} never ended (${why})`);
    emit(o.name, "E", tNs, uid + 1, { unclosed: true });
  };
  const argsOf = (row: EventRow): Record<string, unknown> => {
    const args: Record<string, unknown> = { seq: row.seq };
    for (const [k, v] of Object.entries(row.values)) {
      if (HEADER.has(k)) continue;
      if ((k === "start" || k === "end") && typeof v === "number") args[k] = `0x${v.toString(16)}`;
      else if (k === "object" && typeof v === "number") args[k] = objectName(v);
      else if (Array.isArray(v) && v.length > 8) args[k] = `${v.length} values: ${v[0]} … ${v[v.length - 1]}`;
      else args[k] = v;
    }
    return args;
  };

  try {
    out.raw(`{"displayTimeUnit":"ns","traceEvents":[`);
    emit("process_name", "M", 0, 0, { name: `pagesim ${workload}` });
    for (const [uid, name] of threadNames) emit("thread_name", "M", 0, uid + 1, { name });

    for await (const row of readEventRows(join(runDir, "events.arrow"))) {
      if (row.tNs < lastNs) throw new Error(`${runDir}/events.arrow: time goes backwards at seq ${row.seq} (${row.tNs} ns after ${lastNs} ns)`);
      lastNs = row.tNs;
      endNs = Math.max(endNs, row.tNs);
      if (!threadNames.has(row.thread)) {
        threadNames.set(row.thread, `thread ${row.thread} (${row.ctx})`);
        emit("thread_name", "M", 0, row.thread + 1, { name: label(row.thread) });
      }
      const { kind: k, tNs: t, thread: uid } = row;
      const tid = uid + 1;
      const v = row.values;
      const hold = HOLD.exec(k);

      if (k.endsWith(".begin")) {
        const fn = k.slice(0, -".begin".length);
        const name = fn === "step" ? `step ${String(v.op)}` : fn;
        stackOf(uid).push({ name, seq: row.seq, wait: false });
        emit(name, "B", t, tid, argsOf(row));
      } else if (k.endsWith(".end") && k !== "work.end") {
        const fn = k.slice(0, -".end".length);
        close(row, fn === "step" ? `step ${String(v.op)}` : fn, argsOf(row));
      } else if (k === "work.start") {
        const name = `work ${objectName(v.object as number)}`;
        stackOf(uid).push({ name, seq: row.seq, wait: false });
        emit(name, "B", t, tid, { seq: row.seq, latency_ns: v.arg });
      } else if (k === "work.end") {
        close(row, `work ${objectName(v.object as number)}`, { seq: row.seq });
      } else if (k === "proc.block") {
        const name = `wait ${v.object === undefined ? "(join)" : objectName(v.object as number)}`;
        stackOf(uid).push({ name, seq: row.seq, wait: true });
        emit(name, "B", t, tid, { seq: row.seq });
      } else if (k === "proc.wake") {
        // A wake only ends a wait we saw begin; other wakes carry nothing to draw.
        if (stackOf(uid).at(-1)?.wait === true) close(row, stackOf(uid).at(-1)!.name, { seq: row.seq });
      } else if (k === "proc.sleep" || k === "proc.spin") {
        const dur = v.arg as number;
        endNs = Math.max(endNs, t + dur);
        emit(k === "proc.sleep" ? "sleep" : "spin (busy)", "X", t, tid, { seq: row.seq }, `,"dur":${us(dur)}`);
      } else if (hold !== null) {
        const [, family, action, mode = ""] = hold;
        const obj = v.object as number;
        const list = holds.get(obj) ?? (holds.set(obj, []), holds.get(obj)!);
        if (action === "acquire") {
          const h = { uid, cat: family!, mode, id: `${obj}.${uid}`, name: `${objectName(obj)}${mode === "" ? "" : ` (${mode})`}` };
          list.push(h);
          emit(h.name, "b", t, tid, argsOf(row), `,"cat":"${h.cat}","id":"${h.id}"`);
        } else {
          // up_read may come from another thread than the down_read: fall back to any holder.
          let i = list.findLastIndex((h) => h.uid === uid && h.mode === mode);
          if (i < 0) i = list.findIndex((h) => h.mode === mode);
          if (i >= 0) {
            const [h] = list.splice(i, 1);
            emit(h!.name, "e", t, tid, argsOf(row), `,"cat":"${h!.cat}","id":"${h!.id}"`);
          }
        }
      } else if (INSTANTS.has(k)) {
        if (pending !== null && COALESCE.has(k) && pending.kind === k && pending.tid === tid && pending.tNs === t) pending.count++;
        else {
          flushPending();
          pending = { kind: k, tNs: t, tid, args: argsOf(row), count: 1 };
        }
      }

      // Counters, and the state they need.
      if (k === "folio.alloc") {
        const order = v.order as number;
        const device = v.memory === "device";
        folios.set(v.folio as number, order * 2 + (device ? 1 : 0));
        counter(device ? "device" : "system", "pages in use", 2 ** order, t, tid);
      } else if (k === "folio.free") {
        const f = folios.get(v.folio as number);
        if (f !== undefined) {
          folios.delete(v.folio as number);
          counter(f % 2 === 1 ? "device" : "system", "pages in use", -(2 ** Math.floor(f / 2)), t, tid);
        }
      } else if (k === "folio.split") {
        // Page 0 stays in the folio, page i becomes folio first_new + i - 1; all order 0.
        const f = folios.get(v.folio as number);
        if (f !== undefined) {
          const pages = 2 ** Math.floor(f / 2);
          folios.set(v.folio as number, f % 2);
          for (let i = 1; i < pages; i++) folios.set((v.first_new as number) + i - 1, f % 2);
        }
      } else if (k === "zdd.alloc" || k === "zdd.destroy") counter("zdds", "live", k === "zdd.alloc" ? 1 : -1, t, tid);
      else if (k === "devmem.init" || k === "devmem.release") counter("devmem allocations", "live", k === "devmem.init" ? 1 : -1, t, tid);
      if (k.startsWith("zdd.") && typeof v.refcount === "number") counter("zdd refcount", "last touched", 0, t, tid, v.refcount);

      if (k === "proc.exit") for (let o = stackOf(uid).pop(); o !== undefined; o = stackOf(uid).pop()) unclosed(uid, o, t, `thread exited at seq ${row.seq}`);
    }

    // What is still open when the log ends is closed where it ends, and reported.
    for (const [uid, stack] of stacks) for (let o = stack.pop(); o !== undefined; o = stack.pop()) unclosed(uid, o, endNs, "open at the end of the log");
    for (const list of holds.values()) {
      for (const h of list) {
        problem(`${h.name} still held by ${label(h.uid)} at the end of the log`);
        emit(h.name, "e", endNs, h.uid + 1, { unclosed: true }, `,"cat":"${h.cat}","id":"${h.id}"`);
      }
    }
    if (unlisted > 0) problems.push(`… and ${unlisted} more`);
    flushPending();
    out.raw(`\n]}\n`);
    out.close();
  } catch (error) {
    try {
      out.close();
    } finally {
      rmSync(tmp, { force: true });
    }
    throw error;
  }
  try {
    renameSync(tmp, outPath);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw new OutputError(`${outLabel}: cannot put the trace there (${fsProblem(error)}); expected a file path`);
  }
  return { path: outPath, traceEvents: out.events, problems };
}
