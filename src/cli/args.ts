/** A command-line usage error: printed with the usage line, exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Parses a non-negative safe integer option, naming the option when it is not one. */
export function integerOption(name: string, raw: string | undefined, fallback: number, min = 0): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${name}: expected an integer >= ${min}, got "${raw}"`);
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new UsageError(`--${name}: expected an integer >= ${min}, got "${raw}"`);
  return value;
}

/** Parses --sink: "arrow,sqlite" (the default), "arrow", "sqlite" or "none". */
export function sinksOption(raw: string | undefined): ("arrow" | "sqlite")[] {
  if (raw === undefined) return ["arrow", "sqlite"];
  if (raw === "none") return [];
  const names = raw.split(",").map((s) => s.trim());
  const sinks: ("arrow" | "sqlite")[] = [];
  for (const name of names) {
    if (name !== "arrow" && name !== "sqlite") throw new UsageError(`--sink: expected arrow, sqlite, arrow,sqlite or none, got "${raw}"`);
    if (!sinks.includes(name)) sinks.push(name);
  }
  return sinks;
}
