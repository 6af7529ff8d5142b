"""M/M/1 on SimPy 4, the same model as src/validation/single-server-queue.ts.

    python3 bench/simpy/mm1.py

Arrival rate 1, mean service 0.9 (rho = 0.9), 1,000,000 customers. A source
process spawns one customer process per arrival; each customer requests a
simpy.Resource(capacity=1), holds it for its service time, then releases it.
Times its own simulation loop and prints one JSON line, like bench/model.ts.
bench/run.ts starts it once per measurement, so its figure includes Python's
start-up and the import of SimPy.
"""

import json
import random
import sys
import time

import simpy

CUSTOMERS = 1_000_000
ARRIVAL_MEAN = 1.0
SERVICE_MEAN = 0.9
# bench/model.ts runs in integer ns with 1 time unit = 1e6 ns; scale the check
# to the same unit so the engines' checks can be compared side by side.
UNIT = 1_000_000
SEED = 1


def run() -> float:
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    arrivals = random.Random(SEED)
    services = random.Random(SEED + 1)
    total_wait = 0.0

    def customer(service):
        nonlocal total_wait
        arrived = env.now
        req = server.request()
        yield req
        total_wait += env.now - arrived
        yield env.timeout(service)
        server.release(req)

    def source():
        for i in range(CUSTOMERS):
            env.process(customer(services.expovariate(1.0 / SERVICE_MEAN)))
            if i + 1 < CUSTOMERS:
                yield env.timeout(arrivals.expovariate(1.0 / ARRIVAL_MEAN))

    env.process(source())
    env.run()
    return total_wait / CUSTOMERS


def main() -> None:
    start = time.perf_counter()
    mean_wait = run()
    loop_ms = (time.perf_counter() - start) * 1e3
    figures = {
        'engine': 'simpy',
        'model': 'M/M/1',
        'items': CUSTOMERS,
        'loopMs': loop_ms,
        'check': mean_wait * UNIT,
        'simpy': simpy.__version__,
    }
    sys.stdout.write(json.dumps(figures) + '\n')


if __name__ == '__main__':
    main()
