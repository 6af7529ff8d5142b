/** pagesim's library entry: the engine today; the model, recording and sweeps as they land. */
export * from "./engine/index.ts";
export { runSingleServerQueue, pollaczekKhinchineWaitNs, type SingleServerQueueOptions, type SingleServerQueueResult } from "./validation/single-server-queue.ts";
export { runHold, type HoldOptions, type HoldResult } from "./validation/hold.ts";
export { batchMeansInterval, type Interval } from "./validation/batch-means.ts";
