import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { stateDigest } from "../src/check/digest.ts";
import { Engine, sleep, spin, type ProcessBody } from "../src/engine/index.ts";
import type { EngineOptions } from "../src/engine/engine.ts";
import { parseWorkload } from "../src/workload/load.ts";
import { runWorkload } from "../src/workload/run.ts";
import { readFileSync } from "node:fs";

/**
 * Schedule perturbation (issue #18, docs/design/explore.md §2.2, plan slice 4): a seeded shuffle
 * of the processes due at the same instant, and seeded jitter on every modelled latency. Off by
 * default; on, a run is still a function of its seed.
 */

/** Spawns `names` at t=0, each recording its name (and how many processes are queued then) when it first runs. */
function firstRuns(options: EngineOptions, names: string[], sliced = false): { order: string[]; queued: number[] } {
  const engine = new Engine(options);
  const order: string[] = [];
  const queued: number[] = [];
  for (const name of names) {
    engine.spawn(name, (function* (): ProcessBody {
      order.push(name);
      queued.push(engine.scheduledCount);
      yield sleep(10);
    })());
  }
  if (sliced) while (engine.run(Infinity, 1).steps > 0);
  else engine.run();
  return { order, queued };
}

describe("tie shuffling", () => {
  it("is off by default and with ties: fifo: processes due together run in the order they were scheduled", () => {
    expect(firstRuns({ seed: 7 }, ["a", "b", "c"]).order).toEqual(["a", "b", "c"]);
    expect(firstRuns({ seed: 7, schedule: { ties: "fifo", jitter: 0 } }, ["a", "b", "c"]).order).toEqual(["a", "b", "c"]);
  });

  it("changes the order of two same-instant processes for some seeds and not others, the same for the same seed", () => {
    const orders = Array.from({ length: 16 }, (_, i) => firstRuns({ seed: i + 1, schedule: { ties: "shuffle", jitter: 0 } }, ["a", "b"]).order.join(""));
    expect(orders).toContain("ab");
    expect(orders).toContain("ba");
    for (let i = 0; i < 16; i++) expect(firstRuns({ seed: i + 1, schedule: { ties: "shuffle", jitter: 0 } }, ["a", "b"]).order.join("")).toBe(orders[i]);
  });

  it("counts the batch as queued, and gives the same order when run one step at a time", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const whole = firstRuns({ seed, schedule: { ties: "shuffle", jitter: 0 } }, ["a", "b", "c", "d"]);
      expect(whole.queued).toEqual(firstRuns({ seed }, ["a", "b", "c", "d"]).queued); // [3, 3, 3, 3]: the batch's rest and the sleepers
      expect(whole.queued).toEqual([3, 3, 3, 3]);
      expect(firstRuns({ seed, schedule: { ties: "shuffle", jitter: 0 } }, ["a", "b", "c", "d"], true).order).toEqual(whole.order);
    }
  });

  it("runs a process woken at the batch's instant after the batch, as FIFO would", () => {
    const engine = new Engine({ seed: 3, schedule: { ties: "shuffle", jitter: 0 } });
    const order: string[] = [];
    engine.spawn("a", (function* (): ProcessBody {
      order.push("a");
      engine.spawn("late", (function* (): ProcessBody {
        order.push("late");
      })());
    })());
    for (const name of ["b", "c"]) engine.spawn(name, (function* (): ProcessBody {
      order.push(name);
    })());
    engine.run();
    expect(order.at(-1)).toBe("late");
  });
});

