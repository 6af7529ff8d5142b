/**
 * One workload run in its own process, for bench/scaling.ts: loads the file, runs it in-process
 * with the null sink (no recorder attached, as `pagesim run --sink none`), and prints one JSON
 * line:
 *   events     events numbered by the run's log (model and engine events), as report.events
 *   wallMs     the run only: WorkloadRun's construction (the mappings' set-up) and advance();
 *              loading and parsing the file, and the final report (invariant checks), are not timed
 *   loadMs     loading the file (parse, validation, pattern expansion), for reference
 *   maxRssMb   peak RSS of the process (process.resourceUsage().maxRSS), measured before the
 *              report
 *   simEndNs   simulated time at the end
 *   problems   broken invariants, lost writes, kernel bugs and failed steps: 0 for a valid figure
 *              (notes: the first three of them)
 *
 *   node dist/bench/scaling-child.js WORKLOAD.yaml
 */
import { loadWorkload } from "../src/workload/load.ts";
import { WorkloadRun } from "../src/workload/run.ts";

const file = process.argv[2];
if (file === undefined) throw new Error("usage: scaling-child WORKLOAD.yaml");

const loadStart = performance.now();
const workload = loadWorkload(file);
const loadMs = performance.now() - loadStart;

const start = performance.now();
const run = new WorkloadRun(workload);
run.advance();
const wallMs = performance.now() - start;
const maxRssMb = process.resourceUsage().maxRSS / 1024;
const simEndNs = run.world.engine.nowNs;

const report = run.report();
const events = report.events;
const notes = [...report.invariants, ...report.lostWrites, ...report.kernelBugs];
// An access step succeeds with "ok vN"; every other op with "0".
const failed = report.steps.filter((s) => (["read", "write", "atomic"].includes(s.op) ? !s.ret.startsWith("ok") : s.ret !== "0"));
if (failed.length > 0) notes.push(`${failed.length} steps failed, e.g. ${failed[0]!.thread}[${failed[0]!.step}] ${failed[0]!.op} -> ${failed[0]!.ret}`);
console.log(JSON.stringify({ events, wallMs, loadMs, maxRssMb, simEndNs, problems: notes.length, notes: notes.slice(0, 3) }));
