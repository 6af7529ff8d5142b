/** A workload file that cannot be used: the message names the file, the place and what was expected. */
export class WorkloadError extends Error {
  override name = "WorkloadError";
}
