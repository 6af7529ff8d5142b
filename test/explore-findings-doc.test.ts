import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { replayFinding } from "../src/explore/replay.ts";

/**
 * docs/findings.md quotes what `pagesim explore` found, each finding kept under docs/findings/
 * with its shrunk workload and signature. Every kept finding must still reproduce with its
 * signature (a model change that fixes or moves one must update the document), and the document
 * must give each one's command.
 */
const DIR = "docs/findings";
const kept = readdirSync(DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(DIR, d.name)).sort();
const doc = readFileSync("docs/findings.md", "utf8");

describe("docs/findings.md", () => {
  it("keeps some findings of each variant", () => {
    expect(kept.some((d) => /\/seed-\d+$/.test(d))).toBe(true);
    expect(kept.some((d) => /\/newest-\d+$/.test(d))).toBe(true);
  });

  it.each(kept)("%s reproduces with its recorded signature, and the document gives its command", (dir) => {
    expect(doc).toContain(`npx pagesim explore --replay ${dir}`);
    const r = replayFinding(dir);
    expect(r.reproduced, r.text).toBe(true);
  }, 120_000);
});
