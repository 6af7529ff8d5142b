// Rewrites test/golden/ on purpose: `npm run golden`. Runs every bundled workload at its default
// seed, writes its golden file, removes the files of workloads no longer bundled, and prints every
// value that moved (old → new) so the commit can say why.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import {
  bundledWorkloads,
  formatGolden,
  GOLDEN_DIR,
  goldenChanges,
  goldenLabel,
  goldenNames,
  goldenPath,
  goldenRecord,
  readGolden,
} from "../test/support/golden.ts";

mkdirSync(GOLDEN_DIR, { recursive: true });
const bundled = bundledWorkloads();
let touched = 0;
for (const name of bundled) {
  const startMs = performance.now();
  const record = goldenRecord(name);
  const text = formatGolden(record);
  const path = goldenPath(name);
  const took = `(${((performance.now() - startMs) / 1000).toFixed(2)} s)`;
  if (!existsSync(path)) {
    writeFileSync(path, text);
    console.log(`${goldenLabel(name)}: new ${took}`);
    touched++;
    continue;
  }
  if (readFileSync(path, "utf8") === text) {
    console.log(`${goldenLabel(name)}: unchanged ${took}`);
    continue;
  }
  let changes: ReturnType<typeof goldenChanges> | string;
  try {
    changes = goldenChanges(readGolden(name), record);
  } catch (error) {
    changes = (error as Error).message;
  }
  writeFileSync(path, text);
  touched++;
  console.log(`${goldenLabel(name)}: changed ${took}`);
  if (typeof changes === "string") {
    console.log(`  the old file could not be read: ${changes}`);
    continue;
  }
  // Same values, different text: the file was edited by hand or written by an older formatter.
  if (changes.length === 0) console.log("  layout only (same values)");
  for (const c of changes) console.log(`  ${c.value}: ${c.expected} → ${c.found}`);
}
for (const name of goldenNames().filter((n) => !bundled.includes(n))) {
  rmSync(goldenPath(name));
  console.log(`${goldenLabel(name)}: removed (workloads/${name}.yaml is no longer bundled)`);
  touched++;
}
console.log(touched === 0 ? "golden files unchanged" : `${touched} golden file(s) written or removed: say why in the commit message`);
