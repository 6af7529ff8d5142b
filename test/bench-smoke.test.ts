import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// `npm run bench -- --quick` as a smoke test: every benchmark still builds and runs to the end.
// No timing is asserted (speed goals live in BENCHMARKS.md). The bench is compiled into its own
// directory inside node_modules (so packages resolve) rather than dist/, which other tests and
// notebooks may be reading while this runs.
const OUT = join("node_modules", ".cache", "pagesim-bench-smoke");

describe("npm run bench -- --quick", () => {
  it("builds and runs every benchmark once, printing each section", () => {
    rmSync(OUT, { recursive: true, force: true });
    const build = spawnSync(process.execPath, [join("node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json", "--outDir", OUT], { encoding: "utf8" });
    expect(build.stderr + build.stdout).toBe("");
    expect(build.status).toBe(0);
    const r = spawnSync(process.execPath, [join(OUT, "bench", "run.js"), "--quick"], { encoding: "utf8", maxBuffer: 16 << 20, timeout: 540_000 });
    expect(r.stderr).not.toMatch(/Error|failed/);
    expect(r.status).toBe(0);
    for (const section of ["| M/M/1 |", "| hold P=100000 |", "workload: timeslice-refault", "workload: atomic-ping-pong", "workload: gpu-streaming", "arrow,sqlite", "goal: arrow ≤ 2× none", "marginal ns/event", "ratio ours / raw", "criterion: ns/event grows", "RSS / touched page", "the main job"]) expect(r.stdout).toContain(section);
  }, 600_000);
});
