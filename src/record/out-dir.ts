import { existsSync, mkdtempSync, rmdirSync, statSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { fsProblem } from "../workload/fs-problem.ts";

/** An output path (--out, a default run directory) that cannot be written: exit 2. */
export class OutputError extends Error {
  override name = "OutputError";
}

/** The deepest path of `path` and its ancestors that exists. */
function nearestExisting(path: string): string {
  let p = resolve(path);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/** The first ancestor of `path` (or `path` itself) that exists and is not a directory, if any. */
function fileInTheWay(path: string): string | undefined {
  const nearest = nearestExisting(path);
  return statSync(nearest).isDirectory() ? undefined : nearest;
}

/**
 * Makes and removes an empty directory in `dir`: the one sure test that files can be created
 * there (root passes access(2) checks everywhere, and /proc accepts none).
 */
function probe(dir: string): string | undefined {
  try {
    rmdirSync(mkdtempSync(join(dir, ".pagesim-probe-")));
    return undefined;
  } catch (error) {
    // The directory exists, so "no such file" means this file system takes no new files (/proc).
    return (error as { code?: string }).code === "ENOENT" ? "the file system there takes no new files" : fsProblem(error);
  }
}

/** The user's spelling of a path beside its absolute form, when they differ. */
const shown = (user: string, abs: string): string => (resolve(user) === abs ? user : abs);

/**
 * Checks, before anything is written, that `dir` is (or can become) a directory we can write in.
 * Creates nothing: a refused --out leaves no trace. `label` names it: "--out X" or "the run
 * directory X". (Node's recursive mkdir also loops forever under /proc: this check comes first.)
 */
export function checkOutDir(dir: string, label: string): void {
  if (dir.trim() === "") throw new OutputError(`${label}: an empty path; expected a directory`);
  const blocker = fileInTheWay(dir);
  if (blocker !== undefined) {
    const what = blocker === resolve(dir) ? dir : shown(dir, blocker);
    throw new OutputError(`${label}: ${what} is a file, not a directory; expected a directory (it is created if missing)`);
  }
  const nearest = nearestExisting(dir);
  const problem = probe(nearest);
  if (problem === undefined) return;
  if (nearest === resolve(dir)) throw new OutputError(`${label}: cannot write in ${dir} (${problem}); expected a writable directory`);
  throw new OutputError(`${label}: cannot create a directory in ${nearest} (${problem}); expected a writable directory`);
}

/**
 * Checks that `file` can be written as a file: not a directory, in a directory that exists and
 * takes new files. Creates nothing. `example` is a file name to suggest inside a directory.
 */
export function checkOutFile(file: string, label: string, example: string): void {
  if (file.trim() === "") throw new OutputError(`${label}: an empty path; expected a file path such as ${example}`);
  if (existsSync(file) && statSync(file).isDirectory()) throw new OutputError(`${label}: is a directory; expected a file path (e.g. ${join(file, example)})`);
  const parent = dirname(resolve(file));
  if (!existsSync(parent) || !statSync(parent).isDirectory()) {
    const blocker = fileInTheWay(parent);
    throw new OutputError(`${label}: ${blocker === undefined ? `no directory ${parent}` : `${blocker} is a file, not a directory`}; expected a file in an existing directory`);
  }
  const problem = probe(parent);
  if (problem !== undefined) throw new OutputError(`${label}: cannot write in ${parent} (${problem}); expected a writable directory`);
}

/**
 * A file's name without its extension, made safe as one path component under results/: "..",
 * "." and hidden names ("...yaml" gives "..") would climb out of results/ or hide there.
 */
export function safeName(file: string): string {
  const name = basename(file, extname(file)).replace(/[^\w.+-]/g, "_").replace(/^\.+/, "");
  return name === "" ? "workload" : name;
}
