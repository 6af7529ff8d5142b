import { readFileSync, statSync } from "node:fs";
import { isAlias, isCollection, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { WorkloadError } from "./errors.ts";
import { fsProblem } from "./fs-problem.ts";

/**
 * How many nodes aliases may add to a file once expanded. A workload or sweep written out by
 * hand is a few thousand nodes; the "billion laughs" (nine anchors of nine aliases each) would be
 * 9^9, and every later step (validation, overrides) walks the expansion.
 */
export const MAX_ALIAS_NODES = 100_000;

/** A file's text; `what` says what kind of file in the message ("workload", "sweep file"…). */
export function readTextFile(path: string, what: string): string {
  try {
    if (statSync(path).isDirectory()) throw new WorkloadError(`${path}: is a directory; expected a ${what} (.yaml)`);
    return readFileSync(path, "utf8");
  } catch (error) {
    if (error instanceof WorkloadError) throw error;
    throw new WorkloadError(`${path}: cannot read the ${what} (${fsProblem(error)})`);
  }
}

export interface YamlFile {
  path: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** ":line:col" of a source offset. */
  at(offset: number): string;
}

/** Parses YAML, naming the file, line and column of the first syntax error or alias bomb. */
export function parseYamlFile(text: string, path: string): YamlFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new WorkloadError(`${path}${at(e.pos[0])}: not valid YAML: ${e.message.split("\n")[0]}`);
  }
  checkAliases(doc, (offset) => `${path}${at(offset)}`);
  return { path, doc, lineCounter, at };
}

/**
 * Counts, in one pass in document order, the nodes each alias stands for (an anchor's size is
 * remembered, so nesting costs nothing to count), and refuses the file at the alias that takes
 * the total past MAX_ALIAS_NODES. The yaml package's own guard (maxAliasCount) throws a
 * ReferenceError with no place in it; the documents we pass it have been checked here.
 */
function checkAliases(doc: Document.Parsed, place: (offset: number) => string): void {
  const anchors = new Map<string, Node>();
  const sizes = new Map<Node, number>();
  let added = 0;
  const walk = (node: unknown): number => {
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      const n = target === undefined ? 1 : (sizes.get(target) ?? 1);
      added += n;
      if (added > MAX_ALIAS_NODES) {
        throw new WorkloadError(`${place(node.range?.[0] ?? 0)}: too many aliases: expanding them makes more than ${MAX_ALIAS_NODES.toLocaleString("en-US")} nodes (a "billion laughs"); write the values out instead`);
      }
      return n;
    }
    if (node === null || typeof node !== "object") return 1;
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor !== undefined) anchors.set(anchor, node as Node);
    let n = 1;
    if (isCollection(node)) for (const item of node.items) n += isPair(item) ? walk(item.key) + walk(item.value) : walk(item);
    if (anchor !== undefined) sizes.set(node as Node, n);
    return n;
  };
  walk(doc.contents);
}

/** The JS value of a checked document: aliases are bounded above, so the package's guard is off. */
export function documentValue(doc: Document.Parsed): unknown {
  return doc.toJS({ maxAliasCount: -1 }) as unknown;
}

/** Why a document is not a mapping of keys ("it is empty", "it is a list"), or undefined when it is one. */
export function notAMapping(doc: Document.Parsed): string | undefined {
  const c = doc.contents;
  if (isMap(c)) return undefined;
  if (c === null || (isScalar(c) && c.value === null)) return "it is empty";
  if (isSeq(c)) return "it is a list";
  return "it is a single value";
}
