import type { RunReport } from "../workload/run.ts";

const fmtNs = (ns: number): string => (ns >= 1e6 ? `${(ns / 1e6).toFixed(3)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(1)} us` : `${ns} ns`);

/** The human summary of one workload run. */
export function formatRunReport(r: RunReport, file: string): string {
  const lines = [`${file}: ${r.description}`, `seed ${r.seed}; ${r.events} events; simulated ${fmtNs(r.endNs)}`, "", "steps:"];
  for (const s of [...r.steps].sort((a, b) => a.startNs - b.startNs || a.thread.localeCompare(b.thread) || a.step - b.step)) {
    const faults = s.faults !== undefined ? `, ${s.faults} faults` : "";
    lines.push(`  ${fmtNs(s.startNs).padStart(12)}  ${s.thread}[${s.step}] ${s.op} -> ${s.ret} (${fmtNs(s.endNs - s.startNs)}${faults})`);
  }
  const counts: Record<string, number> = {};
  for (const p of r.placement) counts[p.where] = (counts[p.where] ?? 0) + 1;
  lines.push("", `pages: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ") || "(no mappings)"}`);
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
  if (broken.length > 0) lines.push(`reproduce: npx pagesim run ${file} --seed ${r.seed}`);
  return lines.join("\n");
}
