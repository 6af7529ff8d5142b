import { readFileSync } from "node:fs";

let cached: string | undefined;

/** Our package.json's version, found by walking up from this file (src/ or dist/src/). */
export function pagesimVersion(): string {
  if (cached !== undefined) return cached;
  let dir = new URL(".", import.meta.url);
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "pagesim" && pkg.version !== undefined) return (cached = pkg.version);
    } catch {
      // not here: look one folder up
    }
    dir = new URL("..", dir);
  }
  return (cached = "unknown");
}
