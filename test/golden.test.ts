import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  bundledWorkloads,
  formatGolden,
  goldenChanges,
  goldenLabel,
  goldenNames,
  goldenPath,
  goldenRecord,
  parseGolden,
  readGolden,
  REWRITE_COMMAND,
} from "./support/golden.ts";

// "Behaviour unchanged" is this test: every bundled workload, run at its default seed, must end
// with the digest, event count, end time and sweep metrics its golden file holds.
const REASON = `If the change is intended, rewrite them with \`${REWRITE_COMMAND}\` and say in the commit why each value moved (it prints old → new); a rewrite needs a reason.`;

/** The next double above x (x > 0): a change in the last bit. */
function nextUp(x: number): number {
  const bits = new BigInt64Array(new Float64Array([x]).buffer);
  bits[0]! += 1n;
  return new Float64Array(bits.buffer)[0]!;
}

const bundled = bundledWorkloads();
const golden = goldenNames();

describe("golden files (test/golden/)", () => {
  it("there is one golden file per bundled workload, and none for a workload no longer bundled", () => {
    const missing = bundled.filter((n) => !golden.includes(n)).map((n) => `workloads/${n}.yaml has no ${goldenLabel(n)}`);
    const stale = golden.filter((n) => !bundled.includes(n)).map((n) => `${goldenLabel(n)} is for workloads/${n}.yaml, which is not bundled`);
    expect(bundled.length).toBeGreaterThan(0);
    const problems = [...missing, ...stale];
    if (problems.length > 0) expect.fail(`${problems.join("; ")}.\nAdding or removing a bundled workload needs \`${REWRITE_COMMAND}\` (it writes and removes the files); say why in the commit.`);
  });

  it("the file format reads back every value exactly, and a move in the last bit is a change", () => {
    const metrics = { third: 1 / 3, tiny: 5e-324, big: 2 ** 53 + 2, not_a_number: NaN, infinite: Infinity, negative_zero: -0 };
    const record = { workload: "workloads/x.yaml", seed: 1, digest: "sha256:00", events: 3, endNs: 0.1 + 0.2, metrics };
    const back = parseGolden(formatGolden(record), "x.json");
    expect(goldenChanges(record, back)).toEqual([]);
    expect([back.endNs, back.metrics.third, back.metrics.tiny, back.metrics.big]).toEqual([0.1 + 0.2, 1 / 3, 5e-324, 2 ** 53 + 2]);
    expect([back.metrics.negative_zero, back.metrics.not_a_number, back.metrics.infinite]).toEqual([-0, NaN, Infinity]); // toEqual tells -0 from 0
    const nudged = { ...record, endNs: nextUp(record.endNs), metrics: { ...metrics, third: nextUp(metrics.third), negative_zero: 0 } };
    expect(goldenChanges(back, nudged).map((c) => [c.value, c.expected, c.found])).toEqual([
      ["endNs", "0.30000000000000004", "0.3000000000000001"],
      ["metrics.negative_zero", '"-0"', "0"],
      ["metrics.third", "0.3333333333333333", "0.33333333333333337"],
    ]);
  });

  it.each(bundled.filter((n) => golden.includes(n)))("%s: digest, events, end time and metrics are as the golden file says", (name) => {
    const found = goldenRecord(name);
    const changes = goldenChanges(readGolden(name), found);
    const lines = changes.map((c) => `  ${c.value}: expected ${c.expected}, found ${c.found}`);
    const message = `workloads/${name}.yaml (seed ${found.seed}) differs from ${goldenLabel(name)}:\n${lines.join("\n")}\n${REASON}\n`;
    if (changes.length > 0) expect.fail(message);
    // Same values: the file must also be exactly what the rewrite writes (no hand edits to its layout).
    expect(readFileSync(goldenPath(name), "utf8"), `${goldenLabel(name)} is not as \`${REWRITE_COMMAND}\` writes it`).toBe(formatGolden(found));
  });
});
