/**
 * What the notebooks (Deno kernel) share: the repository's root, Observable Plot charts as SVG
 * outputs, HTML tables and Markdown. Deno resolves the bare imports below from the project's
 * node_modules (package.json), as it does src/'s, so this file is type-checked by `npm run
 * typecheck` like the rest (it uses no Deno API the compiler would not know: outputs are plain
 * Jupyter MIME bundles, shown by `show()` through Deno.jupyter.display).
 */
import * as Plot from "@observablehq/plot";
import { parseHTML } from "linkedom";
import { fileURLToPath } from "node:url";

export { Plot };

/** The repository's root directory (this file is notebooks/kit.ts). */
export const root = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

/** A Jupyter MIME bundle; an object with this method is what Deno's kernel displays. */
export type Bundle = Record<string, string>;
const DISPLAY = Symbol.for("Jupyter.display");
export interface Displayable {
  [DISPLAY](): Bundle;
}

/** The little of the DOM this file touches (the compiler has no DOM library here). */
interface DomElement {
  tagName: string;
  outerHTML: string;
  setAttribute(name: string, value: string): void;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
}

function displayable(bundle: Bundle): Displayable {
  return { [DISPLAY]: () => bundle };
}

/** Plot needs a DOM to draw into; linkedom gives it one outside a browser. */
const { document } = parseHTML("<!DOCTYPE html><html><head></head><body></body></html>");

/**
 * Plot.plot(options) as an `image/svg+xml` output (what GitHub and VS Code render in a stored
 * notebook). Keep charts to a bare <svg>: a title, subtitle, caption or legend makes Plot wrap it
 * in a <figure>, which is shown as text/html instead. Label series directly (a text mark).
 */
export function chart(options: Plot.PlotOptions): Displayable {
  const node = Plot.plot({ style: { background: "white", color: "black" }, ...options, document }) as unknown as DomElement;
  if (node.tagName.toLowerCase() === "svg") {
    node.setAttribute("xmlns", "http://www.w3.org/2000/svg");
    return displayable({ "image/svg+xml": node.outerHTML });
  }
  for (const svg of Array.from(node.querySelectorAll("svg"))) svg.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  return displayable({ "text/html": node.outerHTML });
}

/**
 * A legend drawn by the chart itself, one text mark per entry from its top-right corner (in the
 * right margin by default: give the chart a marginRight), so the chart stays a bare <svg>.
 */
export function legend(entries: readonly (readonly [label: string, color: string])[], options: { dx?: number; dy?: number } = {}): Plot.Markish[] {
  // facet "super": once for the whole chart, not in every facet.
  return entries.map(([label, color], i) =>
    Plot.text([`\u25a0 ${label}`], { frameAnchor: "top-right", textAnchor: "start", fill: color, dx: options.dx ?? 12, dy: (options.dy ?? 0) + 14 * i, fontSize: 11, facet: "super" }),
  );
}

const escapeHtml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** A number as a table shows it: integers with thousands separators, others to 4 significant digits. */
export function fmt(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v !== "number") return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString("en-US");
  return Number(v.toPrecision(4)).toString();
}

export interface Column<R> {
  /** The header. */
  label: string;
  value: (row: R) => unknown;
  /** Right-aligned (default for numbers). */
  numeric?: boolean;
}

/** Rows as an HTML table (text/html output), with a plain-text copy for terminals. */
export function table<R extends object>(rows: readonly R[], columns?: readonly Column<R>[]): Displayable {
  const cols: Column<R>[] = columns !== undefined ? [...columns] : Object.keys(rows[0] ?? {}).map((k) => ({ label: k, value: (r: R) => (r as Record<string, unknown>)[k] }));
  const cells = rows.map((r) => cols.map((c) => c.value(r)));
  const numeric = cols.map((c, j) => c.numeric ?? cells.every((row) => typeof row[j] === "number" || row[j] === null || row[j] === undefined));
  const align = (j: number) => (numeric[j] === true ? ' style="text-align:right"' : ' style="text-align:left"');
  const head = cols.map((c, j) => `<th${align(j)}>${escapeHtml(c.label)}</th>`).join("");
  const body = cells.map((row) => `<tr>${row.map((v, j) => `<td${align(j)}>${escapeHtml(fmt(v))}</td>`).join("")}</tr>`).join("\n");
  const html = `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
  const text = [cols.map((c) => c.label), ...cells.map((row) => row.map(fmt))];
  const widths = cols.map((_, j) => Math.max(...text.map((row) => row[j]!.length)));
  const plain = text.map((row) => row.map((s, j) => (numeric[j] === true ? s.padStart(widths[j]!) : s.padEnd(widths[j]!))).join("  ").trimEnd()).join("\n");
  return displayable({ "text/html": html, "text/plain": plain });
}

/** Markdown text as an output (for readings computed from the numbers). */
export function markdown(text: string): Displayable {
  return displayable({ "text/markdown": text, "text/plain": text });
}

interface DenoJupyter {
  display(obj: unknown, options?: { raw?: boolean }): Promise<void>;
}

/**
 * How long show() waits after its last output. Deno's kernel (2.x) queues a cell's outputs and can
 * report the cell finished (iopub status "idle") before the queue has drained; nbconvert then
 * drops the late outputs. A moment's wait lets them go out first.
 */
const SETTLE_MS = 100;

/**
 * Shows each item as its own output, in order (a cell's last expression shows only one). End
 * every cell that has outputs with it, and print with it too (text()) rather than console.log:
 * see SETTLE_MS.
 */
export async function show(...items: Displayable[]): Promise<void> {
  const deno = (globalThis as { Deno?: { jupyter?: DenoJupyter } }).Deno;
  if (deno?.jupyter === undefined) throw new Error("show() needs Deno's Jupyter kernel");
  for (const item of items) await deno.jupyter.display(item[DISPLAY](), { raw: true });
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
}

/** Plain text as an output. */
export function text(s: string): Displayable {
  return displayable({ "text/plain": s });
}

/** Mean of xs; NaN for none. */
export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}
