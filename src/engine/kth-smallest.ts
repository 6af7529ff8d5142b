/**
 * Quickselect for the event queue's width estimate: the k-th smallest of a[0, n) in O(n) expected,
 * rather than sorting a whole ring's times at every rebuild.
 */
/** k-th smallest (0-based) of a[0, n); reorders a. */
export function kthSmallest(a: Float64Array, n: number, k: number): number {
  let l = 0;
  let r = n - 1;
  while (l < r) {
    const p = a[(l + r) >> 1]!;
    let i = l;
    let j = r;
    while (i <= j) {
      while (a[i]! < p) i++;
      while (a[j]! > p) j--;
      if (i <= j) {
        const x = a[i]!;
        a[i] = a[j]!;
        a[j] = x;
        i++;
        j--;
      }
    }
    if (k <= j) r = j;
    else if (k >= i) l = i;
    else return a[k]!;
  }
  return a[k]!;
}
