import type { RunManifest } from "../record/run-dir.ts";
import type { VerifyResult } from "../record/verify.ts";
import type { RunReport } from "../workload/run.ts";

const fmtNs = (ns: number): string => (ns >= 1e6 ? `${(ns / 1e6).toFixed(3)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(1)} us` : `${ns} ns`);

/** The human summary of one workload run. */
export function formatRunReport(r: RunReport, file: string): string {
  const lines = [`${file}: ${r.description}`, `seed ${r.seed}; ${r.events} events; simulated ${fmtNs(r.endNs)}`, "", "steps:"];
  for (const s of [...r.steps].sort((a, b) => a.startNs - b.startNs || a.thread.localeCompare(b.thread) || a.step - b.step)) {
    const faults = s.faults !== undefined ? `, ${s.faults} faults` : "";
    lines.push(`  ${fmtNs(s.startNs).padStart(12)}  ${s.thread}[${s.step}] ${s.op} -> ${s.ret} (${fmtNs(s.endNs - s.startNs)}${faults})`);
  }
  if (r.gpuFaults.length > 0) lines.push("", ...formatGpuFaults(r));
  if (r.platformStats !== null) {
    const p = r.platformStats;
    const delays = p.releaseDelaysNs.length === 0 ? "none" : `${p.releaseDelaysNs.length}, max ${fmtNs(Math.max(...p.releaseDelaysNs))}`;
    lines.push(
      `platform: ${p.gpuAccesses} GPU accesses; DMA ${p.dmaMaps} maps${p.dmaIovaAllocs > 0 ? ` + ${p.dmaIovaAllocs} IOVA ranges, ${p.dmaIovaLinks} links` : ""} (${fmtNs(p.dmaMapNs)} map, ${fmtNs(p.dmaUnmapNs)} unmap); copy engine ${p.copyJobs} jobs, ${(p.copyBytes / 1048576).toFixed(1)} MiB, ${(100 * p.copyUtilisation).toFixed(1)} % busy`,
      `  VRAM ${p.vramFreePages} pages free, fragmentation ${p.vramFragmentation.toFixed(3)}, ${p.vramEvictions} evictions; IRQ-context puts ${p.irqPuts}; release delays (detach → VRAM returned): ${delays}`,
    );
  }
  if (r.policy !== null) {
    const w = r.work;
    lines.push(
      `policy ${r.policy}: GPU ${w.gpuAccesses} accesses done, ${w.gpuFailures} failed; CPU ${w.cpuAccesses} done, ${w.cpuFailures} failed; CPU held off ${fmtNs(w.cpuSpinNs)} spinning, ${fmtNs(w.cpuSleepNs + (r.platformStats?.notifierBlockNs ?? 0))} asleep`,
      `  migrations: ${w.migrationsToDevice} to VRAM, ${w.migrationsToSystem} back, ${w.pingPongs} of them ping-pongs (no GPU work in between); longest stretch without progress ${fmtNs(w.noProgressNs)} (docs/metrics.md)`,
    );
  }
  lines.push("", `pages: ${Object.entries(r.pageCounts).map(([k, v]) => `${v} ${k}`).join(", ") || "(no mappings)"}`);
  if (r.contextViolations.length > 0) {
    lines.push(`context violations (sleeping in atomic context): ${r.contextViolations.length}`);
    for (const v of r.contextViolations.slice(0, 5)) lines.push(`  ${fmtNs(v.tNs)} ${v.op} in ${v.ctx} by ${v.thread}`);
  }
  if (Object.keys(r.faults).length > 0) {
    lines.push(`fault points: ${Object.entries(r.faults).map(([k, v]) => `${k} ${v.injected}/${v.calls}`).join(", ")}`);
  }
  for (const b of r.kernelBugs) lines.push(`kernel bug reached: ${b}`);
  const broken = [...r.invariants, ...r.lostWrites];
  lines.push(broken.length === 0 ? "invariants: all hold; no write lost" : `INVARIANTS BROKEN (${broken.length}):`);
  for (const b of broken.slice(0, 20)) lines.push(`  ${b}`);
  if (r.failedSteps.length > 0) lines.push(`STEPS FAILED (returned other than their expect:) (${r.failedSteps.length}):`, ...r.failedSteps.slice(0, 20).map((f) => `  ${f}`));
  if (broken.length > 0 || r.failedSteps.length > 0) lines.push(`reproduce: npx pagesim run ${file} --seed ${r.seed}`);
  return lines.join("\n");
}

