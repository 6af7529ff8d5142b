import { xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import type { JumpableRandomGenerator } from "pure-rand/types/JumpableRandomGenerator";

/**
 * Independent random streams, one per named component, all derived from one master seed.
 *
 * A stream's starting state is a hash of (seed, name), so adding a component, or drawing more
 * numbers in one, never shifts the numbers another component draws. The generator itself is
 * pure-rand's xoroshiro128+ (period 2^128 - 1); we only derive its 128-bit starting state.
 */
export class RandomStreams {
  private readonly streams = new Map<string, RandomStream>();

  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  }

  /** The stream named `name`, created on first use. */
  stream(name: string): RandomStream {
    let s = this.streams.get(name);
    if (s === undefined) {
      s = new RandomStream(name, xoroshiro128plusFromState(streamState(this.seed, name)));
      this.streams.set(name, s);
    }
    return s;
  }
}

/** One component's random numbers. */
export class RandomStream {
  constructor(
    readonly name: string,
    private readonly rng: JumpableRandomGenerator,
  ) {}

  /** Uniform in [0, 1), 53 random bits. */
  uniform(): number {
    return uniformFloat64(this.rng);
  }

  /** Uniform integer in [min, max], both included. */
  int(min: number, max: number): number {
    return uniformInt(this.rng, min, max);
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return uniformFloat64(this.rng) < p;
  }

  /** Exponential with the given mean (any unit), by inversion. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - uniformFloat64(this.rng));
  }

  /** An exponential duration in whole nanoseconds (rounded to nearest). */
  exponentialNs(meanNs: number): number {
    return roundHalfUp(-meanNs * Math.log(1 - uniformFloat64(this.rng)));
  }
}

/**
 * Math.round(x), exactly (ties towards +infinity, -0 kept), by a floor and a compare: V8's
 * Math.round measures about 10 ns a call here against 1 ns for Math.floor, and M/M/1 rounds two
 * draws per customer. x - floor(x) is exact for every double, so the compare decides right.
 */
function roundHalfUp(x: number): number {
  if (!(x >= 0)) return Math.round(x); // negative or NaN: the builtin keeps its sign rules (-0.4 -> -0)
  const f = Math.floor(x);
  return x - f >= 0.5 ? f + 1 : f;
}

/** One odd constant per state word (golden ratio and murmur3's), so the four words differ. */
const WORD_KEYS = [0x9e3779b9, 0x85ebca6b, 0xc2b2ae35, 0x27d4eb2f];

/**
 * Four 32-bit words of starting state from (seed, name); never all zero.
 *
 * Every word hashes the whole of it -- the name, the seed's low and high 32-bit halves, and the
 * word's own key -- because xoroshiro128+'s first output is the sum of two state words alone:
 * pure-rand takes the state as [s01, s00, s11, s10] and returns s00 + s10, i.e. words 1 and 3.
 * An earlier version fed the seed's low half into words 0 and 2 only, so the first number of
 * every stream was the same for every seed below 2^32.
 */
export function streamState(seed: number, name: string): number[] {
  // FNV-1a over the name's UTF-16 units; then per word a chain of murmur3's fmix32 over the
  // word's key, the low half and the high half, so that near names and near seeds land far apart.
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  const words = WORD_KEYS.map((key) => fmix32(fmix32(fmix32(fmix32(h ^ key) ^ lo) ^ hi) ^ key));
  if (words.every((w): boolean => w === 0)) words[0] = 1;
  return words.map((w) => w | 0);
}

function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}
