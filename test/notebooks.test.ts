import { describe, it, expect } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { normalizeNotebook } from "../scripts/run-notebooks.ts";

// The analysis notebooks (notebooks/*.ipynb, Deno kernel) must run top to bottom without a cell
// error and draw something. scripts/run-notebooks.ts executes each with Jupyter's nbconvert into a
// temporary directory; the committed notebooks are not touched. CI installs nbconvert
// (scripts/setup-debian.sh) and the Deno kernelspec (scripts/setup-notebooks.sh); without them
// this fails rather than skips.

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const notebooks = readdirSync(join(root, "notebooks"))
  .filter((f) => f.endsWith(".ipynb"))
  .sort();

interface Output {
  output_type: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
}
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
}
interface Notebook {
  cells: Cell[];
  metadata: { kernelspec?: { name?: string; language?: string } };
}

describe("notebooks", () => {
  it("are the three analyses, on the Deno kernel, each opening with its question and closing with its reading", () => {
    expect(notebooks).toEqual(expect.arrayContaining(["policies.ipynb", "sensitivity.ipynb", "timeline.ipynb"]));
    for (const name of notebooks) {
      const text = readFileSync(join(root, "notebooks", name), "utf8");
      const nb = JSON.parse(text) as Notebook;
      expect(nb.metadata.kernelspec, name).toEqual({ name: "deno", display_name: "Deno", language: "typescript" });
      expect(nb.cells[0]?.cell_type, `${name} opens with a markdown cell`).toBe("markdown");
      expect([nb.cells[0]!.source].flat().join(""), name).toMatch(/\*\*Question\.\*\*/);
      const last = nb.cells[nb.cells.length - 1]!;
      const beforeLast = nb.cells[nb.cells.length - 2]!;
      expect([beforeLast.source].flat().join(""), `${name} closes with its reading`).toMatch(/^## Reading/);
      expect(last.cell_type, name).toBe("code");
      // Stored as the runner writes them: no execution timestamps, so a refresh diffs cleanly.
      expect(normalizeNotebook(JSON.parse(text) as Parameters<typeof normalizeNotebook>[0]), `${name} is not in the runner's normalised form`).toBe(text);
    }
  });

  it("every notebook executes without a cell error and draws a chart or a table", () => {
    const out = mkdtempSync(join(tmpdir(), "pagesim-notebooks-test-"));
    try {
      const run = spawnSync(process.execPath, ["--import", "tsx", join(root, "scripts", "run-notebooks.ts"), "--out", out], {
        cwd: root,
        encoding: "utf8",
        timeout: 170_000,
      });
      expect(run.status, `scripts/run-notebooks.ts failed:\n${run.stdout}\n${run.stderr}`).toBe(0);
      for (const name of notebooks) {
        const nb = JSON.parse(readFileSync(join(out, name), "utf8")) as Notebook;
        const outputs = nb.cells.flatMap((c) => c.outputs ?? []);
        expect(
          outputs.filter((o) => o.output_type === "error").map((o) => `${o.ename}: ${o.evalue}`),
          `${name} has a cell error`,
        ).toEqual([]);
        const drawn = outputs.filter((o) => o.data?.["image/svg+xml"] !== undefined || o.data?.["text/html"] !== undefined);
        expect(drawn.length, `${name} produced no image/svg+xml or text/html output`).toBeGreaterThan(0);
      }
      // The default study runs two kernels (label.kernel): policies.ipynb reads each workload on
      // each kernel apart, never pooled, and its reading says so by name.
      const policies = JSON.parse(readFileSync(join(out, "policies.ipynb"), "utf8")) as Notebook;
      const reading = (policies.cells[policies.cells.length - 1]!.outputs ?? []).map((o) => [o.data?.["text/markdown"] ?? ""].flat().join("")).join("");
      for (const workload of ["atomic-ping-pong", "atomic-contention"])
        for (const kernel of ["seed-era", "current"]) expect(reading, `policies.ipynb reads ${workload} on the ${kernel} kernel apart`).toContain(`(${workload} · ${kernel} kernel)`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);
});
