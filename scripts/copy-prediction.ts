/**
 * Prints the copy engine's time for one 2 MiB copy into one contiguous VRAM run, as the model
 * charges it (src/platform/copy-engine.ts): from 512 separate 4 KiB system pages (the
 * calibration's case: 512 descriptors) and from one 2 MiB system folio (one descriptor), on each
 * bundled platform profile, with the link's bandwidth and the parts of each job.
 * docs/validation.md ("The copy of a 2 MiB system folio") records the output.
 *
 *   npx tsx scripts/copy-prediction.ts [PROFILE.yaml]...
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "../src/engine/index.ts";
import { contiguousRuns, CopyEngine, type CopyPage } from "../src/platform/copy-engine.ts";
import type { WorldState } from "../src/platform/events.ts";
import { loadPlatform } from "../src/workload/platform-schema.ts";

const dir = "workloads/platforms";
const files = process.argv.length > 2 ? process.argv.slice(2) : readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort().map((f) => join(dir, f));
const PAGES = 512;
const pages = (systemOrder: 0 | 9): CopyPage[] => Array.from({ length: PAGES }, (_, i) => ({ pfn: i, systemOrder, systemHead: systemOrder === 0 || i === 0 }));
const us = (ns: number): string => (ns / 1000).toFixed(1);

process.stdout.write("one 2 MiB copy to one contiguous VRAM run, µs (job latency + descriptors × descriptorNs + bytes / bandwidth)\n");
process.stdout.write(`${"profile".padEnd(28)} ${"link GB/s".padStart(9)} ${"descr. ns".padStart(9)} ${"512×4KiB".padStart(9)} ${"1×2MiB".padStart(8)}  2 MiB at the 1×2MiB time\n`);
for (const file of files) {
  const profile = loadPlatform(file);
  const engine = new CopyEngine(new Engine(), profile.copy, () => {}, { copy: null } as unknown as WorldState);
  const time = (order: 0 | 9): number => engine.jobsFor(contiguousRuns(pages(order))).reduce((sum, j) => sum + engine.jobNs(j.bytes, j.descriptors), 0);
  const small = time(0);
  const huge = time(9);
  const gbps = (PAGES * 4096) / huge;
  process.stdout.write(
    `${profile.name.padEnd(28)} ${(profile.copy.bandwidthBytesPerSec / 1e9).toFixed(3).padStart(9)} ${profile.copy.descriptorNs.toFixed(3).padStart(9)} ${us(small).padStart(9)} ${us(huge).padStart(8)}  ${gbps.toFixed(2)} GB/s\n`,
  );
}
