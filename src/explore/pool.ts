import type { Worker } from "node:worker_threads";
import { startWorker } from "../sweep/start-worker.ts";
import type { RunHooks } from "../workload/run.ts";
import { exploreIndex, shrinkFailure, type RunOutcome, type RunRequest, type ShrinkOutcome, type ShrinkRequest } from "./probe.ts";

/**
 * Where an exploration's runs execute: worker threads (`--jobs N`), or the calling thread when a
 * test plants a bug through RunHooks (a hook is a function and cannot cross to a worker).
 */
export interface Executor {
  run(req: RunRequest): Promise<RunOutcome>;
  shrink(req: ShrinkRequest): Promise<ShrinkOutcome>;
  close(): Promise<void>;
}

/** Runs everything on this thread, yielding to the event loop between runs (so SIGINT is seen). */
export function inProcessExecutor(hooks: RunHooks = {}): Executor {
  const later = <T>(f: () => T): Promise<T> => new Promise((resolve, reject) => setImmediate(() => {
    try {
      resolve(f());
    } catch (error) {
      reject(error);
    }
  }));
  return {
    run: (req) => later(() => exploreIndex(req, hooks)),
    shrink: (req) => later(() => shrinkFailure(req, hooks)),
    close: async () => {},
  };
}

type Job = { req: RunRequest | ShrinkRequest; resolve: (o: RunOutcome | ShrinkOutcome) => void; reject: (e: unknown) => void };

/** `jobs` worker threads, each given the next queued request when it answers the last. */
export function workerExecutor(jobs: number): Executor {
  const queue: Job[] = [];
  const idle: Worker[] = [];
  const busy = new Map<Worker, Job>();
  const feed = (w: Worker): void => {
    const job = queue.shift();
    if (job === undefined) {
      idle.push(w);
      return;
    }
    busy.set(w, job);
    w.postMessage(job.req);
  };
  const workers = Array.from({ length: jobs }, () => {
    const w = startWorker(import.meta.url, "worker");
    w.on("message", (o: RunOutcome | ShrinkOutcome) => {
      busy.get(w)!.resolve(o);
      busy.delete(w);
      feed(w);
    });
    w.on("error", (error) => {
      busy.get(w)?.reject(error);
      busy.delete(w);
    });
    return w;
  });
  idle.push(...workers);
  const submit = <T extends RunOutcome | ShrinkOutcome>(req: RunRequest | ShrinkRequest): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push({ req, resolve: resolve as (o: RunOutcome | ShrinkOutcome) => void, reject });
      const w = idle.pop();
      if (w !== undefined) feed(w);
    });
  return {
    run: (req) => submit<RunOutcome>(req),
    shrink: (req) => submit<ShrinkOutcome>(req),
    close: async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
