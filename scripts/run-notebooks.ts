/**
 * Executes the notebooks (notebooks/*.ipynb, Deno kernel) headless with Jupyter's nbconvert, and
 * fails, naming the notebook and the cell, when any cell raises.
 *
 *   npx tsx scripts/run-notebooks.ts                  every notebook, into a temporary directory
 *   npx tsx scripts/run-notebooks.ts --out DIR        … into DIR
 *   npx tsx scripts/run-notebooks.ts --in-place       refresh the committed notebooks' outputs
 *   npx tsx scripts/run-notebooks.ts timeline         only notebooks/timeline.ipynb
 *
 * --in-place first re-runs the default study into results/default (the model may have changed
 * since it last ran; --keep-study reuses what is there), then executes every notebook into a
 * temporary directory and copies back each one that ran without an error. Outputs are made
 * deterministic: no execution timestamps, keys sorted, nbformat's layout, so re-running an
 * unchanged model gives no git diff.
 *
 * Needs Jupyter's nbconvert (bash scripts/setup-debian.sh) and the Deno kernelspec (bash
 * scripts/setup-notebooks.sh; run here with --local-only when missing). The kernel is looked up
 * in node_modules/.jupyter first (JUPYTER_PATH), so this checkout's deno runs the notebooks.
 * Exit status: 0 all ran, 1 a notebook failed, 2 bad usage or missing tools.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const notebooksDir = join(root, "notebooks");
const localJupyter = join(root, "node_modules", ".jupyter");
const kernelJson = join(localJupyter, "kernels", "deno", "kernel.json");

interface Cell {
  cell_type: string;
  id?: string;
  source: string | string[];
  metadata?: Record<string, unknown>;
  outputs?: Output[];
}
interface Output {
  output_type: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}
interface Notebook {
  cells: Cell[];
  metadata: Record<string, unknown>;
}

export interface NotebookResult {
  notebook: string;
  ok: boolean;
  seconds: number;
  /** Where the executed notebook was written (absent when nbconvert wrote none). */
  output?: string;
  /** What went wrong, naming the cell. */
  error?: string;
  /** Outputs by MIME type (and "stream", "error"). */
  outputs: Record<string, number>;
}

const text = (s: string | string[]): string => (Array.isArray(s) ? s.join("") : s);
const stripAnsi = (s: string): string => s.replace(/\u001b\[[0-9;]*m/g, "");

function describeCell(nb: Notebook, index: number): string {
  const cell = nb.cells[index]!;
  const first = text(cell.source).split("\n").find((l) => l.trim() !== "") ?? "";
  return `cell ${index + 1} of ${nb.cells.length}${cell.id === undefined ? "" : ` (id "${cell.id}")`}: ${first.trim().slice(0, 100)}`;
}

/** The first cell whose outputs hold an error, described with its error and traceback. */
export function firstCellError(nb: Notebook): string | undefined {
  for (const [i, cell] of nb.cells.entries()) {
    const err = cell.outputs?.find((o) => o.output_type === "error");
    if (err === undefined) continue;
    const trace = (err.traceback ?? []).map(stripAnsi).join("\n").split("\n").slice(0, 20).map((l) => `    ${l}`).join("\n");
    return `${describeCell(nb, i)}\n  ${err.ename ?? "Error"}: ${stripAnsi(err.evalue ?? "")}\n${trace}`;
  }
  return undefined;
}

/** Recursively sorts object keys, as nbformat writes them. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/**
 * Drops what changes on every run without the notebook changing: execution timestamps (cell
 * metadata.execution) and other per-run cell metadata; writes nbformat's layout (sorted keys,
 * one-space indent, trailing newline).
 */
export function normalizeNotebook(nb: Notebook): string {
  for (const cell of nb.cells) {
    if (cell.metadata !== undefined) {
      delete cell.metadata.execution;
      delete cell.metadata.papermill;
      delete cell.metadata.ExecuteTime;
    }
  }
  delete nb.metadata.papermill;
  return `${JSON.stringify(sortKeys(nb), null, 1)}\n`;
}

function countOutputs(nb: Notebook): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const cell of nb.cells) {
    for (const o of cell.outputs ?? []) {
      const kinds = o.data !== undefined ? Object.keys(o.data).filter((k) => k !== "text/plain" || Object.keys(o.data!).length === 1) : [o.output_type];
      for (const k of kinds) counts[k] = (counts[k] ?? 0) + 1;
    }
  }
  return counts;
}

