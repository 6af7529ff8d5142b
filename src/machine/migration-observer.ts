import type { ModelEvent } from "../pagemap/events.ts";
import type { MigrationNote } from "../platform/policy.ts";

interface OpenCall {
  fn: string;
  mm: number;
  start: number;
  end: number;
  startNs: number;
}

/** What the observer needs of the event log: its listeners. */
export interface ObservableLog {
  subscribe(listener: { onModelEvent(seq: number, tNs: number, thread: number, ctx: string, ev: { kind: string }): void }): void;
}

/**
 * Reports every completed migration (to a policy, to the run's metrics in src/machine) by reading the log as it is written: a
 * migrate_to_devmem that stamped its timeslice (it does so only on success) moved its range to
 * the device (a GPU fault or a populate step asked), a migrate_to_ram that returned 0 moved it back (a CPU fault), an evict_to_ram an
 * eviction. The model's code stays free of policy calls; the policy sees what the log sees.
 */
export function observeMigrations(log: ObservableLog, onNote: (note: MigrationNote) => void): void {
  const open = new Map<number, OpenCall[]>(); // thread → its drm_pagemap calls in progress
  log.subscribe({
    onModelEvent(_seq, tNs, thread, _ctx, e) {
      const ev = e as ModelEvent;
      switch (ev.kind) {
        case "migrate_to_devmem.begin":
        case "migrate_to_ram.begin":
        case "evict_to_ram.begin": {
          let stack = open.get(thread);
          if (stack === undefined) open.set(thread, (stack = []));
          stack.push({ fn: ev.kind.slice(0, -".begin".length), mm: ev.mm, start: ev.start, end: ev.end, startNs: tNs });
          return;
        }
        case "devmem.timeslice": {
          // drm_pagemap_migrate_to_devmem succeeded: the stamp comes before the device entries
          // are installed, so the note does too (a CPU may fault on them before the call returns).
          const call = open.get(thread)?.at(-1);
          if (call?.fn !== "migrate_to_devmem") return;
          call.fn = "migrate_to_devmem:noted";
          const note: MigrationNote = { direction: "to_device", cause: "gpu", mm: call.mm, start: call.start, end: call.end, startNs: call.startNs, nowNs: tNs };
          onNote(note);
          return;
        }
        case "migrate_to_devmem.end":
        case "migrate_to_ram.end":
        case "evict_to_ram.end": {
          const call = open.get(thread)?.pop();
          if (call === undefined || ev.ret !== 0 || call.fn === "migrate_to_devmem:noted" || call.fn === "migrate_to_devmem") return;
          const direction = call.fn === "migrate_to_devmem" ? "to_device" : "to_system";
          const cause = call.fn === "migrate_to_devmem" ? "gpu" : call.fn === "evict_to_ram" ? "evict" : "cpu";
          const note: MigrationNote = { direction, cause, mm: call.mm, start: call.start, end: call.end, startNs: call.startNs, nowNs: tNs };
          onNote(note);
          return;
        }
      }
    },
  });
}
