/**
 * `npm run bench:goals`: every benchmark goal of issue #16, each measured by its own script in
 * its own process (their full tables printed as they finish), then one Markdown table: goal,
 * figure, target, met. Medians of --runs (default 5) interleaved runs; every ratio is against a
 * baseline measured in the same run.
 *
 *   goal 1, 2  bench/record-marginal.ts  Arrow against the null sink, marginal (long run − short
 *              run) cost per event on the ping-pong, refault and streaming workloads, with and
 *              without --no-fsync, and the whole-process ratio; events/s marginal on the ping-pong
 *   goal 3     bench/bytes-per-event.ts  bytes per event of the Arrow log over every bundled
 *              workload; each file opened with apache-arrow's tableFromIPC, rows = run.json's
 *   goal 4, 5  bench/main-job.ts         the main job against --against REF's build (default: main
 *              just before #16's first merge); --jobs 2 against --jobs 1 on the same sweep
 *   goal 6     bench/sqlite.ts           the SQLite sink against raw better-sqlite3 inserts
 *              bench/rss-vs-log.ts       peak RSS with a 4× longer log
 *
 *   node dist/bench/goals16.js [--quick] [--runs N] [--against REF]
 *
 * --quick: one run of each, smaller workloads, one shard of the main job: a smoke check that every
 * goal is measured, not figures to quote.
 */
import { spawnSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { option } from "./args.ts";
import { projectFile } from "./project-file.ts";

/** main (first parent) just before #16's first merge (6000521, the golden files): "today" in the issue. */
const BEFORE_16 = "221c416";

const quick = process.argv.includes("--quick");
const runs = option("runs", quick ? 1 : 5);
const againstAt = process.argv.indexOf("--against");
const against = againstAt >= 0 ? process.argv[againstAt + 1]! : BEFORE_16;

interface Row {
  goal: string;
  figure: string;
  target: string;
  met: string;
}

const rows: Row[] = [];
const failures: string[] = [];

/** Runs dist/bench/SCRIPT, echoes its output and returns the JSON of its last line (null if it failed). */
function measure(script: string, args: string[]): unknown {
  console.log(`\n## ${script} ${args.join(" ")}\n`);
  const r = spawnSync(process.execPath, [fileURLToPath(new URL(`./${script}`, import.meta.url)), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 });
  const lines = r.stdout.trimEnd().split("\n");
  const json = lines.at(-1)?.startsWith("{") || lines.at(-1)?.startsWith("[") ? lines.pop()! : null;
  console.log(lines.join("\n"));
  if (r.status !== 0) failures.push(`${script} exited ${r.status ?? r.signal}`);
  return json === null ? null : JSON.parse(json);
}

const times = (x: number) => `${x.toFixed(2)}×`;
const verdict = (ok: boolean) => (ok ? "met" : "**not met**");
const missing = (goal: string, target: string, script: string): void => {
  rows.push({ goal, figure: `not measured (${script} failed)`, target, met: "—" });
};

interface Marginal {
  workload: string;
  config: string;
  marginalNs: number;
  xNoneMarginal: number;
  xNoneProcess: number;
}

function recorderGoals(): void {
  const results = measure("record-marginal.js", [...(quick ? ["--quick"] : []), "--runs", String(runs), "--json"]) as Marginal[] | null;
  if (results === null) return missing("1, 2: Arrow against the null sink", "≤ 1.3×", "record-marginal");
  const get = (w: string, c: string) => results.find((r) => r.workload === w && r.config === c)!;
  for (const w of ["ping-pong", "refault", "streaming"]) {
    const none = get(w, "none");
    const arrow = get(w, "arrow");
    const noFsync = get(w, "arrow no-fsync");
    // A long run no slower than the short one is noise (a loaded machine), not a figure.
    const judge = (c: Marginal) => (c.marginalNs <= 0 || none.marginalNs <= 0 ? "— (noise: marginal ≤ 0)" : verdict(c.xNoneMarginal <= 1.3));
    rows.push({ goal: `1. Arrow × null sink, marginal (warm), ${w}`, figure: times(arrow.xNoneMarginal), target: "≤ 1.3×", met: judge(arrow) });
    rows.push({ goal: `1. Arrow --no-fsync × null sink, marginal (warm), ${w}`, figure: times(noFsync.xNoneMarginal), target: "≤ 1.3×", met: judge(noFsync) });
    rows.push({ goal: `1. Arrow × null sink, whole process (long run), ${w}`, figure: `${times(arrow.xNoneProcess)} (--no-fsync ${times(noFsync.xNoneProcess)})`, target: "reported", met: "—" });
  }
  const mps = (c: Marginal) => 1e3 / c.marginalNs; // M events/s
  const arrow = mps(get("ping-pong", "arrow"));
  const none = mps(get("ping-pong", "none"));
  const noFsync = mps(get("ping-pong", "arrow no-fsync"));
  const noise = "— (noise: marginal ≤ 0)";
  rows.push({ goal: "2. every event recorded to Arrow, events/s marginal, ping-pong", figure: `${arrow.toFixed(2)} M/s (--no-fsync ${noFsync.toFixed(2)} M/s)`, target: "≥ 4 M/s (stretch 5 M/s)", met: arrow <= 0 ? noise : arrow >= 5 ? "met, stretch met" : verdict(arrow >= 4) });
  rows.push({ goal: "2. null sink, events/s marginal, ping-pong", figure: `${none.toFixed(2)} M/s`, target: "≥ 6 M/s", met: none <= 0 ? noise : verdict(none >= 6) });
}

function bytesGoal(): void {
  const r = measure("bytes-per-event.js", ["--json"]) as { workloads: number; totalEvents: number; bytesPerEvent: number; meanBytesPerEvent: number; allOpen: boolean } | null;
  if (r === null) return missing("3. bytes per event", "≤ 64", "bytes-per-event");
  const ok = r.bytesPerEvent <= 64 && r.meanBytesPerEvent <= 64;
  rows.push({ goal: `3. bytes per event on disk, ${r.workloads} bundled workloads`, figure: `${r.bytesPerEvent.toFixed(1)} B (total ÷ total); ${r.meanBytesPerEvent.toFixed(1)} B (mean of the workloads)`, target: "≤ 64 B", met: verdict(ok) });
  rows.push({ goal: "3. every file opens with apache-arrow's tableFromIPC, rows = run.json's events", figure: r.allOpen ? "yes" : "no", target: "yes", met: verdict(r.allOpen) });
}

function mainJobGoals(): void {
  const r = measure("main-job.js", [...(quick ? ["--quick"] : ["--runs", String(runs)]), "--against", against, "--json"]) as {
    runs: number;
    jobs2Ms: number;
    jobs1Ms: number;
    speedup: number;
    ceilingBefore: number | null;
    ceilingAfter: number | null;
    against: { name: string; ms: number; speedup: number };
  } | null;
  if (r === null) return missing("4, 5. the main job", "≥ 1.5×, ≥ 1.8×", "main-job");
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  rows.push({ goal: `4. the main job (${r.runs} runs, --jobs 2) against ${r.against.name}`, figure: `${times(r.against.speedup)} (${s(r.against.ms)} → ${s(r.jobs2Ms)})`, target: "≥ 1.5×", met: verdict(r.against.speedup >= 1.5) });
  const ceiling = r.ceilingBefore === null ? "" : `; two-core ceiling ${r.ceilingBefore.toFixed(2)}×/${r.ceilingAfter!.toFixed(2)}×`;
  rows.push({ goal: `5. sweep --jobs 2 against --jobs 1 (the default study, ${r.runs} runs)`, figure: `${times(r.speedup)} (${s(r.jobs1Ms)} → ${s(r.jobs2Ms)}${ceiling})`, target: "≥ 1.8×", met: verdict(r.speedup >= 1.8) });
}

function sqliteGoals(): void {
  const q = measure("sqlite.js", [quick ? "2" : "15", String(runs)]) as { rows: number; ratio: number } | null;
  if (q === null) missing("6. SQLite sink against raw better-sqlite3", "≥ 70 %", "sqlite");
  else rows.push({ goal: `6. SQLite sink against raw better-sqlite3, same rows and table (${q.rows.toLocaleString("en")} rows)`, figure: `${(100 * q.ratio).toFixed(1)} %`, target: "≥ 70 %", met: verdict(q.ratio >= 0.7) });
  const m = measure("rss-vs-log.js", ["--cycles", quick ? "2" : "14", "--runs", String(runs), "--json"]) as { rows: { events: number; maxRssMb: number }[]; ratio: number; marginalBytesPerEvent: number; flat: boolean } | null;
  if (m === null) return missing("6. peak RSS against log length", "flat", "rss-vs-log");
  const [a, b] = m.rows as [{ events: number; maxRssMb: number }, { events: number; maxRssMb: number }];
  const at = (x: { events: number; maxRssMb: number }) => `${x.maxRssMb.toFixed(0)} MB at ${(x.events / 1e6).toFixed(2)} M events`;
  rows.push({ goal: "6. peak RSS against log length (arrow + sqlite sinks)", figure: `${at(a)}, ${at(b)} (×${m.ratio.toFixed(2)}, ${m.marginalBytesPerEvent.toFixed(1)} B/event)`, target: "flat (4× the log: ≤ 1.25×)", met: verdict(m.flat) });
}

const root = dirname(projectFile("package.json", import.meta.url));
const head = spawnSync("git", ["describe", "--always", "--dirty"], { cwd: root, encoding: "utf8" }).stdout.trim();
const cpu = cpus();
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");
console.log(`# Issue #16 goals${quick ? " (QUICK: smoke figures, not to quote)" : ""}`);
console.log(`${new Date().toISOString()}; commit ${head}; ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores; node ${process.version}; load average ${load()}; median of ${runs} run${runs === 1 ? "" : "s"}`);
if (!quick && runs < 5) console.log(`note: --runs ${runs}: the issue asks for medians of at least 5`);
recorderGoals();
bytesGoal();
mainJobGoals();
sqliteGoals();
console.log(`\n## Issue #16 goals: summary${quick ? " (QUICK: one run each, smaller workloads; smoke figures, not to quote)" : ""}; load average at the end ${load()}\n`);
console.log("| goal | figure | target | met? |");
console.log("|---|---|---|---|");
for (const r of rows) console.log(`| ${r.goal} | ${r.figure} | ${r.target} | ${r.met} |`);
if (failures.length > 0) {
  console.log(`\nfailed: ${failures.join("; ")}`);
  process.exitCode = 1;
}