/** The environment nbconvert and the kernel run in: this checkout's kernelspec first, no colours, no prompts. */
function kernelEnv(): NodeJS.ProcessEnv {
  const path = process.env.JUPYTER_PATH;
  return {
    ...process.env,
    JUPYTER_PATH: path === undefined || path === "" ? localJupyter : `${localJupyter}:${path}`,
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
    DENO_NO_PROMPT: "1",
    PYDEVD_DISABLE_FILE_VALIDATION: "1",
  };
}

/** Makes sure nbconvert runs and the project's Deno kernelspec exists; returns a problem, if any. */
function checkTools(): string | undefined {
  const nbconvert = spawnSync("jupyter", ["nbconvert", "--version"], { encoding: "utf8", env: kernelEnv() });
  if (nbconvert.error !== undefined || nbconvert.status !== 0) {
    return "Jupyter's nbconvert does not run (jupyter nbconvert --version failed): install it with bash scripts/setup-debian.sh";
  }
  if (!existsSync(kernelJson)) {
    const setup = spawnSync("bash", [join(root, "scripts", "setup-notebooks.sh"), "--local-only"], { cwd: root, encoding: "utf8" });
    if (setup.status !== 0 || !existsSync(kernelJson)) {
      return `no Deno kernelspec at ${relative(root, kernelJson)} and scripts/setup-notebooks.sh could not write it:\n${setup.stdout}${setup.stderr}`;
    }
  }
  return undefined;
}

/** The last lines of nbconvert's stderr that say something (not Python debugger chatter). */
function stderrTail(stderr: string): string {
  const lines = stripAnsi(stderr)
    .split("\n")
    .filter((l) => !/Debugger warning|frozen modules|Xfrozen_modules|PYDEVD_DISABLE_FILE_VALIDATION|Debugging will proceed|"deno jupyter" is unstable/.test(l));
  return lines.slice(-40).join("\n").trim();
}

/** Executes one notebook into outDir (same file name); nothing is written next to the original. */
export function executeNotebook(file: string, outDir: string, timeoutSec: number): NotebookResult {
  const name = basename(file);
  const rel = relative(root, file);
  const start = performance.now();
  const output = join(outDir, name);
  rmSync(output, { force: true });
  const r = spawnSync(
    "jupyter",
    [
      "nbconvert",
      "--to",
      "notebook",
      "--execute",
      `--ExecutePreprocessor.timeout=${timeoutSec}`,
      // An error cell still yields the executed notebook, so the error can be read from it and
      // named; it is a failure all the same.
      "--ExecutePreprocessor.allow_errors=True",
      "--ExecutePreprocessor.record_timing=False",
      "--output-dir",
      outDir,
      "--output",
      name,
      file,
    ],
    { cwd: root, encoding: "utf8", env: kernelEnv(), maxBuffer: 64 * 1024 * 1024 },
  );
  const seconds = (performance.now() - start) / 1000;
  if (r.error !== undefined) return { notebook: rel, ok: false, seconds, error: `jupyter nbconvert did not run: ${r.error.message}`, outputs: {} };
  if (r.status !== 0 || !existsSync(output)) {
    // A cell that timed out or a kernel that died: nbconvert stops, with a Python traceback that
    // ends in the exception and a preview of the cell's source.
    const stderr = stripAnsi(r.stderr);
    const source = /(?:following cell:|preview of the cell contents:)\s*\n-+\n([^\n]*)/.exec(stderr)?.[1];
    let where = "";
    if (source !== undefined) {
      const nb = JSON.parse(readFileSync(file, "utf8")) as Notebook;
      const index = nb.cells.findIndex((c) => text(c.source).split("\n")[0] === source);
      if (index >= 0) where = `${describeCell(nb, index)}\n`;
    }
    const exception = /^[\w.]+(?:Error|Exception|Interrupt): .*$/m.exec(stderr)?.[0];
    const detail = exception !== undefined ? `  ${exception}` : stderrTail(r.stderr);
    return { notebook: rel, ok: false, seconds, error: `${where}jupyter nbconvert exited with ${r.status ?? r.signal}:\n${detail}`, outputs: {} };
  }
  const nb = JSON.parse(readFileSync(output, "utf8")) as Notebook;
  writeFileSync(output, normalizeNotebook(nb));
  const error = firstCellError(nb);
  const result: NotebookResult = { notebook: rel, ok: error === undefined, seconds, output, outputs: countOutputs(nb) };
  if (error !== undefined) result.error = error;
  return result;
}

