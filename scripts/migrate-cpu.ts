/**
 * Prints each migrating GPU fault's "migrate CPU time" as Xe's GT statistics give it: the migrate
 * stage less the device copy (svm_*_migrate_us − svm_*_device_copy_us), and what the model puts
 * in it: the BO allocation, the DMA mapping steps and the rest (migrate_vma_* and drm_pagemap's
 * own work). docs/validation.md ("The 2 MiB migrate CPU time") explains why this is the figure
 * M. Brost's IOVA series reported (552 → 225 µs).
 *
 *   npx tsx scripts/migrate-cpu.ts WORKLOAD.yaml [--platform NAME] [--set KEY=VALUE]...
 */
import { parseArgs } from "node:util";
import { loadWorkload, parseOverrideValue, type Overrides } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { platform: { type: "string" }, set: { type: "string", multiple: true } } });
if (positionals.length !== 1) {
  process.stderr.write("usage: npx tsx scripts/migrate-cpu.ts WORKLOAD.yaml [--platform NAME] [--set KEY=VALUE]...\n");
  process.exit(2);
}
const overrides: Overrides = values.platform === undefined ? {} : { platform: values.platform };
for (const kv of values.set ?? []) {
  const eq = kv.indexOf("=");
  if (eq <= 0) {
    process.stderr.write(`--set ${kv}: expected KEY=VALUE\n`);
    process.exit(2);
  }
  overrides[kv.slice(0, eq)] = parseOverrideValue(kv.slice(eq + 1));
}

const file = positionals[0]!;
const { report, world } = runWorkload(loadWorkload(file, overrides));
const profile = world.profile;
if (profile === null) {
  process.stderr.write(`${file}: no platform, so no GPU fault stages\n`);
  process.exit(2);
}
const us = (ns: number): string => (ns / 1000).toFixed(1).padStart(7);
const migrating = report.gpuFaults.filter((f) => f.migrateNs > 0);
const stats = report.platformStats!;
const dmaNs = stats.dmaMapNs + stats.dmaUnmapNs;
process.stdout.write(`${file} on ${profile.name}, IOMMU ${profile.dma.iommu}: ${migrating.length} migrating GPU fault(s), µs\n`);
process.stdout.write(`  ${"thread".padEnd(8)} migrate    copy  migrate CPU (= migrate − copy)\n`);
for (const f of migrating) process.stdout.write(`  ${f.thread.padEnd(8)} ${us(f.migrateNs)} ${us(f.copyNs)}  ${us(f.migrateNs - f.copyNs)}\n`);
if (migrating.length === 1) {
  const cpuNs = migrating[0]!.migrateNs - migrating[0]!.copyNs;
  const allocNs = profile.vram.allocNs;
  process.stdout.write(
    `  of which: BO allocation ${us(allocNs).trim()}, DMA ${us(dmaNs).trim()} (map ${us(stats.dmaMapNs).trim()}, unmap ${us(stats.dmaUnmapNs).trim()}; ` +
      `${stats.dmaMaps} dma_map_page, ${stats.dmaIovaAllocs} IOVA ranges, ${stats.dmaIovaLinks} links), migrate_vma_* and the rest ${us(cpuNs - allocNs - dmaNs).trim()}\n`,
  );
}
