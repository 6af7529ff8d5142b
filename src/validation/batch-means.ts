/**
 * The batch-means confidence interval for the mean of a correlated output series (waiting times
 * of successive customers are strongly correlated, so the plain standard error would be far too
 * small). The series is cut into `batches` consecutive batches; their means are close to
 * independent, and a Student-t interval over them covers the true mean.
 */
export interface Interval {
  mean: number;
  halfWidth: number;
  low: number;
  high: number;
}

/** Two-sided 99% Student-t quantiles t(0.995, df). */
const T_995: Record<number, number> = { 9: 3.2498, 19: 2.8609, 29: 2.7564, 39: 2.7079, 49: 2.6800 };

export function batchMeansInterval(series: Float64Array, batches: number): Interval {
  const t = T_995[batches - 1];
  if (t === undefined) throw new Error(`no t quantile tabulated for ${batches} batches`);
  const size = Math.floor(series.length / batches);
  const means: number[] = [];
  for (let b = 0; b < batches; b++) {
    let sum = 0;
    for (let i = b * size; i < (b + 1) * size; i++) sum += series[i]!;
    means.push(sum / size);
  }
  const mean = means.reduce((a, m) => a + m, 0) / batches;
  const variance = means.reduce((a, m) => a + (m - mean) ** 2, 0) / (batches - 1);
  const halfWidth = (t * Math.sqrt(variance)) / Math.sqrt(batches);
  return { mean, halfWidth, low: mean - halfWidth, high: mean + halfWidth };
}
