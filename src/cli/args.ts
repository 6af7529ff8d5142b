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
