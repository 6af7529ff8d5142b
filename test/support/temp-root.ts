import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * vitest globalSetup: every test's temporary files go under one directory made for this run
 * (TMPDIR, which os.tmpdir() and every child process read), removed when the run ends. Many
 * tests write run directories of tens to hundreds of MB; left behind, a few suite runs filled a
 * developer's disk (ENOSPC). A run that is killed leaves its one directory, named pagesim-test-*.
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "pagesim-test-"));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    rmSync(root, { recursive: true, force: true });
  };
}