/** The run's summary followed by where its run directory and files are. */
export function formatRecordedRun(r: RunReport, m: RunManifest, dir: string, file: string): string {
  const lines = [formatRunReport(r, file), ""];
  if (m.status === "interrupted") lines.push(`INTERRUPTED at ${fmtNs(m.endNs)} simulated, after ${m.events} events: the files hold everything up to there`);
  if (m.sqlite === "pending") lines.push(`events.sqlite is not filled yet: npx pagesim sqlite ${dir} fills it`);
  lines.push(`run directory: ${dir}`);
  for (const [name, f] of Object.entries(m.files)) lines.push(`  ${name}  ${(f.bytes / 1e6).toFixed(2)} MB`);
  lines.push(`  run.json  (digest ${m.digest.slice(0, 19)}…)`, `check it: npx pagesim verify ${dir}`);
  return lines.join("\n");
}

/** verify's verdict: all holds, or the first event where the log and the run disagree. */
export function formatVerify(v: VerifyResult, dir: string): string {
  const head = [`${dir}: replayed ${v.events} events, invariants checked ${v.invariantChecks} times`];
  if (v.sqlite?.filled === true) head.push("filled events.sqlite from events.arrow first (run.json said its fill was pending)");
  if (v.divergence === null) {
    const sqlite = v.sqlite === null ? "" : `; events.sqlite holds the same ${v.sqlite.rows} rows, every column, and passes SQLite's integrity check`;
    return [...head, `OK: every event applies, every recorded refcount matches, the final state matches run.json (${v.digest.replayed.slice(0, 19)}…)${sqlite}`].join("\n");
  }
  const d = v.divergence;
  const lines = [...head, `DIVERGES ${d.seq >= 0 ? `at event seq ${d.seq} (${d.kind})` : `in ${d.kind}`}: ${d.what}`];
  if (d.expected !== undefined) lines.push(`  expected: ${d.expected}`);
  if (d.found !== undefined) lines.push(`  found:    ${d.found}`);
  return lines.join("\n");
}

const us = (ns: number): string => (ns / 1000).toFixed(1);

/** Every GPU fault's stages in µs, or their distribution when there are many. */
function formatGpuFaults(r: RunReport): string[] {
  const faults = r.gpuFaults;
  const head = `GPU faults (${faults.length}, platform ${r.platform}), µs:`;
  const columns = "total  migrate  copy  get_pages  bind";
  if (faults.length <= 10) {
    const lines = [head, `  ${"thread".padEnd(10)} ${"at".padStart(12)}  access  ${columns}  ret`];
    for (const f of faults) {
      lines.push(`  ${f.thread.padEnd(10)} ${fmtNs(f.startNs).padStart(12)}  ${f.access.padEnd(6)}  ${[f.totalNs, f.migrateNs, f.copyNs, f.getPagesNs, f.bindNs].map(us).join("  ")}  ${f.ret}${f.attempts > 1 ? ` (${f.attempts} attempts, timeslice ${f.askedTimesliceMs} ms asked, ${f.stampedTimesliceMs < 0 ? "none stamped" : `${f.stampedTimesliceMs} ms stamped`})` : ""}`);
    }
    return lines;
  }
  const pct = (xs: number[], q: number): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  };
  const lines = [head, `  ${"".padEnd(6)} ${columns}`];
  for (const [name, q] of [["p50", 0.5], ["p90", 0.9], ["p99", 0.99], ["max", 1]] as const) {
    const row = [faults.map((f) => f.totalNs), faults.map((f) => f.migrateNs), faults.map((f) => f.copyNs), faults.map((f) => f.getPagesNs), faults.map((f) => f.bindNs)].map((xs) => us(pct(xs, q)));
    lines.push(`  ${name.padEnd(6)} ${row.join("  ")}`);
  }
  const failed = faults.filter((f) => f.ret !== "0").length;
  if (failed > 0) lines.push(`  ${failed} faults returned an error`);
  return lines;
}