/** Re-runs the default study (npm start) from scratch into results/default, from the sources. */
function refreshDefaultStudy(): boolean {
  const dir = join(root, "results", "default");
  const old = join(root, "results", `.default.old-${process.pid}`);
  if (existsSync(dir)) renameSync(dir, old);
  console.log("run-notebooks: re-running the default study into results/default (workloads/sweeps/default.yaml)");
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", "sweep", "workloads/sweeps/default.yaml", "--out", "results/default"], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    if (existsSync(old)) renameSync(old, dir);
    console.error(`run-notebooks: the default study failed (exit ${r.status ?? r.signal}); results/default left as it was`);
    return false;
  }
  rmSync(old, { recursive: true, force: true });
  return true;
}

function listNotebooks(names: string[]): string[] {
  const all = readdirSync(notebooksDir).filter((f) => f.endsWith(".ipynb")).sort();
  if (names.length === 0) return all.map((f) => join(notebooksDir, f));
  return names.map((n) => {
    const f = basename(n).endsWith(".ipynb") ? basename(n) : `${basename(n)}.ipynb`;
    if (!all.includes(f)) throw new Error(`no notebook ${f} in notebooks/ (there are: ${all.join(", ")})`);
    return join(notebooksDir, f);
  });
}

const USAGE = `usage: npx tsx scripts/run-notebooks.ts [--in-place [--keep-study]] [--out DIR] [--timeout SECONDS] [NOTEBOOK...]`;

function main(argv: string[]): number {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        "in-place": { type: "boolean" },
        "keep-study": { type: "boolean" },
        out: { type: "string" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    console.error(`run-notebooks: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const inPlace = values["in-place"] === true;
  const timeout = Number(values.timeout ?? "300");
  if (!Number.isFinite(timeout) || timeout <= 0) {
    console.error(`run-notebooks: --timeout ${values.timeout}: not a number of seconds`);
    return 2;
  }
  let files: string[];
  try {
    files = listNotebooks(positionals);
  } catch (error) {
    console.error(`run-notebooks: ${(error as Error).message}`);
    return 2;
  }
  const problem = checkTools();
  if (problem !== undefined) {
    console.error(`run-notebooks: ${problem}`);
    return 2;
  }
  const outDir = values.out !== undefined ? resolve(values.out) : mkdtempSync(join(tmpdir(), "pagesim-notebooks-"));
  mkdirSync(outDir, { recursive: true });
  if (inPlace && values["keep-study"] !== true && files.some((f) => basename(f) === "policies.ipynb")) {
    if (!refreshDefaultStudy()) return 1;
  }

  const results: NotebookResult[] = [];
  for (const file of files) {
    const r = executeNotebook(file, outDir, timeout);
    results.push(r);
    const outputs = Object.entries(r.outputs).map(([k, n]) => `${n} ${k}`).join(", ");
    console.log(`${r.ok ? "ok  " : "FAIL"} ${r.notebook}  ${r.seconds.toFixed(1)} s${outputs === "" ? "" : `  (${outputs})`}`);
    if (!r.ok) console.error(`run-notebooks: ${r.notebook}: ${r.error}`);
    if (r.ok && inPlace && r.output !== undefined) {
      const fresh = readFileSync(r.output, "utf8");
      if (readFileSync(file, "utf8") !== fresh) {
        writeFileSync(file, fresh);
        console.log(`     wrote ${relative(root, file)}`);
      } else console.log(`     ${relative(root, file)} unchanged`);
    }
  }
  const failed = results.filter((r) => !r.ok);
  console.log(`${results.length - failed.length} of ${results.length} notebooks ran without an error; executed copies in ${outDir}`);
  if (failed.length > 0) console.error(`run-notebooks: failed: ${failed.map((r) => r.notebook).join(", ")}`);
  return failed.length > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
