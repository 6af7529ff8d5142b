import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tableFromIPC, tableToIPC } from "apache-arrow";
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
