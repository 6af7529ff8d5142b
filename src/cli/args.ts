import { parseOverrideValue } from "../workload/load.ts";

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

/** Parses repeated --set key=value options into workload overrides. */
export function setOptions(raw: string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of raw ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`--set: expected key=value (e.g. --set model.hz=1000), got "${item}"`);
    out[item.slice(0, eq)] = parseOverrideValue(item.slice(eq + 1));
  }
  return out;
}

/** Parses --shard K/N (1 <= K <= N). */
export function shardOption(raw: string | undefined): { k: number; n: number } | undefined {
  if (raw === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(raw);
  const k = m === null ? NaN : Number(m[1]);
  const n = m === null ? NaN : Number(m[2]);
  if (!(k >= 1 && n >= 1 && k <= n)) throw new UsageError(`--shard: expected K/N with 1 <= K <= N, got "${raw}"`);
  return { k, n };
}
