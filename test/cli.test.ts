import { describe, it, expect } from "vitest";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

function pagesim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { cwd: root, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("pagesim CLI", () => {
  it("--help prints usage and exits 0", () => {
    const r = pagesim("--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Usage:");
    expect(r.stdout).toContain("pagesim demo");
  });

  it("--version prints the package version", () => {
    const r = pagesim("--version");
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("as built by npm ci, runs as `npx pagesim` (the build marks it executable)", () => {
    // npm ci's prepare step builds dist/; the README's `npx pagesim …` runs dist/src/cli.js
    // directly, which needs the exec bit that tsc does not set.
    const r = spawnSync("npx", ["--no-install", "pagesim", "--version"], { cwd: root, encoding: "utf8" });
    expect(r.stderr).not.toContain("Permission denied");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("exits 2 naming the problem on bad usage", () => {
    for (const [args, message] of [
      [["frobnicate"], 'unknown command "frobnicate"'],
      [[], "no command given"],
      [["demo", "--seed", "x1"], "--seed x1: a seed is a whole number from 0 to 9007199254740991 (2^53 - 1)"],
      [["demo", "--customers", "5"], '--customers: expected an integer >= 1000, got "5"'],
      [["demo", "--bogus"], "Unknown option '--bogus'"],
    ] as const) {
      const r = pagesim(...args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stdout).toBe("");
    }
  });

  it("demo runs the engine's queueing check and reports it as JSON", () => {
    const r = pagesim("demo", "--customers", "40000", "--seed", "5", "--json");
    const summary = JSON.parse(r.stdout) as { seed: number; queues: { model: string; customers: number; theoryMeanWaitNs: number; insideInterval: boolean }[] };
    // Exit 0 when every simulated mean is inside its 99 % interval, 1 otherwise. (Seed 5 at 40,000
    // customers puts M/D/1 at ρ 0.5 just outside since every random stream's first draw depends on
    // the whole seed: one check of four at 99 % misses on a few seeds in a hundred.)
    expect(r.status).toBe(summary.queues.every((q) => q.insideInterval) ? 0 : 1);
    expect(summary.seed).toBe(5);
    expect(summary.queues.map((q) => q.model)).toEqual(["M/M/1", "M/M/1", "M/D/1", "M/D/1"]);
    expect(summary.queues.every((q) => q.customers === 40000)).toBe(true);
    expect(summary.queues[0]!.theoryMeanWaitNs).toBe(500_000);
  });
});
