import type { RunTimeslice } from "../platform/timeslice.ts";

/**
 * Number and label formatting for the report's text. Locale-free on purpose: the same results must
 * give the same bytes on every machine, whatever its LANG.
 */

/** A value to three significant figures, with k/M/G for large magnitudes: 1234 → "1.23 k". */
export function formatValue(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const abs = Math.abs(x);
  // k from 10 000 up: four-digit values read fine as they are.
  for (const [from, scale, suffix] of [[1e9, 1e9, " G"], [1e6, 1e6, " M"], [1e4, 1e3, " k"]] as const) {
    if (abs >= from) return `${trim(x / scale, 3)}${suffix}`;
  }
  return trim(x, 3);
}

/** Rounds to `digits` significant figures and drops trailing zeros (never exponent notation). */
export function trim(x: number, digits: number): string {
  if (x === 0) return "0";
  const rounded = Number(x.toPrecision(digits));
  return Math.abs(rounded) < 1e-3 ? rounded.toExponential(1) : String(rounded);
}

/** How many times a is b: "1.2×"; "n/a" when b is zero. Two figures: a ratio's third is noise. */
export function formatRatio(a: number, b: number): string {
  if (b === 0) return a === 0 ? "1×" : "n/a";
  return `${trim(a / b, 2)}×`;
}

/** a as a percentage of b: "66%"; "n/a" when b is zero. */
export function formatPercent(a: number, b: number): string {
  return b === 0 ? "n/a" : `${trim((100 * a) / b, 2)}%`;
}

/** A run's timeslice as recorded (ms, "unused", "mixed": src/platform/timeslice.ts), or "unrecorded" by an older pagesim. */
export type Timeslice = RunTimeslice | "unrecorded";

/** A timeslice as text: "5 ms", "mixed", "not recorded", or "not used" by the run. */
export function timesliceText(t: Timeslice): string {
  if (typeof t === "number") return `${trim(t, 4)} ms`;
  return { unused: "not used", mixed: "mixed", unrecorded: "not recorded" }[t];
}

/** A timeslice in a sentence: "5 ms", or "no single" when the configurations have none in common. */
export function timesliceLabel(ms: number | null): string {
  return ms === null ? "no single" : timesliceText(ms);
}

/** HZ as text: "HZ 250", or "HZ default" when the sweep did not set it. */
export function hzLabel(hz: number | null): string {
  return hz === null ? "HZ default" : `HZ ${hz}`;
}

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** A parameter value as the sweep file would spell it. */
export function paramText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** A configuration as text: "xe · 5 ms · HZ 250". */
export function configLabel(c: { policy: string; timeslice: Timeslice; hz: number | null }): string {
  return `${c.policy} · ${timesliceText(c.timeslice)} · ${hzLabel(c.hz)}`;
}
