import { PAGE_SIZE } from "../kernel/constants.ts";
import type { RunEvent } from "../machine/run-events.ts";

/**
 * The model objects a checker's sentence names, and which logged events touch them: what the
 * signature and the explanation use to pick the threads and events a problem is about. The
 * prefixes are the checkers' own (src/check/*.ts, the apply's IllegalTransition messages,
 * HungFaultCheck, WriteVersionCheck): `folio N`, `device folio N`, `zdd N`, `devmem N`,
 * `mm N vpn V`, `mm N PMD at vpn V`, `mm N, vpn 0xV`, `mm N read|wrote 0xADDR`, `device pfn N`,
 * `svm range N`, `mm N: vma V`, `copy job N`; `mm N` alone only when nothing else is named.
 */
export type ObjectRef =
  | { kind: "folio"; id: number }
  | { kind: "zdd"; id: number }
  | { kind: "devmem"; id: number }
  | { kind: "page"; mm: number; vpnFirst: number; vpnLast: number }
  | { kind: "pfn"; pfn: number }
  | { kind: "range"; id: number }
  | { kind: "vma"; mm: number; id: number }
  | { kind: "job"; id: number }
  | { kind: "mm"; id: number };

const NUM = "(0x[0-9a-fA-F]+|\\d+)";
const PTRS_PER_PMD = 512;

const num = (s: string): number => (s.startsWith("0x") ? parseInt(s.slice(2), 16) : Number(s));

/** Patterns in the order they claim text: the longer forms first, so `device pfn` is not a folio and `mm N vpn` not a bare mm. */
const PATTERNS: { re: RegExp; make: (m: RegExpExecArray, text: string) => ObjectRef }[] = [
  { re: new RegExp(`\\bmm ${NUM} PMD at vpn ${NUM}`, "g"), make: (m) => page(num(m[1]!), num(m[2]!), PTRS_PER_PMD) },
  { re: new RegExp(`\\bmm ${NUM},? vpn ${NUM}`, "g"), make: (m) => page(num(m[1]!), num(m[2]!), 1) },
  { re: new RegExp(`\\bmm ${NUM} (?:read|wrote) ${NUM}`, "g"), make: (m) => page(num(m[1]!), Math.floor(num(m[2]!) / PAGE_SIZE), 1) },
  { re: new RegExp(`\\bdevice pfn ${NUM}`, "g"), make: (m) => ({ kind: "pfn", pfn: num(m[1]!) }) },
  { re: new RegExp(`\\bfolio ${NUM}`, "g"), make: (m) => ({ kind: "folio", id: num(m[1]!) }) },
  { re: new RegExp(`\\bzdd ${NUM}`, "g"), make: (m) => ({ kind: "zdd", id: num(m[1]!) }) },
  { re: new RegExp(`\\bdevmem ${NUM}`, "g"), make: (m) => ({ kind: "devmem", id: num(m[1]!) }) },
  { re: new RegExp(`\\b(?:svm )?range ${NUM}`, "g"), make: (m) => ({ kind: "range", id: num(m[1]!) }) },
  { re: new RegExp(`\\bcopy job ${NUM}`, "g"), make: (m) => ({ kind: "job", id: num(m[1]!) }) },
  { re: new RegExp(`\\bvma ${NUM}`, "g"), make: (m, text) => ({ kind: "vma", mm: mmBefore(text, m.index), id: num(m[1]!) }) },
];

function page(mm: number, vpn: number, pages: number): ObjectRef {
  return { kind: "page", mm, vpnFirst: vpn, vpnLast: vpn + pages - 1 };
}

/** The mm a `vma N` belongs to: the last `mm N` before it (-1: any). */
function mmBefore(text: string, at: number): number {
  const all = [...text.slice(0, at).matchAll(new RegExp(`\\bmm ${NUM}`, "g"))];
  return all.length === 0 ? -1 : num(all.at(-1)![1]!);
}

/** The objects `message` names, in the order it names them, each once. */
export function namedObjects(message: string): ObjectRef[] {
  let rest = message;
  const found: { at: number; ref: ObjectRef }[] = [];
  for (const { re, make } of PATTERNS) {
    for (const m of message.matchAll(re)) {
      if (rest.slice(m.index, m.index + m[0].length) !== m[0]) continue; // claimed by a longer form
      found.push({ at: m.index, ref: make(m, message) });
      rest = rest.slice(0, m.index) + " ".repeat(m[0].length) + rest.slice(m.index + m[0].length);
    }
  }
  if (found.length === 0) {
    for (const m of rest.matchAll(new RegExp(`\\bmm ${NUM}`, "g"))) found.push({ at: m.index, ref: { kind: "mm", id: num(m[1]!) } });
  }
  const unique = new Map<string, ObjectRef>();
  for (const { ref } of found.sort((a, b) => a.at - b.at)) if (!unique.has(JSON.stringify(ref))) unique.set(JSON.stringify(ref), ref);
  return [...unique.values()];
}

