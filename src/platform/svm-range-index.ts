/** What the index needs of a range (R in events.ts). */
interface Range {
  readonly id: number;
  readonly mm: number;
  readonly start: number;
  readonly end: number;
}

/**
 * The live GPU SVM ranges of each mm, sorted by address, for lookups by address and by overlap
 * in O(log n): drm_gpusvm keeps its ranges in an interval tree for the same reason (a scan of
 * every range on every GPU access and fault made each cost the number of ranges). Ranges of one
 * mm never overlap (svm_range.insert refuses it), so sorting by start sorts by end as well.
 *
 * It is derived state, kept beside the world's state rather than in it (so the state digest is
 * unchanged) and maintained by applyPlatformEvent, so a replay builds the same index.
 */
export class SvmRangeIndex<R extends Range = Range> {
  private readonly byMm = new Map<number, R[]>();

  insert(r: R): void {
    let list = this.byMm.get(r.mm);
    if (list === undefined) this.byMm.set(r.mm, (list = []));
    list.splice(this.firstEndingAfter(list, r.start), 0, r);
  }

  remove(r: R): void {
    const list = this.byMm.get(r.mm);
    const at = list === undefined ? -1 : list.indexOf(r, this.firstEndingAfter(list, r.start));
    if (at < 0) throw new Error(`svm range ${r.id} is not in the index`);
    list!.splice(at, 1);
  }

  /** The range of `mm` containing `addr`, if any. */
  at(mm: number, addr: number): R | undefined {
    const list = this.byMm.get(mm);
    if (list === undefined) return undefined;
    const r = list[this.firstEndingAfter(list, addr)];
    return r !== undefined && r.start <= addr ? r : undefined;
  }

  /** The ranges of `mm` overlapping [start, end), in id order (the order they were created). */
  overlapping(mm: number, start: number, end: number): R[] {
    const list = this.byMm.get(mm);
    if (list === undefined) return [];
    const out: R[] = [];
    for (let i = this.firstEndingAfter(list, start); i < list.length && list[i]!.start < end; i++) out.push(list[i]!);
    return out.sort((a, b) => a.id - b.id);
  }

  /** The index of the first range whose end is after `addr` (binary search). */
  private firstEndingAfter(list: R[], addr: number): number {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.end <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

const indexes = new WeakMap<object, SvmRangeIndex<Range>>();

/** The index of a world state's SVM ranges (created empty with the state's first range). */
export function svmRangeIndexOf<R extends Range>(state: { svmRanges: Map<number, R> }): SvmRangeIndex<R> {
  let index = indexes.get(state);
  if (index === undefined) indexes.set(state, (index = new SvmRangeIndex()));
  return index as SvmRangeIndex<R>;
}
