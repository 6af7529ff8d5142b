import { HPAGE_PMD_SIZE } from "../kernel/constants.ts";
import type { FaultPoint } from "../faults/injector.ts";
import { parseAddress, parseDurationNs, parseSizeBytes } from "../workload/units.ts";
import type { StepInput, ThreadInput } from "./shrink-refs.ts";
import type { WorkloadInput } from "./types.ts";

/**
 * The shrinker's simplifications (design note §2.5), after threads and steps are cut: each edit
 * looks at the workload as it is when tried and offers candidates, simplest first; the shrinker
 * keeps the first that still fails. A `repeat` edit is offered again after it was taken (halving
 * a time until it no longer fails). None removes a step or a thread; none touches `platform`,
 * `policy`, `model.variant`, `seed` or `expect`.
 */
export interface Edit {
  what: string;
  repeat: boolean;
  candidates: (w: WorkloadInput) => WorkloadInput[];
}

type FaultRule = NonNullable<NonNullable<WorkloadInput["faults"]>[FaultPoint]>;
type Fields = Record<string, unknown>;

/** How many first calls `probability → nth` tries: the first injection is usually early. */
const NTH_PROBES = 8;

const hex = (n: number): string => `0x${n.toString(16)}`;
const half = (n: number): number => Math.floor(n / 2);

/** Every simplification of `w`, in the order they are tried. */
export function simplifications(w: WorkloadInput): Edit[] {
  return [...faultEdits(w), ...modelEdits(), ...threadEdits(w), ...w.threads.flatMap((t, ti) => (t.steps ?? []).flatMap((_, si) => stepEdits(ti, si))), ...mappingEdits(w)];
}

function withFaults(w: WorkloadInput, point: FaultPoint, rule: FaultRule | undefined): WorkloadInput {
  const faults = { ...w.faults };
  if (rule === undefined) delete faults[point];
  else faults[point] = rule;
  return dropUndefined({ ...w, faults: Object.keys(faults).length === 0 ? undefined : faults });
}

/** Each fault rule: gone; else a probability made a call number (or dropped beside one); else one call number of several. */
function faultEdits(w: WorkloadInput): Edit[] {
  const points = Object.keys(w.faults ?? {}).sort() as FaultPoint[];
  return points.map((point) => ({
    what: `faults.${point}`,
    repeat: false,
    candidates: (cur) => {
      const rule = cur.faults?.[point];
      if (rule === undefined) return [];
      const out = [withFaults(cur, point, undefined)];
      const nth = rule.nth ?? [];
      if (rule.probability !== undefined && nth.length > 0) out.push(withFaults(cur, point, { nth }));
      if (rule.probability !== undefined && nth.length === 0) for (let k = 1; k <= NTH_PROBES; k++) out.push(withFaults(cur, point, { nth: [k] }));
      if (rule.probability === undefined && nth.length > 1) for (const n of nth) out.push(withFaults(cur, point, { nth: [n] }));
      return out;
    },
  }));
}

/** Model features off: THP, device THP, deferred zdd release, IRQ-context frees; a `schedule:` back to FIFO ties and no jitter. */
function modelEdits(): Edit[] {
  const model = (what: string, set: (m: NonNullable<WorkloadInput["model"]>) => boolean): Edit => ({
    what,
    repeat: false,
    candidates: (cur) => {
      const m = { ...cur.model };
      return set(m) ? [{ ...cur, model: m }] : [];
    },
  });
  return [
    model("model.thp", (m) => m.thp === "always" && ((m.thp = "never"), true)),
    model("model.deviceThp", (m) => m.deviceThp === true && ((m.deviceThp = false), true)),
    model("model.zddRelease", (m) => m.zddRelease === "deferred" && ((m.zddRelease = "inline"), true)),
    { what: "irqFrees", repeat: false, candidates: (cur) => (cur.irqFrees === undefined ? [] : [{ ...cur, irqFrees: undefined }].map(dropUndefined)) },
    // schedule: (issue #18 slice 4) is not in every schema version: edited only where present.
    { what: "schedule.jitter", repeat: false, candidates: (cur) => scheduleEdit(cur, "jitter", 0) },
    { what: "schedule.ties", repeat: false, candidates: (cur) => scheduleEdit(cur, "ties", "fifo") },
  ];
}

function scheduleEdit(w: WorkloadInput, key: string, value: unknown): WorkloadInput[] {
  const schedule = (w as Fields).schedule;
  if (typeof schedule !== "object" || schedule === null || !(key in schedule) || (schedule as Fields)[key] === value) return [];
  return [{ ...w, schedule: { ...schedule, [key]: value } } as WorkloadInput];
}

