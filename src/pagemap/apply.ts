import { applyKernelEvent, IllegalTransition } from "../kernel/apply.ts";

import { PAGEMAP_FUNCTIONS, type ModelEvent, type PagemapEvent, type PagemapFunction } from "./events.ts";
import type { DevmemState, ModelState, ZddState } from "./state.ts";

/** The model's one apply function: mm events go to the kernel's, drm_pagemap's are handled here. */
export function applyModelEvent(state: ModelState, ev: ModelEvent): void {
  if (isPagemapEvent(ev)) applyPagemapEvent(state, ev);
  else applyKernelEvent(state, ev);
}

const PAGEMAP_PREFIXES = ["dpagemap.", "devmem.", "zdd.", "migrate_to_devmem.", "migrate_to_ram.", "evict_to_ram.", "populate_mm.", "cpu_fault.", "kernel.", "dma."];

/** Each kind's answer, found once: this runs for every event applied (3.6 % of a run, as prefix tests). */
const isPagemapKind = new Map<string, boolean>();

function isPagemapEvent(ev: ModelEvent): ev is PagemapEvent {
  const kind: string = ev.kind;
  let known = isPagemapKind.get(kind);
  if (known === undefined) isPagemapKind.set(kind, (known = PAGEMAP_PREFIXES.some((p) => kind.startsWith(p))));
  return known;
}

export function applyPagemapEvent(state: ModelState, ev: PagemapEvent): void {
  switch (ev.kind) {
    case "dpagemap.create":
      expectId("dpagemap", ev.dpagemap, state.nextDpagemapId++);
      state.dpagemaps.set(ev.dpagemap, { id: ev.dpagemap, pagemap: ev.pagemap, owner: ev.owner, unbound: false });
      return;
    case "dpagemap.unbind": {
      const d = state.dpagemaps.get(ev.dpagemap);
      if (d === undefined) throw new IllegalTransition(`no dpagemap ${ev.dpagemap}`);
      d.unbound = true;
      return;
    }
    case "devmem.init":
      expectId("devmem", ev.devmem, state.nextDevmemId++);
      state.devmems.set(ev.devmem, {
        id: ev.devmem,
        dpagemap: ev.dpagemap,
        mm: ev.mm,
        sizeBytes: ev.sizeBytes,
        pfns: [...ev.pfns],
        timesliceExpiration: -1,
        detached: false,
        released: false,
      });
      return;
    case "devmem.timeslice":
      getDevmem(state, ev.devmem).timesliceExpiration = ev.expiration;
      return;
    case "devmem.detach": {
      const d = getDevmem(state, ev.devmem);
      if (d.detached) throw new IllegalTransition(`devmem ${ev.devmem} detached twice`);
      d.detached = true;
      return;
    }
    case "devmem.release": {
      const d = getDevmem(state, ev.devmem);
      if (d.released) throw new IllegalTransition(`devmem ${ev.devmem} released twice`);
      d.released = true;
      return;
    }
    case "zdd.alloc":
      expectId("zdd", ev.zdd, state.nextZddId++);
      state.zdds.set(ev.zdd, { id: ev.zdd, refcount: 1, creatorRef: true, devmem: -1, owner: ev.owner, destroyed: false });
      return;
    case "zdd.get":
      getZdd(state, ev.zdd).refcount++;
      return;
    case "zdd.put": {
      const z = getZdd(state, ev.zdd);
      if (z.refcount === 0) throw new IllegalTransition(`zdd ${ev.zdd}: put with refcount 0`);
      if (ev.holder === "creator") {
        if (!z.creatorRef) throw new IllegalTransition(`zdd ${ev.zdd}: the creator's reference put twice`);
        z.creatorRef = false;
      }
      z.refcount--;
      return;
    }
    case "zdd.bind": {
      const z = getZdd(state, ev.zdd);
      getDevmem(state, ev.devmem);
      if (z.devmem !== -1) throw new IllegalTransition(`zdd ${ev.zdd} already owns devmem ${z.devmem}`);
      z.devmem = ev.devmem;
      return;
    }
    case "zdd.destroy": {
      const z = getZdd(state, ev.zdd);
      if (z.refcount !== 0) throw new IllegalTransition(`zdd ${ev.zdd} destroyed with refcount ${z.refcount}`);
      z.destroyed = true;
      return;
    }
    case "cpu_fault.policy_hold":
      // The faulting thread sleeps durationNs once its fault returns (fault.nap takes it).
      if (ev.durationNs > 0) state.napsNs.set(ev.thread, ev.durationNs);
      return;
    case "dma.map":
    case "dma.unmap":
    case "dma.iova_alloc":
    case "dma.iova_link":
    case "dma.iova_sync":
    case "dma.iova_unlink":
    case "dma.iova_free":
    case "kernel.bug":
    case "cpu_fault.timeslice_spin":
      return; // recorded steps and decisions that change no state
    default: {
      // Only drm_pagemap call entries and returns are left (the compiler checks it): no state either.
      const call: { kind: `${PagemapFunction}.begin` | `${PagemapFunction}.end` } = ev;
      if (!CALL_KINDS.has(call.kind)) throw new IllegalTransition(`unknown pagemap event kind ${call.kind}`);
      return;
    }
  }
}

const CALL_KINDS = new Set<string>(PAGEMAP_FUNCTIONS.flatMap((fn) => [`${fn}.begin`, `${fn}.end`]));

function expectId(what: string, got: number, next: number): void {
  if (got !== next) throw new IllegalTransition(`${what} id ${got} out of order: the next ${what} id is ${next}`);
}

function getZdd(state: ModelState, id: number): ZddState {
  const z = state.zdds.get(id);
  if (z === undefined) throw new IllegalTransition(`no zdd ${id}`);
  if (z.destroyed) throw new IllegalTransition(`zdd ${id} used after destroy`);
  return z;
}

function getDevmem(state: ModelState, id: number): DevmemState {
  const d = state.devmems.get(id);
  if (d === undefined) throw new IllegalTransition(`no devmem ${id}`);
  return d;
}