describe("jitter", () => {
  function sleeper(options: EngineOptions): { endNs: number; gaps: number[] } {
    const engine = new Engine(options);
    const gaps: number[] = [];
    engine.spawn("p", (function* (): ProcessBody {
      for (let i = 0; i < 20; i++) {
        const t = engine.nowNs;
        yield i % 2 === 0 ? sleep(1000) : spin(1000);
        gaps.push(engine.nowNs - t);
        const u = engine.nowNs;
        yield sleep(0); // cond_resched: stays 0
        gaps.push(engine.nowNs - u);
      }
    })());
    return { endNs: engine.run().endNs, gaps };
  }

  it("moves sleeps and spins within ±J, leaves a zero sleep at zero, and is a function of the seed", () => {
    expect(sleeper({ seed: 5 }).endNs).toBe(20_000);
    const a = sleeper({ seed: 5, schedule: { ties: "fifo", jitter: 0.5 } });
    expect(a.endNs).not.toBe(20_000);
    const timed = a.gaps.filter((_, i) => i % 2 === 0);
    expect(a.gaps.filter((_, i) => i % 2 === 1)).toEqual(Array(20).fill(0));
    for (const g of timed) expect(g).toBeGreaterThanOrEqual(500), expect(g).toBeLessThanOrEqual(1500);
    expect(new Set(timed).size).toBeGreaterThan(10);
    expect(sleeper({ seed: 5, schedule: { ties: "fifo", jitter: 0.5 } })).toEqual(a);
    expect(sleeper({ seed: 6, schedule: { ties: "fifo", jitter: 0.5 } }).endNs).not.toBe(a.endNs);
  });

  it("never turns a positive duration into zero", () => {
    const engine = new Engine({ seed: 1, schedule: { ties: "fifo", jitter: 0.5 } });
    engine.spawn("p", (function* (): ProcessBody {
      for (let i = 0; i < 200; i++) {
        const t = engine.nowNs;
        yield sleep(1);
        expect(engine.nowNs - t).toBeGreaterThanOrEqual(1);
      }
    })());
    engine.run();
  });

  it("refuses a fraction outside 0..0.5", () => {
    expect(() => new Engine({ schedule: { ties: "fifo", jitter: 0.6 } })).toThrow(RangeError);
  });
});

const STORM = "workloads/fault-storm-same-page.yaml";
function runStorm(overrides: Record<string, unknown> = {}) {
  const { report, world } = runWorkload(parseWorkload(readFileSync(STORM, "utf8"), STORM, overrides));
  return { digest: stateDigest(world.log.state), endNs: report.endNs, events: report.events, invariants: report.invariants };
}

describe("the workload's schedule field", () => {
  it("defaults to fifo and no jitter", () => {
    expect(parseWorkload(readFileSync(STORM, "utf8"), STORM).schedule).toEqual({ ties: "fifo", jitter: 0 });
  });

  it("same seed, perturbation on: the same digest twice; jitter moves the end time", () => {
    const plain = runStorm();
    const on = { "schedule.ties": "shuffle", "schedule.jitter": 0.2 };
    const first = runStorm(on);
    expect(runStorm(on)).toEqual(first);
    expect(first.endNs).not.toBe(plain.endNs);
    expect(first.invariants).toEqual([]);
  });

  it("refuses a bad value with exit 2 and a sentence naming the key", () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-schedule-"));
    const ok = "description: x\nmappings:\n  - { addr: 0x40000000, size: 2MiB }\nthreads:\n  - name: t\n    steps:\n      - { op: read, addr: 0x40000000 }\n";
    const root = fileURLToPath(new URL("..", import.meta.url));
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    for (const [schedule, key, expected] of [
      ["{ jitter: 0.7 }", "schedule.jitter", /a fraction from 0 to 0\.5/],
      ["{ ties: random }", "schedule.ties", /fifo or shuffle/],
      ["{ tie: shuffle }", "schedule", /unknown key "tie"/],
    ] as const) {
      const file = join(dir, "w.yaml");
      writeFileSync(file, `${ok}schedule: ${schedule}\n`);
      const r = spawnSync(process.execPath, ["--import", tsx, join(root, "src", "cli.ts"), "run", file], { cwd: root, encoding: "utf8", timeout: 60_000 });
      expect(r.stderr).toContain(`${key}:`);
      expect(r.stderr).toMatch(expected);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.status, r.stderr).toBe(2);
    }
  });
});
