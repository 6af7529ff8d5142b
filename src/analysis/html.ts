import { escapeHtml } from "./format.ts";
import type { Chart, Panel, PanelGroup } from "./render.ts";

/**
 * The report page's frame: inline CSS only, and a Content-Security-Policy that forbids every fetch,
 * so the file is provably self-contained (a stray external reference would fail loudly in the
 * browser's console rather than quietly phone home).
 */
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const CSS = `
:root { color-scheme: light; --ink: #1d1d1f; --muted: #5f6368; --rule: #dadce0; --bad: #b3261e; --ok: #1b7837; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); max-width: 1200px; margin: 0 auto; padding: 1.5rem 1rem 4rem; background: #fff; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 2.5rem 0 .25rem; border-top: 1px solid var(--rule); padding-top: 1rem; }
.meta, .subtitle, .note, footer { color: var(--muted); }
.subtitle { margin: 0 0 .5rem; font-size: .9rem; }
.reading { font-size: 1rem; border-left: 3px solid #4e79a7; padding: .25rem .75rem; margin: .5rem 0 0; max-width: 70rem; }
.note { font-style: italic; }
h3 { font-size: 1rem; margin: 1.25rem 0 .25rem; }
.panels { display: flex; flex-wrap: wrap; gap: .5rem 1rem; }
figure.panel { margin: 0; flex: 0 1 auto; max-width: 100%; }
figure.panel svg { display: block; max-width: 100%; height: auto; }
.legend { display: flex; flex-wrap: wrap; gap: .25rem 1rem; font-size: .85rem; margin: .25rem 0; }
.swatch { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: .3em; vertical-align: -.05em; }
nav ol { columns: 2; margin: .5rem 0; }
table { border-collapse: collapse; font-size: .8rem; margin: .5rem 0; }
.table-wrap { max-width: 100%; overflow-x: auto; }
th, td { border-bottom: 1px solid var(--rule); padding: .2rem .4rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.range { display: block; color: var(--muted); font-size: .75rem; }
.params { font-family: ui-monospace, monospace; font-size: .8rem; }
.error { font-family: ui-monospace, monospace; font-size: .8rem; white-space: pre-wrap; color: var(--bad); max-width: 50rem; }
.bad { color: var(--bad); } .ok { color: var(--ok); }
`;

/** One panel: its SVG, and the numbers it draws as JSON in data-values (what the report test reads). */
function panelFigure(panel: Panel): string {
  return `<figure class="panel${panel.wide ? " wide" : ""}" data-values="${escapeHtml(JSON.stringify(panel.data))}">\n${panel.svg}\n</figure>`;
}

/** One variant's panels under its name, with its reading. */
function groupSection(group: PanelGroup): string {
  return [
    `<div class="variant" data-variant="${escapeHtml(group.title)}">`,
    ...(group.title === "" ? [] : [`<h3>${escapeHtml(group.title)}</h3>`]),
    `<div class="panels">\n${group.panels.map(panelFigure).join("\n")}\n</div>`,
    `<p class="reading">${escapeHtml(group.reading)}</p>`,
    "</div>",
  ].join("\n");
}

/** One chart's section: title, what it is drawn from, legend, then each variant's panels and reading. */
export function chartSection(chart: Chart): string {
  const head = `<section class="chart${chart.kind === "missing" ? " missing" : ""}" id="chart-${chart.id}" data-chart="${chart.id}">\n<h2>${escapeHtml(chart.title)}</h2>`;
  if (chart.kind === "missing") return `${head}\n<p class="note">${escapeHtml(chart.note)}</p>\n</section>`;
  const legend = chart.legend.map((e) => `<span data-series="${escapeHtml(e.label)}"><span class="swatch" style="background:${e.color}"></span>${escapeHtml(e.label)}</span>`).join("");
  return [head, `<p class="subtitle">${escapeHtml(chart.subtitle)}</p>`, `<div class="legend">${legend}</div>`, ...chart.groups.map(groupSection), "</section>"].join("\n");
}

/** The parts of the page, already rendered to HTML (except the title and meta, which are text). */
export interface PageParts {
  title: string;
  meta: string[];
  status: string;
  charts: readonly Chart[];
  table: string;
}

/** The whole HTML document. */
export function page(parts: PageParts): string {
  const nav = parts.charts.map((c) => `<li><a href="#chart-${c.id}">${escapeHtml(c.title)}</a>${c.kind === "missing" ? " (not in these results)" : ""}</li>`).join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(parts.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(parts.title)}</h1>
${parts.meta.map((m) => `<p class="meta">${escapeHtml(m)}</p>`).join("\n")}
<nav><ol>${nav}<li><a href="#configurations">Configurations</a></li></ol></nav>
</header>
<section id="runs">
<h2>Runs</h2>
${parts.status}
</section>
${parts.charts.map(chartSection).join("\n")}
<section id="configurations">
<h2>Configurations</h2>
<p class="subtitle">One table per workload, one row per configuration (policy with its own knobs, timeslice, HZ, other settings that apply to it); figures are the mean over its complete repetitions (seeds), with the min–max range under it when they differ.</p>
${parts.table}
</section>
<footer><p>Written by pagesim report from results.sqlite. Every reading under a chart is computed from these results; docs/report.md explains how to read each chart.</p></footer>
</body>
</html>
`;
}
