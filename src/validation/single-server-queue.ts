// The modules themselves rather than the engine's index: a benchmark process then loads only
// these (the index would load every primitive, ~5 ms more of start-up).
import { Engine } from "../engine/engine.ts";
import { Server } from "../engine/server.ts";
import { sleep, type ProcessBody } from "../engine/process.ts";
import type { RandomStream } from "../engine/random.ts";

/**
 * A single-server FIFO queue (M/M/1 or M/D/1) built from engine parts the way a model would be:
 * a source process spawns one process per customer, and each customer queues for a Server.
 * Used by the queueing-theory tests and by the speed benchmark.
 */
export interface SingleServerQueueOptions {
  customers: number;
  /** Mean time between arrivals (exponential: Poisson arrivals). */
  arrivalMeanNs: number;
  /** Mean service time. */
  serviceMeanNs: number;
  /** "exponential" for M/M/1, "deterministic" for M/D/1. */
  service: "exponential" | "deterministic";
  seed: number;
  /** Keep each customer's waiting time (time in queue before service). Default true. */
  recordWaits?: boolean;
}

export interface SingleServerQueueResult {
  /** Waiting time of customer i, in arrival order (empty when not recorded). */
  waitsNs: Float64Array;
  /** Mean waiting time over all customers. */
  meanWaitNs: number;
  endNs: number;
  /** Process resumptions the engine performed. */
  steps: number;
  utilisation: number;
}

export function runSingleServerQueue(options: SingleServerQueueOptions): SingleServerQueueResult {
  const engine = new Engine({ seed: options.seed });
  const server = new Server(engine, "server", 1);
  const arrivals = engine.random.stream("arrivals");
  const services = engine.random.stream("services");
  const record = options.recordWaits ?? true;
  const waitsNs = new Float64Array(record ? options.customers : 0);
  let totalWaitNs = 0;

  function* customer(index: number, serviceNs: number): ProcessBody<void> {
    const arrivedNs = engine.nowNs;
    yield server.acquire();
    const waitNs = engine.nowNs - arrivedNs;
    totalWaitNs += waitNs;
    if (record) waitsNs[index] = waitNs;
    yield sleep(serviceNs);
    server.release();
  }

  function* source(): ProcessBody<void> {
    for (let i = 0; i < options.customers; i++) {
      const serviceNs = drawService(services, options);
      engine.spawn("customer", customer(i, serviceNs));
      if (i + 1 < options.customers) yield sleep(arrivals.exponentialNs(options.arrivalMeanNs));
    }
  }

  engine.spawn("source", source());
  const { endNs, steps } = engine.run();
  return { waitsNs, meanWaitNs: totalWaitNs / options.customers, endNs, steps, utilisation: server.utilisation() };
}

function drawService(stream: RandomStream, options: SingleServerQueueOptions): number {
  return options.service === "exponential" ? stream.exponentialNs(options.serviceMeanNs) : options.serviceMeanNs;
}

/** Pollaczek-Khinchine: the exact mean wait in queue, lambda E[S^2] / (2 (1 - rho)). */
export function pollaczekKhinchineWaitNs(options: Pick<SingleServerQueueOptions, "arrivalMeanNs" | "serviceMeanNs" | "service">): number {
  const rho = options.serviceMeanNs / options.arrivalMeanNs;
  if (!(rho < 1)) return Infinity;
  const s = options.serviceMeanNs;
  const secondMoment = options.service === "exponential" ? 2 * s * s : s * s;
  return secondMoment / options.arrivalMeanNs / (2 * (1 - rho));
}
