import { createHash } from "node:crypto";
import { FolioTable } from "../kernel/folio-table.ts";
import { PageTable } from "../kernel/page-table.ts";
import type { ModelState } from "../pagemap/state.ts";

/**
 * The model state in one canonical form: every Map as its entries sorted by key, object keys in a
 * fixed order. Two states are equal exactly when their canonical forms are. The folio and page
 * tables read as the Maps of plain objects they replaced, so digests stay comparable across that
 * change of representation.
 */
function canonical(value: unknown): unknown {
  if (value instanceof PageTable) return value.entries().map(([vpn, pte]) => [vpn, canonical(pte)]);
  if (value instanceof Map) {
    return [...value.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k, v]) => [k, canonical(v)]);
  }
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = canonical((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** "sha256:…" of the canonical state: what run.json records and `pagesim verify` recomputes. */
export function stateDigest(state: ModelState): string {
  const hash = createHash("sha256");
  // Hash Map by Map so a large state is never one giant string.
  for (const key of Object.keys(state).sort()) {
    hash.update(key);
    const value = (state as unknown as Record<string, unknown>)[key];
    if (value instanceof FolioTable) {
      for (const id of value.ids()) hash.update(JSON.stringify([id, canonical(value.fields(id))]));
    } else if (value instanceof Map) {
      const keys = [...value.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      for (const k of keys) hash.update(JSON.stringify([k, canonical(value.get(k))]));
    } else {
      hash.update(JSON.stringify(canonical(value)));
    }
  }
  return `sha256:${hash.digest("hex")}`;
}

/** Counts that name where two states differ when their digests do. */
export function stateSummary(state: ModelState): Record<string, number> {
  let liveFolios = 0;
  let locked = 0;
  let refs = 0;
  for (const f of state.folios.values()) {
    if (f.freed) continue;
    liveFolios++;
    refs += f.refcount;
    if (f.lockOwner !== -1) locked++;
  }
  let entries = 0;
  let users = 0;
  for (const mm of state.mms.values()) {
    entries += mm.ptes.size;
    users += mm.users;
  }
  const liveZdds = [...state.zdds.values()].filter((z) => !z.destroyed);
  return {
    mms: state.mms.size,
    mmUsers: users,
    vmas: state.vmas.size,
    pageTableEntries: entries,
    foliosEverAllocated: state.nextFolioId,
    liveFolios,
    folioRefs: refs,
    lockedFolios: locked,
    systemPages: state.allocatedPages.system,
    devicePages: state.allocatedPages.device,
    liveZdds: liveZdds.length,
    zddRefs: liveZdds.reduce((n, z) => n + z.refcount, 0),
    devmems: state.devmems.size,
    releasedDevmems: [...state.devmems.values()].filter((d) => d.released).length,
    dpagemaps: state.dpagemaps.size,
  };
}
