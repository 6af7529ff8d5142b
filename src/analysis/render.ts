import * as Plot from "@observablehq/plot";
import { parseHTML } from "linkedom";

/** A chart the results had the data for. */
export interface DrawnChart {
  kind: "drawn";
  /** Stable id: the HTML section's id and what writeReport lists. */
  id: string;
  title: string;
  /** What it is drawn from: which runs, what is averaged over. */
  subtitle: string;
  /** One or two sentences computed from the data: what the chart says. */
  reading: string;
  /** SVG markup, one per panel (e.g. GPU and CPU side by side). */
  panels: string[];
  /** Colour key shown above the panels (Plot's own legend needs a <figure>; we keep bare SVG). */
  legend: LegendEntry[];
}

/** A chart whose data is not in these results: shown as a short note instead. */
export interface MissingChart {
  kind: "missing";
  id: string;
  title: string;
  /** Which metric or table is missing. */
  note: string;
}

export type Chart = DrawnChart | MissingChart;

export interface LegendEntry {
  label: string;
  color: string;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Tableau 10: distinguishable, and fixed so a policy keeps its colour across charts and runs. */
const PALETTE = ["#4e79a7", "#f28e2c", "#e15759", "#76b7b2", "#59a14f", "#edc949", "#af7aa1", "#ff9da7", "#9c755f", "#bab0ab"];

/** Colours for a list of categories, in order (the palette repeats past ten). */
export function colors(categories: readonly string[]): LegendEntry[] {
  return categories.map((label, i) => ({ label, color: PALETTE[i % PALETTE.length]! }));
}

/** Plot's colour scale for those entries, so marks and the HTML legend agree. */
export function colorScale(entries: readonly LegendEntry[]): Plot.ScaleOptions {
  return { type: "categorical", domain: entries.map((e) => e.label), range: entries.map((e) => e.color) };
}

/** Size and type shared by every panel: readable on a laptop, and printable. */
export const BASE: Plot.PlotOptions = {
  width: 640,
  height: 300,
  marginLeft: 64,
  marginRight: 90,
  marginBottom: 40,
  style: { fontSize: "11px", background: "white", overflow: "visible" },
  grid: true,
};

/**
 * Renders Plot options to SVG markup without a browser: linkedom supplies the document (Plot takes
 * it as an option). `figure: false` keeps a bare <svg>; titles live in our HTML instead. Plot's
 * clip, marker and pattern ids come from process-wide counters, so no chart may use them, or the
 * same results would give different bytes.
 */
export function renderSvg(options: Plot.PlotOptions): string {
  const { document } = parseHTML("<!doctype html><html><body></body></html>");
  const svg = Plot.plot({ ...BASE, ...options, figure: false, document: document as unknown as NonNullable<Plot.PlotOptions["document"]> });
  svg.setAttribute("xmlns", SVG_NS);
  return svg.outerHTML;
}

/** The note a chart shows when its inputs are absent. */
export function missing(id: string, title: string, what: readonly string[]): MissingChart {
  return { kind: "missing", id, title, note: `Not in these results: ${what.join(", ")}.` };
}
