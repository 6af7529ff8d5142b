/** The first place where the log and the run disagree. */
export interface Divergence {
  /** The event's seq, or -1 when the disagreement is about the whole log (its length, the final state). */
  seq: number;
  kind: string;
  what: string;
  expected?: string;
  found?: string;
}
