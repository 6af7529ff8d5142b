import * as hdr from "hdr-histogram-js";

/** Latency percentiles in ns, from an HdrHistogram (3 significant digits). */
export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Longest interval during which some access was in flight and none completed. */
export class ProgressWatch {
  private inFlight = 0;
  private sinceNs = 0;
  longestNs = 0;
  begin(nowNs: number): void {
    if (this.inFlight++ === 0) this.sinceNs = nowNs;
  }
  end(nowNs: number, done: boolean): void {
    this.inFlight--;
    this.longestNs = Math.max(this.longestNs, nowNs - this.sinceNs);
    if (done) this.sinceNs = nowNs;
  }
  finish(nowNs: number): void {
    if (this.inFlight > 0) this.longestNs = Math.max(this.longestNs, nowNs - this.sinceNs);
  }
}

/**
 * Longest interval during which both sides were trying — an access in flight, or a failed one
 * retried at once by the next — and neither completed one.
 */
export class BothStuckWatch {
  private readonly inFlight = { cpu: 0, gpu: 0 };
  /** When a side's last access failed with nothing else of it in flight (it may try again at once). */
  private readonly failedAtNs = { cpu: -1, gpu: -1 };
  private sinceNs = -1;
  longestNs = 0;
  private trying(side: "cpu" | "gpu", nowNs: number): boolean {
    return this.inFlight[side] > 0 || this.failedAtNs[side] === nowNs;
  }
  begin(side: "cpu" | "gpu", nowNs: number): void {
    this.inFlight[side]++;
    const other = side === "cpu" ? "gpu" : "cpu";
    if (!this.trying(other, nowNs)) this.sinceNs = -1; // the other side went idle since
    else if (this.sinceNs < 0) this.sinceNs = nowNs;
  }
  end(side: "cpu" | "gpu", nowNs: number, done: boolean): void {
    const other = side === "cpu" ? "gpu" : "cpu";
    if (this.sinceNs >= 0) {
      // If the other side gave up and did not try again, the stretch ended when it gave up.
      const until = this.trying(other, nowNs) ? nowNs : this.failedAtNs[other];
      this.longestNs = Math.max(this.longestNs, until - this.sinceNs);
      if (until !== nowNs) this.sinceNs = -1;
    }
    this.inFlight[side]--;
    if (!done && this.inFlight[side] === 0) this.failedAtNs[side] = nowNs;
    if (done) this.sinceNs = this.inFlight.cpu > 0 && this.inFlight.gpu > 0 ? nowNs : -1;
  }
  finish(nowNs: number): void {
    if (this.sinceNs >= 0 && this.inFlight.cpu > 0 && this.inFlight.gpu > 0) this.longestNs = Math.max(this.longestNs, nowNs - this.sinceNs);
  }
}

export type Histogram = ReturnType<typeof histogram>;

export function histogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

export function percentiles(h: Histogram): Percentiles {
  if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  return { count: h.totalCount, p50: h.getValueAtPercentile(50), p90: h.getValueAtPercentile(90), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9), max: h.maxValue };
}

/** Migrations per second in `times`, over `buckets` equal buckets of `bucketNs`. */
export function ratePerSecond(times: readonly number[], buckets: number, bucketNs: number): number[] {
  const counts = new Array<number>(buckets).fill(0);
  for (const t of times) counts[Math.min(buckets - 1, Math.floor(t / bucketNs))]!++;
  return counts.map((c) => c / (bucketNs / 1e9));
}
