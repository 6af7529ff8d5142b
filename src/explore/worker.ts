import { parentPort } from "node:worker_threads";
import { exploreIndex, shrinkFailure, type RunRequest, type ShrinkRequest } from "./probe.ts";

/** An exploration worker: runs (or shrinks) what the driver sends, one at a time, and answers. */
parentPort?.on("message", (req: RunRequest | ShrinkRequest) => {
  parentPort!.postMessage(req.kind === "run" ? exploreIndex(req) : shrinkFailure(req));
});
