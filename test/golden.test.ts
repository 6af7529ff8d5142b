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
  readGolden,
  REWRITE_COMMAND,
} from "./support/golden.ts";

// "Behaviour unchanged" is this test: every bundled workload, run at its default seed, must end
// with the digest, event count, end time and sweep metrics its golden file holds.
const REASON = `If the change is intended, rewrite them with \`${REWRITE_COMMAND}\` and say in the commit why each value moved (it prints old → new); a rewrite needs a reason.`;

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
