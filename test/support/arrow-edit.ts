import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tableFromIPC, tableToIPC } from "apache-arrow";
import { readEventRows, rowChecksum } from "../../src/record/reader.ts";
import { COLUMN_INDEX } from "../../src/record/schema.ts";

/** Rewrites a run directory's events.arrow with `edit` applied to the row whose seq is `seq` (column arrays changed in place). */
export async function editArrowRow(dir: string, edit: (cols: (name: keyof typeof COLUMN_INDEX) => Int32Array, i: number) => void, seq: number): Promise<void> {
  const path = join(dir, "events.arrow");
  const table = tableFromIPC(readFileSync(path));
  let base = 0;
  for (const batch of table.batches) {
    if (seq < base + batch.numRows) {
      const i = seq - base;
      edit((name) => {
        const data = batch.getChildAt(COLUMN_INDEX[name])!.data[0]!;
        const v = data.values as Int32Array | BigInt64Array;
        return v instanceof BigInt64Array ? new Int32Array(v.buffer, v.byteOffset, v.length * 2) : (v as Int32Array);
      }, i);
      break;
    }
    base += batch.numRows;
  }
  writeFileSync(path, tableToIPC(table, "file"));
}

/**
 * Rewrites a run directory's events.arrow without the row whose seq is `seq`, as a forger would:
 * every later row is renumbered (seq − 1) and re-signed, so the log has no gap and every checksum
 * matches; only what the missing event did is gone.
 */
export async function dropArrowRow(dir: string, seq: number): Promise<void> {
  const path = join(dir, "events.arrow");
  const resign = new Map<number, number>(); // old seq → the checksum of the row renumbered
  for await (const row of readEventRows(path)) if (row.seq > seq) resign.set(row.seq, rowChecksum({ ...row.values, seq: row.seq - 1 }));
  const table = tableFromIPC(readFileSync(path));
  const kept = table.slice(0, seq).concat(table.slice(seq + 1));
  for (const batch of kept.batches) {
    // A slice's value arrays already start at its first row (its offset is for the null bitmaps).
    const seqs = batch.getChildAt(COLUMN_INDEX.seq)!.data[0]!.values as unknown as BigInt64Array;
    const checks = batch.getChildAt(COLUMN_INDEX.check)!.data[0]!.values as unknown as Uint32Array;
    for (let i = 0; i < batch.numRows; i++) {
      const old = Number(seqs[i]!);
      if (old <= seq) continue;
      seqs[i] = BigInt(old - 1);
      checks[i] = resign.get(old)!;
    }
  }
  writeFileSync(path, tableToIPC(kept, "file"));
}
