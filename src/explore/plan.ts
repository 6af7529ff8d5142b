import { RandomStreams } from "../engine/random.ts";

/**
 * Which runs an exploration makes, as a pure function of its flags: run i's seed is drawn from
 * (--seed, i), runs go in epochs of EPOCH_RUNS (steering changes weights only between epochs, so
 * `--runs N` gives the same runs on any --jobs), and a shard K/N takes the run indices ≡ K−1 (mod N),
 * so shards of one exploration partition its runs as a sweep's shards do.
 */
export const EPOCH_RUNS = 256;

/** The seed of run `runIndex` of an exploration seeded `seed`: independent of every other run's. */
export function runSeedOf(seed: number, runIndex: number): number {
  return new RandomStreams(seed).stream(`explore:run:${runIndex}`).int(0, 2 ** 31 - 1);
}

export interface Shard {
  k: number;
  n: number;
}

/** The run indices of epoch `epoch` this shard makes, below `runLimit` (Infinity for --time). */
export function epochRuns(epoch: number, runLimit: number, shard?: Shard): number[] {
  const out: number[] = [];
  const end = Math.min((epoch + 1) * EPOCH_RUNS, runLimit);
  for (let i = epoch * EPOCH_RUNS; i < end; i++) if (shard === undefined || i % shard.n === shard.k - 1) out.push(i);
  return out;
}
