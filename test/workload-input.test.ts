import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { workloadJsonSchema } from "../src/workload/json-schema.ts";

/** Runs `pagesim run` on a workload text; returns the status, stderr and whether a run directory appeared. */
function runText(text: string, ...args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), "pagesim-bad-"));
  const file = join(dir, "w.yaml");
  writeFileSync(file, text);
  const out = join(dir, "out");
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", "run", file, "--out", out, ...args], { encoding: "utf8" });
  return { status: r.status, stderr: r.stderr.replaceAll(file, "w.yaml"), wrote: existsSync(out) };
}

/** A CPU thread and a GPU thread handing a page over with waits. */
const waits = [
  "description: x", "platform: xe-pcie4x8-iommu", "mappings:", "  - { addr: 0x40000000, size: 2MiB }", "threads:",
  "  - name: cpu", "    steps:", "      - { op: write, addr: 0x40000000 }", "      - { op: wait, thread: gpu0, step: 1 }",
  "  - name: gpu0", "    ctx: gpu", "    steps:", "      - { op: wait, thread: cpu, step: 0 }", "      - { op: write, addr: 0x40000000 }", "",
].join("\n");

const ok = "description: x\nmappings:\n  - { addr: 0x40000000, size: 2MiB }\nthreads:\n  - name: t\n    steps:\n      - { op: read, addr: 0x40000000 }\n";

describe("bad workload input: a clear message, exit status 2, nothing written", () => {
  const cases: [string, string, RegExp][] = [
    ["YAML syntax", "description: x\nthreads: [\n", /w\.yaml:\d+:\d+: not valid YAML/],
    ["an unknown key, with a suggestion", ok.replace("mappings:", "mapings:"), /w\.yaml:2:1: \(top level\): unknown key "mapings" \(did you mean "mappings"\?\)/],
    ["a wrong type", ok.replace("name: t", "name: 3"), /w\.yaml:5:\d+: threads\.0\.name: .*string/],
    ["a wrong unit", ok.replace("size: 2MiB", "size: 2 parsecs"), /w\.yaml:3:\d+: mappings\.0\.size: expected a nonzero multiple of 4 KiB/],
    ["an out-of-range value", ok.replace("description: x", "description: x\nmodel: { hz: 60 }"), /w\.yaml:2:\d+: model\.hz/],
    ["an address outside every mapping", ok.replace("{ op: read, addr: 0x40000000 }", "{ op: read, addr: 0x50000000 }"), /w\.yaml:7:\d+: threads\.0\.steps\.0: read at \[0x50000000, 0x50001000\) is outside every mapping/],
    ["overlapping mappings", ok.replace("mappings:\n", "mappings:\n  - { addr: 0x40100000, size: 2MiB }\n"), /mappings\.1: \[0x40000000, 0x40200000\) overlaps mappings\.0/],
    ["a thread of a process never forked", ok.replace("name: t", "name: t\n    process: 2"), /threads\.0\.process: process 2, but the workload forks only 0/],
    ["an unknown platform", ok.replace("description: x", "description: x\nplatform: xe-pcie5x16-iomu"), /w\.yaml: platform: no profile named "xe-pcie5x16-iomu" \(did you mean "xe-pcie5x16-iommu"\?\); the profiles are .*xe-pcie4x8-iommu/],
    ["a --set of an unknown key", ok, /unknown key "hzz" \(did you mean "hz"\?\)/],
    ["a wait for an unknown thread", waits.replace("thread: gpu0, step: 1", "thread: gpu1, step: 1"), /w\.yaml:9:29: threads\.0\.steps\.1\.thread: no thread named "gpu1" \(did you mean "gpu0"\?\); the threads are cpu, gpu0/],
    ["a wait for a step the thread does not have", waits.replace("thread: gpu0, step: 1", "thread: gpu0, step: 7"), /threads\.0\.steps\.1\.step: thread "gpu0" has 2 steps \(0 to 1\); there is no step 7/],
    ["threads waiting on each other", waits.replace("thread: cpu, step: 0", "thread: cpu"), /threads\.0\.steps\.1: waits for "gpu0" to finish step 1, which can never happen: the threads wait on each other \(deadlock\)/],
    ["two threads with one name", waits.replace("name: gpu0", "name: cpu"), /threads\.1\.name: "cpu" is already the name of threads\.0/],
    ["a --set naming an unknown thread", waits, /^pagesim: --set threads\.gpu9\.count=4: threads has no item named "gpu9" \(did you mean "gpu0"\?\); the names are cpu, gpu0/],
    ["a --platform that does not exist", ok, /^pagesim: --platform nope: no profile named "nope"/],
  ];
  const extraArgs: Record<string, string[]> = {
    "a --set of an unknown key": ["--set", "model.hzz=100"],
    "a --set naming an unknown thread": ["--set", "threads.gpu9.count=4"],
    "a --platform that does not exist": ["--platform", "nope"],
  };
  it.each(cases)("%s", (name, text, message) => {
    const r = runText(text, ...(extraArgs[name] ?? []));
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(2);
    expect(r.wrote, "no run directory").toBe(false);
  });

  it("a VRAM smaller than a range chunk is refused", () => {
    const dir = mkdtempSync(join(tmpdir(), "pagesim-bad-"));
    const file = join(dir, "w.yaml");
    writeFileSync(join(dir, "tiny.yaml"), readFileSync("workloads/platforms/xe-pcie4x8-iommu.yaml", "utf8").replace(/sizeBytes: 12GiB.*/, "sizeBytes: 1MiB"));
    writeFileSync(file, ok.replace("description: x", "description: x\nplatform: tiny.yaml"));
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", "run", file, "--out", join(dir, "out")], { encoding: "utf8" });
    expect(r.stderr).toMatch(/platform: xe-pcie4x8-iommu: VRAM \(1048576 bytes\) is smaller than its largest range chunk/);
    expect(r.status).toBe(2);
    expect(existsSync(join(dir, "out")), "no run directory").toBe(false);
  });
});

describe("pagesim schema", () => {
  it("prints the JSON Schema that workloads/workload.schema.json holds (npm run docs regenerates it)", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", "schema"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const printed = JSON.parse(r.stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(printed.properties)).toEqual(expect.arrayContaining(["threads", "mappings", "platform", "model"]));
    expect(printed).toEqual(workloadJsonSchema());
    expect(JSON.parse(readFileSync("workloads/workload.schema.json", "utf8"))).toEqual(workloadJsonSchema());
  });
});
