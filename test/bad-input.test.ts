import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { parseWorkload } from "../src/workload/load.ts";

// Issue #14 item 6: every bad input below gets exit status 2 and one sentence naming the file or
// flag, the place and what was expected; never a raw errno or a JavaScript message.

const root = fileURLToPath(new URL("..", import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const cli = join(root, "src", "cli.ts");

/** Runs the CLI (killed after 60 s: a hang is a failure, not a stuck test run). */
function pagesim(args: string[], cwd = root, nodeFlags: string[] = []) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [...nodeFlags, "--import", tsx, cli, ...args], { cwd, encoding: "utf8", timeout: 60_000, killSignal: "SIGKILL" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - started };
}

/** A raw errno, a JavaScript error name or message, or a stack frame. */
const RAW = /\bE[A-Z]{3,}\b|Error\b|Cannot read|undefined|\bat .*:\d+:\d+|Excessive alias/;

function expectRefused(r: { status: number | null; stderr: string }, message: RegExp): void {
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(RAW);
  expect(r.stderr.trim().split("\n"), "one line: no usage hint, no stack").toHaveLength(1);
  expect(r.status, r.stderr).toBe(2);
}

const ok = "description: x\nmappings:\n  - { addr: 0x40000000, size: 2MiB }\nthreads:\n  - name: t\n    steps:\n      - { op: read, addr: 0x40000000 }\n";

function scratch(): string {
  return mkdtempSync(join(tmpdir(), "pagesim-input-"));
}

/** A workload file and a sweep over it (no event logs: fast). */
function inputs(dir: string): { workload: string; sweep: string } {
  const workload = join(dir, "w.yaml");
  writeFileSync(workload, ok);
  const sweep = join(dir, "s.yaml");
  writeFileSync(sweep, "description: s\nworkloads: [w.yaml]\nparameters:\n  model.hz: [100, 250]\nsinks: []\n");
  return { workload, sweep };
}

/** The billion laughs: nine levels of nine aliases, 9^9 nodes once expanded. */
function billionLaughs(levels = 9): string {
  const lines = [`l0: &l0 [${Array(9).fill('"lol"').join(", ")}]`];
  for (let i = 1; i < levels; i++) lines.push(`l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(", ")}]`);
  return `${lines.join("\n")}\n`;
}

describe("a bad --out: exit 2, one sentence, nothing written", () => {
  for (const command of ["run", "sweep"] as const) {
    const input = (dir: string) => (command === "run" ? inputs(dir).workload : inputs(dir).sweep);

    it(`${command} --out onto an existing file`, () => {
      const dir = scratch();
      const out = join(dir, "taken");
      writeFileSync(out, "mine\n");
      const r = pagesim([command, input(dir), "--out", out]);
      expectRefused(r, new RegExp(`^pagesim: --out ${out}: .*is a file, not a directory; expected a directory`));
      expect(readFileSync(out, "utf8")).toBe("mine\n");
    });

    it(`${command} --out under a file (not writable, even as root)`, () => {
      const dir = scratch();
      writeFileSync(join(dir, "taken"), "mine\n");
      const out = join(dir, "taken", "sub");
      const r = pagesim([command, input(dir), "--out", out]);
      expectRefused(r, new RegExp(`^pagesim: --out ${out}: ${join(dir, "taken")} is a file, not a directory`));
      expect(statSync(join(dir, "taken")).isFile()).toBe(true);
    });

    it(`${command} --out in a place no file can be made (/proc/pagesim-x)`, () => {
      const dir = scratch();
      const r = pagesim([command, input(dir), "--out", "/proc/pagesim-x"]);
      expectRefused(r, /^pagesim: --out \/proc\/pagesim-x: cannot create a directory in \/proc \(.+\); expected a writable directory/);
      expect(existsSync("/proc/pagesim-x")).toBe(false);
    });

    it(`${command} --out /proc`, () => {
      const dir = scratch();
      const r = pagesim([command, input(dir), "--out", "/proc"]);
      expectRefused(r, /^pagesim: --out \/proc: cannot write in \/proc \(.+\); expected a writable directory/);
    });
  }
});

describe("other outputs", () => {
  it("run --out with an empty path (it wrote nothing, and named no path)", () => {
    const dir = scratch();
    const r = pagesim(["run", inputs(dir).workload, "--out="], dir);
    expectRefused(r, /^pagesim: --out "": an empty path; expected a directory/);
    expect(readdirSync(dir).sort()).toEqual(["s.yaml", "w.yaml"]);
  });

  it("merge OUT_DIR under a file, and report --out onto a directory", () => {
    const dir = scratch();
    const sweepDir = join(dir, "sweep");
    expect(pagesim(["sweep", inputs(dir).sweep, "--out", sweepDir, "--jobs", "1"]).status).toBe(0);
    writeFileSync(join(dir, "taken"), "mine\n");
    const merged = join(dir, "taken", "merged");
    expectRefused(pagesim(["merge", merged, sweepDir]), new RegExp(`^pagesim: merge OUT_DIR ${merged}: ${join(dir, "taken")} is a file, not a directory`));
    const target = join(dir, "a-directory");
    mkdirSync(target);
    expectRefused(pagesim(["report", sweepDir, "--out", target]), new RegExp(`^pagesim: --out ${target}: is a directory; expected a file path \\(e\\.g\\. ${join(target, "report.html")}\\)`));
    expect(readdirSync(target)).toEqual([]);
  });
});

describe("trace --out onto a directory", () => {
  it("exits 2 naming the directory, and leaves no DIR.tmp", () => {
    const dir = scratch();
    const { workload } = inputs(dir);
    const run = join(dir, "run");
    expect(pagesim(["run", workload, "--out", run, "--sink", "arrow"]).status).toBe(0);
    const target = join(dir, "a-directory");
    mkdirSync(target);
    const r = pagesim(["trace", run, "--out", target]);
    expectRefused(r, new RegExp(`^pagesim: --out ${target}: is a directory; expected a file path \\(e\\.g\\. ${join(target, "trace.json")}\\)`));
    expect(existsSync(`${target}.tmp`), "no stray DIR.tmp").toBe(false);
    expect(readdirSync(target)).toEqual([]);
  });
});

describe("the billion laughs", () => {
  for (const command of ["run", "sweep"] as const) {
    it(`as a ${command === "run" ? "workload" : "sweep"} file: refused at the first alias past the limit, fast, in little memory`, () => {
      const dir = scratch();
      const file = join(dir, "lol.yaml");
      writeFileSync(file, billionLaughs(30));
      const out = join(dir, "out");
      // 256 MB of heap: expanding even the 9^9 version would need gigabytes.
      const r = pagesim([command, file, "--out", out], root, ["--max-old-space-size=256"]);
      expectRefused(r, new RegExp(`^pagesim: ${file}:\\d+:\\d+: too many aliases: expanding them makes more than [\\d,]+ nodes`));
      expect(r.ms).toBeLessThan(20_000);
      expect(existsSync(out)).toBe(false);
    });
  }
});

it("aliases short of the limit still load: 120 threads sharing one step list (the yaml package alone refused this)", () => {
  const threads = ["  - name: t0", "    steps: &steps", "      - { op: read, addr: 0x40000000 }", "      - { op: write, addr: 0x40000000 }"];
  for (let i = 1; i < 120; i++) threads.push(`  - name: t${i}`, "    steps: *steps");
  const text = `${ok.slice(0, ok.indexOf("threads:\n") + "threads:\n".length)}${threads.join("\n")}\n`;
  const w = parseWorkload(text, "w.yaml");
  expect(w.threads).toHaveLength(120);
  expect(w.threads.every((t) => t.steps.length === 2 && t.steps[1]!.op === "write")).toBe(true);
});

describe("a file of the wrong kind", () => {
  it("a workload file given to pagesim sweep", () => {
    const dir = scratch();
    const { workload } = inputs(dir);
    expectRefused(pagesim(["sweep", workload, "--out", join(dir, "o")]), new RegExp(`^pagesim: ${workload}: a workload file, not a sweep file \\(it has threads: and no workloads:\\); run it with pagesim run, or give a sweep file: expected keys description, workloads, parameters`));
  });

  it("an empty file given to pagesim sweep", () => {
    const dir = scratch();
    const file = join(dir, "empty.yaml");
    writeFileSync(file, "");
    expectRefused(pagesim(["sweep", file, "--out", join(dir, "o")]), new RegExp(`^pagesim: ${file}: not a sweep file \\(it is empty\\): expected keys description, workloads, parameters`));
  });

  it("a YAML list given to pagesim sweep", () => {
    const dir = scratch();
    const file = join(dir, "list.yaml");
    writeFileSync(file, "- w.yaml\n- x.yaml\n");
    expectRefused(pagesim(["sweep", file, "--out", join(dir, "o")]), new RegExp(`^pagesim: ${file}:1:1: not a sweep file \\(it is a list\\): expected keys description, workloads, parameters`));
  });

  it("a sweep file given to pagesim run", () => {
    const dir = scratch();
    const { sweep } = inputs(dir);
    const r = pagesim(["run", sweep, "--out", join(dir, "o")]);
    expectRefused(r, new RegExp(`^pagesim: ${sweep}: a sweep file, not a workload \\(it has workloads: and no threads:\\); run it with pagesim sweep`));
    expect(existsSync(join(dir, "o"))).toBe(false);
  });
});

describe("--set errors point at the --set argument", () => {
  it("a bad value: --set model.hz=333", () => {
    const dir = scratch();
    const { workload } = inputs(dir);
    const r = pagesim(["run", workload, "--set", "model.hz=333", "--out", join(dir, "o")]);
    expectRefused(r, /^pagesim: --set model\.hz=333: model\.hz: expected one of 100, 250, 300, 1000 \(the kernel's CONFIG_HZ choices\); got 333\n/);
    expect(r.stderr).not.toContain(workload);
  });

  it("an unknown key: --set model.hzz=100", () => {
    const dir = scratch();
    const { workload } = inputs(dir);
    const r = pagesim(["run", workload, "--set", "model.hzz=100", "--out", join(dir, "o")]);
    expectRefused(r, /^pagesim: --set model\.hzz=100: model: unknown key "hzz" \(did you mean "hz"\?\)/);
    expect(r.stderr).not.toContain(workload);
  });
});

it("hz: 333 in a workload file lists the allowed values", () => {
  const dir = scratch();
  const file = join(dir, "w.yaml");
  writeFileSync(file, ok.replace("description: x", "description: x\nmodel: { hz: 333 }"));
  expectRefused(pagesim(["run", file, "--out", join(dir, "o")]), new RegExp(`^pagesim: ${file}:2:\\d+: model\\.hz: expected one of 100, 250, 300, 1000 \\(the kernel's CONFIG_HZ choices\\); got 333\\n`));
});

describe("--seed says what a seed must be", () => {
  for (const seed of ["-1", "abc", "1.5"]) {
    it(`--seed ${seed}`, () => {
      const dir = scratch();
      const { workload } = inputs(dir);
      const r = pagesim(["run", workload, "--seed", seed, "--out", join(dir, "o")]);
      expectRefused(r, new RegExp(`^pagesim: --seed ${seed.replace(".", "\\.")}: a seed is a whole number from 0 to 9007199254740991 \\(2\\^53 - 1\\)\\n$`));
      expect(existsSync(join(dir, "o"))).toBe(false);
    });
  }
});

describe("the default run directory is always a child of results/", () => {
  for (const name of ["...yaml", "..yaml"]) {
    it(`a workload file named ${name}`, () => {
      const cwd = scratch();
      writeFileSync(join(cwd, name), ok);
      const r = pagesim(["run", name, "--sink", "none"], cwd);
      expect(r.status, r.stderr).toBe(0);
      expect(readdirSync(cwd).sort(), "nothing beside results/").toEqual([name, "results"].sort());
      const [child, ...others] = readdirSync(join(cwd, "results"));
      expect(others).toEqual([]);
      expect(child).toMatch(/^[^.]/);
      expect(readdirSync(join(cwd, "results", child!))).toEqual(["seed-1"]);
      expect(r.stdout).toContain(`run directory: ${join("results", child!, "seed-1")}`);
    });
  }

  it("a sweep file named ...yaml", () => {
    const cwd = scratch();
    inputs(cwd);
    writeFileSync(join(cwd, "...yaml"), readFileSync(join(cwd, "s.yaml"), "utf8"));
    const r = pagesim(["sweep", "...yaml", "--jobs", "1"], cwd);
    expect(r.status, r.stderr).toBe(0);
    const [child, ...others] = readdirSync(join(cwd, "results", "sweeps"));
    expect(others).toEqual([]);
    expect(child).toMatch(/^[^.]/);
    expect(readdirSync(join(cwd, "results")), "nothing in results/ itself").toEqual(["sweeps"]);
    expect(existsSync(join(cwd, "results", "sweeps", child!, "results.sqlite"))).toBe(true);
  });
});
