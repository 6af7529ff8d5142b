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
  /** What the chart says, computed from the data; per variant in `groups`, this is for the whole. */
  reading: string;
  /** One group of panels per variant (workload and other settings): different workloads never share a mark. */
  groups: PanelGroup[];
  /** Colour key shown above the panels (Plot's own legend needs a <figure>; we keep bare SVG). */
  legend: LegendEntry[];
}

/** The panels of one variant, under its name, with their own reading. */
export interface PanelGroup {
  /** The variant: "atomic-ping-pong.yaml" (empty when the results have one variant only). */
  title: string;
  panels: Panel[];
  /** What this variant's panels say, computed from its data alone. */
  reading: string;
}

/** One SVG and the numbers it draws, so a reader (or a test) can check each mark against the results. */
export interface Panel {
  svg: string;
  /** One row per drawn datum: who it is and the figures its mark shows (written as data-values JSON). */
  data: Record<string, string | number | null>[];
  /** Full page width, or half (two side by side). */
  wide: boolean;
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

/**
 * Panel widths in px: the page's content is at most 1200 px wide (html.ts), so a wide panel and
 * two narrow ones side by side fit a 1280 px laptop screen without scrolling.
 */
export const WIDE = 1180;
export const NARROW = 580;

/** Size and type shared by every panel: readable on a laptop, and printable. */
export const BASE: Plot.PlotOptions = {
  width: NARROW,
  height: 280,
  marginLeft: 64,
  marginRight: 24,
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

/**
 * Dodging: marks of different policies at one category (a timeslice, an HZ, a percentile) sit
 * side by side instead of on top of each other. Each category is one unit of a linear x scale; the
 * policies present there spread across the middle of it, in legend order, so equal values stay
 * visible. `slot` is the category's index; the result is the mark's x.
 */
export function dodgedX(slot: number, rank: number, present: number): number {
  // At most 70% of the category's width, so neighbouring categories stay apart.
  const step = Math.min(0.14, 0.7 / Math.max(1, present));
  return slot + (rank - (present - 1) / 2) * step;
}

/** Plot x-scale options for dodged categories: one tick per category, labelled with its name. */
export function dodgedScale(categories: readonly string[], label: string): Plot.ScaleOptions {
  return { type: "linear", domain: [-0.5, categories.length - 0.5], ticks: categories.map((_, i) => i), tickFormat: (i: number) => categories[i] ?? "", label, grid: false };
}

/**
 * Adds each datum's dodged x (`xPos`): within each facet and category, the series present there
 * are ranked in `order` (the legend's).
 */
export function dodge<T extends { series: string; category: string; facet?: string }>(data: readonly T[], categories: readonly string[], order: readonly string[]): (T & { xPos: number })[] {
  const present = new Map<string, string[]>();
  for (const d of data) {
    const key = `${d.facet ?? ""}\u0000${d.category}`;
    present.set(key, [...new Set([...(present.get(key) ?? []), d.series])]);
  }
  return data.map((d) => {
    const here = present.get(`${d.facet ?? ""}\u0000${d.category}`)!.sort((a, b) => order.indexOf(a) - order.indexOf(b));
    return { ...d, xPos: dodgedX(categories.indexOf(d.category), here.indexOf(d.series), here.length) };
  });
}

/** A chart's whole reading: each variant's, named when there are several. */
export function joinReadings(groups: readonly PanelGroup[]): string {
  return groups.map((g) => (g.title === "" ? g.reading : `${g.title}: ${g.reading}`)).join(" ");
}
