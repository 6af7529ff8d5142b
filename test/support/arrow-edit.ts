import { join } from "node:path";
import { EXEC_CONTEXTS } from "../../src/engine/index.ts";
import { ArrowEventWriter } from "../../src/record/arrow-file.ts";
import { EventBatch, hashKey } from "../../src/record/batch.ts";
import { readEventRows, rowChecksum, type EventRow } from "../../src/record/reader.ts";
import { COLUMNS, EVENT_KINDS, MEMBER_OF_KIND } from "../../src/record/schema.ts";

/**
 * Appends a decoded row to a batch as the recorder lays it out, with the checksum given (so a
 * test can keep a row's old checksum after changing its values, as a careless forger would).
 */
function appendRow(b: EventBatch, values: EventRow["values"], check: number): void {
  const r = b.rows;
  const i64 = (words: Int32Array, at: number, n: number) => {
    words[2 * at] = n >>> 0;
    words[2 * at + 1] = Math.floor(n / 4294967296) | 0;
  };
  const kindIndex = EVENT_KINDS.indexOf(values.kind as string);
  i64(b.seq, r, values.seq as number);
  i64(b.tNs, r, values.t_ns as number);
  b.kind[r] = kindIndex;
  b.thread[r] = values.thread as number;
  b.ctx[r] = EXEC_CONTEXTS.indexOf(values.ctx as (typeof EXEC_CONTEXTS)[number]);
  const typeId = MEMBER_OF_KIND[kindIndex]!;
  const m = b.members[typeId]!;
  const j = m.rows;
  if (j === m.capacity) m.grow();
  i64(m.seq, j, values.seq as number);
  m.member.columns.forEach((col, k) => {
    const def = COLUMNS[col]!;
    const f = m.fields[k]!;
    const v = values[def.name];
    if (v === undefined) {
      f.nulls++;
      return;
    }
    if (f.validity !== null) f.validity[j >> 3]! |= 1 << (j & 7);
    switch (def.type) {
      case "i64":
        return i64(f.values as Int32Array, j, v as number);
      case "bool":
        if (v === true) f.values[j >> 3]! |= 1 << (j & 7);
        return;
      case "enum":
        f.values[j] = (def as { values: readonly string[] }).values.indexOf(v as string);
        return;
      case "text":
        m.setText(k, hashKey(col), j, v as string, 0);
        return;
      case "i64list":
        m.setI64List(k, hashKey(col), j, v as number[], 0);
        return;
      default:
        f.values[j] = v as number;
    }
  });
  b.typeIds[r] = typeId;
  b.offsets[r] = j;
  m.rows = j + 1;
  b.check[r] = check;
  b.rows = r + 1;
}

/** Rewrites a run directory's events.arrow from rows (each with the checksum to store). */
function rewrite(dir: string, rows: readonly { values: EventRow["values"]; check: number }[]): void {
  const writer = new ArrowEventWriter(join(dir, "events.arrow"), { fsync: false });
  const batch = new EventBatch(65536);
  for (const { values, check } of rows) {
    appendRow(batch, values, check);
    if (batch.full) {
      writer.write(batch);
      batch.reset();
    }
  }
  if (batch.rows > 0) writer.write(batch);
  writer.close();
}

/**
 * Rewrites a run directory's events.arrow with `edit` applied to the values of the row whose seq
 * is `seq`. The row keeps its recorded checksum (verify names it as altered) unless `resign`,
 * which stores the checksum of its new values, as a forger would.
 */
export async function editArrowRow(dir: string, seq: number, edit: (values: EventRow["values"]) => void, options: { resign?: boolean } = {}): Promise<void> {
  const rows: { values: EventRow["values"]; check: number }[] = [];
  for await (const row of readEventRows(join(dir, "events.arrow"))) {
    if (row.seq !== seq) {
      rows.push({ values: row.values, check: row.recordedCheck });
      continue;
    }
    const values = { ...row.values };
    edit(values);
    rows.push({ values, check: options.resign === true ? rowChecksum(values) : row.recordedCheck });
  }
  rewrite(dir, rows);
}

/**
 * Rewrites a run directory's events.arrow without the row whose seq is `seq`, as a forger would:
 * every later row is renumbered (seq − 1) and re-signed, so the log has no gap and every checksum
 * matches; only what the missing event did is gone.
 */
export async function dropArrowRow(dir: string, seq: number): Promise<void> {
  const rows: { values: EventRow["values"]; check: number }[] = [];
  for await (const row of readEventRows(join(dir, "events.arrow"))) {
    if (row.seq < seq) rows.push({ values: row.values, check: row.recordedCheck });
    else if (row.seq > seq) {
      const values = { ...row.values, seq: row.seq - 1 };
      rows.push({ values, check: rowChecksum(values) });
    }
  }
  rewrite(dir, rows);
}
