/** Durations and sizes as workload files write them: a number, or a number with a unit. */
const TIME_UNITS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9 };
const SIZE_UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** "5ms" → 5_000_000; 250 → 250 (ns). Null when it is not a duration. */
export function parseDurationNs(value: number | string): number | null {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 ? value : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s)\s*$/.exec(value);
  if (m === null) return null;
  const ns = Number(m[1]) * TIME_UNITS[m[2]!]!;
  return Number.isInteger(ns) ? ns : null;
}

/** "2MiB" → 2097152; 4096 → 4096. Null when it is not a size. */
export function parseSizeBytes(value: number | string): number | null {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 ? value : null;
  const m = /^\s*(\d+)\s*(B|KiB|MiB|GiB)\s*$/.exec(value);
  if (m === null) return null;
  return Number(m[1]) * SIZE_UNITS[m[2]!]!;
}

/** Addresses: a number (YAML reads 0x4000000 as one) or a hex string. */
export function parseAddress(value: number | string): number | null {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : null;
  const m = /^\s*0x([0-9a-fA-F]+)\s*$/.exec(value);
  return m === null ? null : parseInt(m[1]!, 16);
}
