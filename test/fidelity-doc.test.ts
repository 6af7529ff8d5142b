import { describe, it, expect } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const doc = readFileSync(`${root}docs/fidelity.md`, "utf8");

describe("docs/fidelity.md", () => {
  it("has one row for each of kernel-fidelity.md a.1 #1-#32, each naming a test file that exists", () => {
    const rows = new Map<number, string>();
    for (const line of doc.split("\n")) {
      const m = /^\| (\d+) \|.*\| `(test\/[^`]+\.test\.ts)` \|$/.exec(line);
      if (m !== null && !rows.has(Number(m[1]))) rows.set(Number(m[1]), m[2]!);
    }
    expect([...rows.keys()].filter((n) => n <= 32).sort((a, b) => a - b)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
    for (const [n, file] of rows) expect(existsSync(`${root}${file}`), `row ${n}: ${file}`).toBe(true);
  });
});
