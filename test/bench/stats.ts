/** The benchmarks' statistics over timings in ms. */

/** The `q`-quantile (0 ≤ q ≤ 1) of `values`, in any order: the value at rank ⌊q·n⌋ of the sorted values. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError('no values');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}
