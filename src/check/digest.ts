import { createHash, type Hash } from "node:crypto";
import { FolioTable } from "../kernel/folio-table.ts";
import { PageTable } from "../kernel/page-table.ts";
import type { ModelState } from "../pagemap/state.ts";

/**
 * The model state in one canonical form, written as JSON text straight into the hash: every Map
 * as its entries sorted by key, object keys in a fixed order, the folio and page tables as the
 * Maps of plain objects they replaced (so digests stay comparable across that change of
 * representation). Two states are equal exactly when their canonical forms are. The text is
 * streamed in pieces, never built whole: a 64 GiB address space fully touched is 16 M entries,
 * more than a JavaScript string can hold. The bytes are those JSON.stringify would give the
 * canonical values (a digest of a run recorded before this change still matches).
 */
class CanonicalWriter {
  private pending: string[] = [];
  private pendingChars = 0;

  constructor(private readonly hash: Hash) {}

  text(s: string): void {
    this.pending.push(s);
    this.pendingChars += s.length;
    if (this.pendingChars >= 1 << 16) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    this.hash.update(this.pending.join(""));
    this.pending = [];
    this.pendingChars = 0;
  }

  /** `value` as JSON.stringify would write its canonical form. */
  value(value: unknown): void {
    if (hasCanonicalForm(value)) {
      this.value(value.canonical()); // a structure whose internals depend on history (the VRAM allocator's heaps)
    } else if (value instanceof PageTable) {
      this.text("[");
      let first = true;
      let run = "";
      value.forEach((vpn, kind, folio, index) => {
        // The keys of {kind, folio, index} in sorted order, as canonical() sorts them.
        run += `${first ? "" : ","}[${vpn},{"folio":${folio},"index":${index},"kind":"${kind}"}]`;
        first = false;
        if (run.length >= 1 << 16) {
          this.text(run);
          run = "";
        }
      });
      this.text(run);
      this.text("]");
    } else if (value instanceof Map) {
      this.text("[");
      sortedKeys(value).forEach((key, i) => {
        this.text(i === 0 ? "[" : ",[");
        this.value(key);
        this.text(",");
        this.value(value.get(key));
        this.text("]");
      });
      this.text("]");
    } else if (Array.isArray(value)) {
      this.text("[");
      value.forEach((item, i) => {
        if (i > 0) this.text(",");
        this.value(item);
      });
      this.text("]");
    } else if (value !== null && typeof value === "object") {
      this.text("{");
      let first = true;
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(value).sort()) {
        const v = record[key];
        if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
        this.text(`${first ? "" : ","}${JSON.stringify(key)}:`);
        this.value(v);
        first = false;
      }
      this.text("}");
    } else if (value === undefined || typeof value === "function" || typeof value === "symbol") {
      this.text("null"); // where JSON.stringify writes such a value at all: in an array
    } else {
      this.text(JSON.stringify(value));
    }
  }
}

/**
 * `[id, fields]` of one folio as CanonicalWriter.value would write FolioTable.fields(id) (keys in
 * sorted order), without building the object: 4 M folios took ~20 s the general way.
 * test/digest.test.ts holds it to the general path, byte for byte.
 */
function folioJson(t: FolioTable, id: number): string {
  const pages = 1 << t.order(id);
  let mapcounts = "";
  let versions = "";
  for (let i = 0; i < pages; i++) {
    mapcounts += (i === 0 ? "" : ",") + String(t.pageMapcount(id, i));
    versions += (i === 0 ? "" : ",") + String(t.version(id, i));
  }
  return `[${id},{"freed":false,"id":${id},"lockOwner":${t.lockOwner(id)},"mapcount":${t.mapcount(id)},"memory":"${t.memory(id)}","order":${t.order(id)},"pageMapcount":[${mapcounts}],"pagemap":${t.pagemap(id)},"pfn":${t.pfn(id)},"pincount":${t.pincount(id)},"refcount":${t.refcount(id)},"versions":[${versions}],"zdd":${t.zdd(id)}}]`;
}

/** An object that gives its own canonical form for the digest. */
function hasCanonicalForm(value: unknown): value is { canonical(): unknown } {
  return value !== null && typeof value === "object" && typeof (value as { canonical?: unknown }).canonical === "function";
}

function sortedKeys(map: Map<unknown, unknown>): unknown[] {
  return [...map.keys()].sort((a, b) => ((a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0));
}

/** "sha256:…" of the canonical state: what run.json records and `pagesim verify` recomputes. */
export function stateDigest(state: ModelState): string {
  const hash = createHash("sha256");
  const out = new CanonicalWriter(hash);
  // Map by Map, entry by entry, as the digest has always been fed.
  for (const key of Object.keys(state).sort()) {
    out.text(key);
    const value = (state as unknown as Record<string, unknown>)[key];
    if (value instanceof FolioTable) {
      for (const id of value.ids()) out.text(folioJson(value, id));
    } else if (value instanceof Map) {
      for (const k of sortedKeys(value)) {
        out.text("[");
        out.value(k);
        out.text(",");
        out.value(value.get(k));
        out.text("]");
      }
    } else {
      out.value(value);
    }
  }
  out.flush();
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