/** How the explanation names an object. */
export function describeObject(o: ObjectRef): string {
  switch (o.kind) {
    case "page":
      return o.vpnFirst === o.vpnLast ? `mm ${o.mm} vpn 0x${o.vpnFirst.toString(16)}` : `mm ${o.mm} vpns 0x${o.vpnFirst.toString(16)}–0x${o.vpnLast.toString(16)}`;
    case "pfn":
      return `device pfn ${o.pfn}`;
    case "range":
      return `svm range ${o.id}`;
    case "vma":
      return o.mm < 0 ? `vma ${o.id}` : `mm ${o.mm} vma ${o.id}`;
    case "job":
      return `copy job ${o.id}`;
    default:
      return `${o.kind} ${o.id}`;
  }
}

type Fields = Record<string, unknown>;
const isNum = (v: unknown): v is number => typeof v === "number";

/** Whether the event reads or changes the object. */
export function touches(ev: RunEvent, o: ObjectRef): boolean {
  const f = ev as unknown as Fields;
  switch (o.kind) {
    case "folio":
      return f.folio === o.id || f.srcFolio === o.id || f.dstFolio === o.id || (Array.isArray(f.folios) && f.folios.includes(o.id));
    case "zdd":
      return f.zdd === o.id;
    case "devmem":
      return f.devmem === o.id;
    case "range":
      return f.range === o.id;
    case "job":
      return ev.kind.startsWith("copy.") && f.job === o.id;
    case "vma":
      return f.vma === o.id && (o.mm < 0 || f.mm === o.mm);
    case "mm":
      return f.mm === o.id || (ev.kind === "mm.fork" && f.parent === o.id);
    case "pfn":
      return touchesPfn(ev, o.pfn);
    case "page":
      return f.mm === o.mm && touchesPage(ev, o.vpnFirst, o.vpnLast);
  }
}

function touchesPfn(ev: RunEvent, pfn: number): boolean {
  if (ev.kind === "folio.alloc") return ev.memory === "device" && ev.pfn <= pfn && pfn < ev.pfn + 2 ** ev.order;
  if (ev.kind === "devmem.init" || ev.kind === "vram.alloc") return ev.pfns.includes(pfn);
  return false;
}

/** An event on vpns [first, last] of its mm: a page, a PMD block, an address or a byte range. */
function touchesPage(ev: RunEvent, first: number, last: number): boolean {
  const f = ev as unknown as Fields;
  const overlaps = (lo: number, hi: number) => lo <= last && hi >= first;
  if (isNum(f.vpn)) return ev.kind.startsWith("pmd.") ? overlaps(f.vpn, f.vpn + PTRS_PER_PMD - 1) : overlaps(f.vpn, f.vpn);
  if (isNum(f.addr)) return overlaps(Math.floor(f.addr / PAGE_SIZE), Math.floor(f.addr / PAGE_SIZE));
  if (isNum(f.start) && isNum(f.end) && f.end > f.start) {
    const lo = Math.floor(f.start / PAGE_SIZE);
    const hi = Math.ceil(f.end / PAGE_SIZE) - 1;
    if (overlaps(lo, hi)) return true;
    if (isNum(f.newStart)) return overlaps(Math.floor(f.newStart / PAGE_SIZE), Math.floor(f.newStart / PAGE_SIZE) + hi - lo);
  }
  return false;
}

/** The key of an object a signature can look its creation up by (null: a page or pfn, never created as such). */
export function objectKey(o: ObjectRef): string | null {
  switch (o.kind) {
    case "page":
    case "pfn":
      return null;
    case "vma":
      return o.mm < 0 ? null : `vma:${o.mm}:${o.id}`;
    default:
      return `${o.kind}:${o.id}`;
  }
}

/** The key of the object `ev` brings into being, if it is a creation. */
export function createdKey(ev: RunEvent): string | null {
  switch (ev.kind) {
    case "folio.alloc":
      return `folio:${ev.folio}`;
    case "zdd.alloc":
      return `zdd:${ev.zdd}`;
    case "vram.alloc": // populate_mm allocates VRAM before drm_pagemap_devmem_init
    case "devmem.init":
      return `devmem:${ev.devmem}`;
    case "svm_range.insert":
      return `range:${ev.range}`;
    case "mm.create":
      return `mm:${ev.mm}`;
    case "vma.insert":
      return `vma:${ev.mm}:${ev.vma}`;
    case "copy.submit":
      return `job:${ev.job}`;
    default:
      return null;
  }
}
