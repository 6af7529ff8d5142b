/**
 * One benchmark model run in this process, timed inside the loop; prints one JSON line.
 *   node dist/bench/model.js <pagesim|simpy-port> mm1
 *   node dist/bench/model.js <pagesim|simpy-port> hold <P>
 * bench/run.ts starts this once per measurement, so each figure includes a whole process.
 */
import { RandomStreams } from "../src/engine/random.ts"; // not the index: less to load (see single-server-queue.ts)
import { runSingleServerQueue } from "../src/validation/single-server-queue.ts";
import { runHold } from "../src/validation/hold.ts";
import { SEnvironment, SResource } from "./baseline/simpy-port.ts";

export const MM1_CUSTOMERS = 1_000_000;
export const HOLD_SLEEPS = 2_000_000;
const UNIT_NS = 1_000_000; // lambda = 1 and mean service 0.9 per unit
const SEED = 1;

export interface ModelFigures {
  engine: string;
  model: string;
  items: number;
  /** Events the engine processed (pagesim only; 0 for the port). */
  events: number;
  loopMs: number;
  /** A model output, to check that both engines simulate the same thing. */
  check: number;
}

function simpyPortMm1(): number {
  const env = new SEnvironment();
  const server = new SResource(env, 1);
  const streams = new RandomStreams(SEED);
  const arrivals = streams.stream("arrivals");
  const services = streams.stream("services");
  let totalWait = 0;
  function* customer(serviceNs: number): Generator<ReturnType<SEnvironment["timeout"]>, void, unknown> {
    const arrived = env.now;
    yield server.request();
    totalWait += env.now - arrived;
    yield env.timeout(serviceNs);
    server.release();
  }
  function* source(): Generator<ReturnType<SEnvironment["timeout"]>, void, unknown> {
    for (let i = 0; i < MM1_CUSTOMERS; i++) {
      env.process(customer(services.exponentialNs(0.9 * UNIT_NS)));
      if (i + 1 < MM1_CUSTOMERS) yield env.timeout(arrivals.exponentialNs(UNIT_NS));
    }
  }
  env.process(source());
  env.run();
  return totalWait / MM1_CUSTOMERS;
}

function simpyPortHold(processes: number): number {
  const env = new SEnvironment();
  const rng = new RandomStreams(SEED).stream("hold");
  const perProcess = Math.floor(HOLD_SLEEPS / processes);
  let sleeps = 0;
  function* holder(): Generator<ReturnType<SEnvironment["timeout"]>, void, unknown> {
    for (let i = 0; i < perProcess; i++) {
      sleeps++;
      yield env.timeout(Math.floor(rng.uniform() * 1e9));
    }
  }
  for (let p = 0; p < processes; p++) env.process(holder());
  env.run();
  return sleeps;
}

export function runModel(engine: string, model: string, processes: number): ModelFigures {
  const start = performance.now();
  let items: number;
  let check: number;
  let events = 0;
  if (model === "mm1") {
    items = MM1_CUSTOMERS;
    if (engine === "pagesim") {
      const r = runSingleServerQueue({ customers: MM1_CUSTOMERS, arrivalMeanNs: UNIT_NS, serviceMeanNs: 0.9 * UNIT_NS, service: "exponential", seed: SEED, recordWaits: false });
      check = r.meanWaitNs;
      events = r.steps;
    } else check = simpyPortMm1();
  } else if (model === "hold") {
    if (engine === "pagesim") {
      const r = runHold({ processes, totalSleeps: HOLD_SLEEPS, seed: SEED });
      check = r.sleeps;
      events = r.steps;
    } else check = simpyPortHold(processes);
    items = check;
  } else throw new Error(`unknown model ${model}`);
  const loopMs = performance.now() - start;
  return { engine, model: model === "hold" ? `hold P=${processes}` : "M/M/1", items, events, loopMs, check };
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  const [engine = "pagesim", model = "mm1", p = "10"] = process.argv.slice(2);
  if (engine !== "pagesim" && engine !== "simpy-port") throw new Error(`unknown engine ${engine}`);
  console.log(JSON.stringify(runModel(engine, model, Number(p))));
}
