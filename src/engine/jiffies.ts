/**
 * The kernel's tick clock. `jiffies` advances by one at every timer tick, HZ times a second;
 * drm_pagemap's migration timeslice is kept in jiffies, so its granularity is 1/HZ.
 */
export type Hz = 100 | 250 | 300 | 1000;
export const SUPPORTED_HZ: readonly Hz[] = [100, 250, 300, 1000];

const NS_PER_SEC = 1_000_000_000;
const MSEC_PER_SEC = 1000;

/** The kernel's MAX_JIFFY_OFFSET on 64-bit: ((LONG_MAX >> 1) - 1), as a float64 (not exact). */
export const MAX_JIFFY_OFFSET = 2 ** 62 - 1;

/** The clock reads simulated time from whatever owns it (the engine). */
export interface TimeSource {
  readonly nowNs: number;
}

export class JiffiesClock {
  readonly hz: Hz;
  /**
   * Value of jiffies_64 at simulated time 0. The kernel starts it at INITIAL_JIFFIES, five
   * minutes before a 32-bit wrap, to catch wrap bugs early; we start at 0 so times read
   * plainly. Comparisons use time_after64 semantics on float64, exact to 2^53.
   */
  readonly initialJiffies: number;

  constructor(
    private readonly time: TimeSource,
    hz: number,
    initialJiffies = 0,
  ) {
    if (!SUPPORTED_HZ.includes(hz as Hz)) {
      throw new RangeError(`HZ must be one of ${SUPPORTED_HZ.join(", ")}, got ${hz}`);
    }
    this.hz = hz as Hz;
    this.initialJiffies = initialJiffies;
  }

  /** get_jiffies_64(): ticks completed by now; advances exactly at tick boundaries. */
  getJiffies64(): number {
    return this.initialJiffies + ticksAt(this.time.nowNs, this.hz);
  }

  /** msecs_to_jiffies(ms): rounds up, so a nonzero time never becomes 0 ticks. */
  msecsToJiffies(ms: number): number {
    return msecsToJiffies(ms, this.hz);
  }

  /** jiffies_to_msecs(j). */
  jiffiesToMsecs(j: number): number {
    return Math.ceil((j * MSEC_PER_SEC) / this.hz);
  }

  /** Simulated time (ns) at which jiffies_64 first reads `j`: the start of that tick. */
  nsAtJiffies(j: number): number {
    const ticks = j - this.initialJiffies;
    if (ticks <= 0) return 0;
    const whole = Math.floor(ticks / this.hz);
    const rest = ticks - whole * this.hz;
    return whole * NS_PER_SEC + Math.ceil((rest * NS_PER_SEC) / this.hz);
  }
}

/** Whole ticks elapsed at `tNs` (floor(tNs * hz / 1e9), computed without losing precision). */
export function ticksAt(tNs: number, hz: number): number {
  const secs = Math.floor(tNs / NS_PER_SEC);
  const remNs = tNs - secs * NS_PER_SEC;
  return secs * hz + Math.floor((remNs * hz) / NS_PER_SEC);
}

/**
 * msecs_to_jiffies: the kernel rounds up (for HZ dividing 1000: (ms + 1000/HZ - 1) / (1000/HZ);
 * otherwise the same ceiling through a multiply-shift), and clamps negative or huge inputs to
 * MAX_JIFFY_OFFSET.
 */
export function msecsToJiffies(ms: number, hz: number): number {
  if (!Number.isInteger(ms)) throw new RangeError(`msecs_to_jiffies takes an integer, got ${ms}`);
  if (ms < 0) return MAX_JIFFY_OFFSET;
  const j = Math.ceil((ms * hz) / MSEC_PER_SEC);
  return j > MAX_JIFFY_OFFSET ? MAX_JIFFY_OFFSET : j;
}

/** time_after64(a, b): true if a is later than b. */
export function timeAfter64(a: number, b: number): boolean {
  return b - a < 0;
}

/** time_before64(a, b). */
export function timeBefore64(a: number, b: number): boolean {
  return timeAfter64(b, a);
}
