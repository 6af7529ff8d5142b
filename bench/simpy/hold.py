"""The "hold" model on SimPy 4, the same model as src/validation/hold.ts.

    python3 bench/simpy/hold.py P

P processes, each sleeping a uniform(0, 1) time in a loop, so the event list
always holds P entries; 2,000,000 sleeps in total (2,000,000 // P per process).
Times its own simulation loop and prints one JSON line, like bench/model.ts.
"""

import json
import random
import sys
import time

import simpy

HOLD_SLEEPS = 2_000_000
SEED = 1


def run(processes: int) -> int:
    env = simpy.Environment()
    rng = random.Random(SEED)
    per_process = HOLD_SLEEPS // processes
    sleeps = 0

    def holder():
        nonlocal sleeps
        for _ in range(per_process):
            sleeps += 1
            yield env.timeout(rng.random())

    for _ in range(processes):
        env.process(holder())
    env.run()
    return sleeps


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
        sys.exit('usage: hold.py P   (P processes, an integer >= 1)')
    processes = int(sys.argv[1])
    start = time.perf_counter()
    sleeps = run(processes)
    loop_ms = (time.perf_counter() - start) * 1e3
    figures = {
        'engine': 'simpy',
        'model': f'hold P={processes}',
        'items': sleeps,
        'loopMs': loop_ms,
        'check': sleeps,
        'simpy': simpy.__version__,
    }
    sys.stdout.write(json.dumps(figures) + '\n')


if __name__ == '__main__':
    main()
