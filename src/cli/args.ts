import { parseOverrideValue } from "../workload/load.ts";

/** A command-line usage error: printed with the usage line, exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A flag whose value cannot be used: exit status 2, and the message says what it must be (no usage hint). */
export class OptionError extends UsageError {
  override name = "OptionError";
}

/** Parses a non-negative safe integer option, naming the option when it is not one. */
export function integerOption(name: string, raw: string | undefined, fallback: number, min = 0): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new OptionError(`--${name}: expected an integer >= ${min}, got "${raw}"`);
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new OptionError(`--${name}: expected an integer >= ${min}, got "${raw}"`);
  return value;
}

/** Parses --sink: "arrow,sqlite" (the default), "arrow", "sqlite" or "none". */
export function sinksOption(raw: string | undefined): ("arrow" | "sqlite")[] {
  if (raw === undefined) return ["arrow", "sqlite"];
  if (raw === "none") return [];
  const names = raw.split(",").map((s) => s.trim());
  const sinks: ("arrow" | "sqlite")[] = [];
  for (const name of names) {
    if (name !== "arrow" && name !== "sqlite") throw new OptionError(`--sink: expected arrow, sqlite, arrow,sqlite or none, got "${raw}"`);
    if (!sinks.includes(name)) sinks.push(name);
  }
  return sinks;
}

/**
 * Parses repeated --set key=value options into workload overrides, and each one's label for
 * messages ("--set model.hz=333"): a problem with a key it set is reported against it.
 */
export function setOptions(raw: string[] | undefined): { overrides: Record<string, unknown>; labels: Record<string, string> } {
  const overrides: Record<string, unknown> = {};
  const labels: Record<string, string> = {};
  for (const item of raw ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new OptionError(`--set ${item}: expected key=value (e.g. --set model.hz=1000)`);
    const key = item.slice(0, eq);
    try {
      overrides[key] = parseOverrideValue(item.slice(eq + 1));
    } catch {
      throw new OptionError(`--set ${item}: the value is not a valid YAML value (a number, a word, a size like 2MiB, or [a, b])`);
    }
    labels[key] = `--set ${item}`;
  }
  return { overrides, labels };
}

/**
 * Parses --seed: any integer the workload format and the random streams take, 0 to 2^53 - 1
 * (RandomStreams splits it into two 32-bit halves; past 2^53 doubles skip integers).
 */
export function seedOption(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value)) throw new OptionError(`--seed ${raw}: a seed is a whole number from 0 to ${Number.MAX_SAFE_INTEGER} (2^53 - 1)`);
  return value;
}

/**
 * "--seed -1" → "--seed=-1": node's parseArgs takes a value starting with "-" for an option
 * and refuses it with its own message; joined, the value reaches our check, which names it.
 */
export function joinDashValues(argv: readonly string[], stringOptions: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (stringOptions.includes(arg) && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** Parses --shard K/N (1 <= K <= N). */
export function shardOption(raw: string | undefined): { k: number; n: number } | undefined {
  if (raw === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(raw);
  const k = m === null ? NaN : Number(m[1]);
  const n = m === null ? NaN : Number(m[2]);
  if (!(k >= 1 && n >= 1 && k <= n)) throw new OptionError(`--shard: expected K/N with 1 <= K <= N, got "${raw}"`);
  return { k, n };
}
