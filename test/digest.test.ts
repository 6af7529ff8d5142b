import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { stateDigest } from "../src/check/digest.ts";
import { FolioTable } from "../src/kernel/folio-table.ts";
import { PageTable } from "../src/kernel/page-table.ts";
import type { ModelState } from "../src/pagemap/state.ts";
import { loadWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";

/**
 * The digest as it was first defined, with the whole canonical value built and stringified: the
 * streaming digest must give the same bytes, so run directories recorded before it still verify.
 */
function referenceDigest(state: ModelState): string {
  const canonical = (value: unknown): unknown => {
    // An object with its own canonical form (the VRAM allocator: its free-list heaps depend on history).
    if (value !== null && typeof value === "object" && typeof (value as { canonical?: unknown }).canonical === "function") return canonical((value as { canonical(): unknown }).canonical());
    if (value instanceof PageTable) return value.entries().map(([vpn, pte]) => [vpn, canonical(pte)]);
    if (value instanceof Map) return [...value.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k, v]) => [k, canonical(v)]);
    if (Array.isArray(value)) return value.map(canonical);
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value).sort()) out[key] = canonical((value as Record<string, unknown>)[key]);
      return out;
    }
    return value;
  };
  const hash = createHash("sha256");
  for (const key of Object.keys(state).sort()) {
    hash.update(key);
    const value = (state as unknown as Record<string, unknown>)[key];
    if (value instanceof FolioTable) for (const id of value.ids()) hash.update(JSON.stringify([id, canonical(value.fields(id))]));
    else if (value instanceof Map) for (const k of [...value.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) hash.update(JSON.stringify([k, canonical(value.get(k))]));
    else hash.update(JSON.stringify(canonical(value)));
  }
  return `sha256:${hash.digest("hex")}`;
}

describe("stateDigest", () => {
  it.each(["timeslice-refault", "fork-shared-device-pages", "thp-vs-4k", "vram-oversubscription", "mremap-after-migration"])(
    "%s: the streamed digest is the canonical JSON's, byte for byte",
    (name) => {
      const run = runWorkload(loadWorkload(`workloads/${name}.yaml`));
      const state = run.world.p.state;
      expect(stateDigest(state)).toBe(referenceDigest(state));
    },
  );

  it("changes when any page table entry or folio field does", () => {
    const run = runWorkload(loadWorkload("workloads/timeslice-refault.yaml"));
    const state = run.world.p.state;
    const before = stateDigest(state);
    const mm = state.mms.get(run.world.mm)!;
    const [vpn, pte] = mm.ptes.entries()[0]!;
    mm.ptes.set(vpn, pte.kind, pte.folio, pte.index + 1);
    expect(stateDigest(state)).not.toBe(before);
    mm.ptes.set(vpn, pte.kind, pte.folio, pte.index);
    expect(stateDigest(state)).toBe(before);
    state.folios.setVersion(pte.folio, pte.index, state.folios.version(pte.folio, pte.index) + 1);
    expect(stateDigest(state)).not.toBe(before);
  });

  it("covers the platform state: a GPU binding, the VRAM allocator and LRU (#16 item 2)", () => {
    const run = runWorkload(loadWorkload("workloads/xe-2mib-fault-calibration.yaml"));
    const state = run.world.log.state;
    const before = stateDigest(state);
    const range = [...state.svmRanges.values()].find((r) => r.boundTo !== null)!;
    range.readOnly = true;
    expect(stateDigest(state)).not.toBe(before);
    range.readOnly = false;
    expect(stateDigest(state)).toBe(before);
    const [devmem, ns] = [...state.vram!.lastUseNs][0]!;
    state.vram!.lastUseNs.set(devmem, ns + 1);
    expect(stateDigest(state)).not.toBe(before);
    state.vram!.lastUseNs.set(devmem, ns);
    state.vram!.buddy.alloc(1, 9);
    expect(stateDigest(state)).not.toBe(before);
  });
});