const dropUndefined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

function withThread(w: WorkloadInput, ti: number, t: ThreadInput): WorkloadInput {
  return { ...w, threads: w.threads.map((old, i) => (i === ti ? t : old)) };
}

/** Replicas down to one (or half), a pattern dropped beside steps, or its accesses halved. */
function threadEdits(w: WorkloadInput): Edit[] {
  return w.threads.flatMap((_, ti): Edit[] => [
    { what: `threads.${ti}.count`, repeat: true, candidates: (cur) => halving(cur.threads[ti]!.count ?? 1, 1).map((count) => withThread(cur, ti, { ...cur.threads[ti]!, count })) },
    {
      what: `threads.${ti}.pattern`,
      repeat: true,
      candidates: (cur) => {
        const t = cur.threads[ti]!;
        if (t.pattern === undefined) return [];
        const out = (t.steps ?? []).length > 0 ? [withThread(cur, ti, dropUndefined({ ...t, pattern: undefined }))] : [];
        return [...out, ...halving(t.pattern.count, 1).map((count) => withThread(cur, ti, { ...t, pattern: { ...t.pattern!, count } }))];
      },
    },
  ]);
}

/** `v` down to `floor`, then to half of it (each only where smaller than `v`). */
function halving(v: number, floor: number): number[] {
  return [...new Set([floor, half(v)])].filter((n) => n >= floor && n < v);
}

function withStep(w: WorkloadInput, ti: number, si: number, s: StepInput): WorkloadInput {
  const t = w.threads[ti]!;
  return withThread(w, ti, { ...t, steps: (t.steps ?? []).map((old, i) => (i === si ? s : old)) });
}

/** A step field edited: `values` maps its current value to the candidates (undefined removes the field). */
function stepField(ti: number, si: number, key: string, repeat: boolean, values: (v: unknown, w: WorkloadInput) => unknown[]): Edit {
  return {
    what: `threads.${ti}.steps.${si}.${key}`,
    repeat,
    candidates: (cur) => {
      const s = cur.threads[ti]!.steps![si]! as Fields;
      if (!(key in s)) return [];
      return values(s[key], cur).map((v) => withStep(cur, ti, si, dropUndefined({ ...s, [key]: v }) as StepInput));
    },
  };
}

/** A duration removed (when optional) or set to 0, then halved, in nanoseconds. */
const shorter = (optional: boolean) => (v: unknown): unknown[] => {
  const ns = parseDurationNs(v as number | string);
  if (ns === null || ns === 0) return optional && ns === 0 ? [undefined] : [];
  return [optional ? undefined : 0, ...(half(ns) > 0 ? [half(ns)] : [])];
};

/** An address moved to the start of the mapping holding it, else down to a 2 MiB boundary. */
function snapped(v: unknown, w: WorkloadInput): unknown[] {
  const addr = parseAddress(v as number | string);
  if (addr === null) return [];
  const holder = (w.mappings ?? []).find((m) => {
    const start = parseAddress(m.addr);
    const size = parseSizeBytes(m.size);
    return start !== null && size !== null && addr >= start && addr < start + size;
  });
  const targets = [holder === undefined ? null : parseAddress(holder.addr), addr - (addr % HPAGE_PMD_SIZE)];
  return [...new Set(targets.filter((a): a is number => a !== null && a !== addr))].map(hex);
}

function stepEdits(ti: number, si: number): Edit[] {
  return [
    stepField(ti, si, "at", true, shorter(true)),
    stepField(ti, si, "after", true, shorter(true)),
    stepField(ti, si, "duration", true, shorter(false)),
    stepField(ti, si, "pages", true, (v) => halving(v as number, 1)),
    stepField(ti, si, "addr", false, snapped),
    stepField(ti, si, "start", false, snapped),
    stepField(ti, si, "newAddr", false, snapped),
  ];
}

/** Each mapping removed, last first (so earlier edits' indices hold); invalid where a step still uses it. */
function mappingEdits(w: WorkloadInput): Edit[] {
  return (w.mappings ?? []).map((m): Edit => ({
    what: `mappings ${String(m.addr)}`,
    repeat: false,
    candidates: (cur: WorkloadInput) => {
      const rest = (cur.mappings ?? []).filter((x) => x.addr !== m.addr);
      return rest.length === (cur.mappings ?? []).length ? [] : [{ ...cur, mappings: rest }];
    },
  })).reverse();
}
