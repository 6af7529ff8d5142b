import { DEFAULT_BUDGET, type RunBudget } from "../record/budget.ts";
import { UsageError } from "./args.ts";

/** Decimal and binary size units, as people write them on a command line (case does not matter). */
const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };
const COUNT_UNITS: Record<string, number> = { "": 1, k: 1e3, m: 1e6, g: 1e9 };

/** "4GB" → 4e9, "512MiB" → 536870912, "0" → Infinity (no limit). */
export function sizeOption(name: string, raw: string): number {
  return scaled(name, raw, SIZE_UNITS, "a size such as 4GB, 512MiB or 1000000 (bytes), or 0 for no limit");
}

/** "50000000", "50M" → 5e7, "0" → Infinity (no limit). */
export function countOption(name: string, raw: string): number {
  return scaled(name, raw, COUNT_UNITS, "a count such as 50000000 or 50M, or 0 for no limit");
}

function scaled(name: string, raw: string, units: Record<string, number>, expected: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(raw);
  const unit = m === null ? undefined : units[m[2]!.toLowerCase()];
  if (m === null || unit === undefined) throw new UsageError(`--${name}: expected ${expected}, got "${raw}"`);
  const value = Math.floor(Number(m[1]) * unit);
  return value === 0 ? Infinity : value;
}

/** --max-events and --max-bytes over the defaults. */
export function budgetOptions(maxEvents: string | undefined, maxBytes: string | undefined): RunBudget {
  return {
    maxEvents: maxEvents === undefined ? DEFAULT_BUDGET.maxEvents : countOption("max-events", maxEvents),
    maxBytes: maxBytes === undefined ? DEFAULT_BUDGET.maxBytes : sizeOption("max-bytes", maxBytes),
  };
}
