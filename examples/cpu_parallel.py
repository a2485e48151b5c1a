"""CPU-bound pure Python on worker processes: count the primes below a limit.

Run it: ``python examples/cpu_parallel.py``.

The range is cut into 8 chunks, each one task. They run one after the other in
this process, then on webber's pool of worker processes (one per core), where
the GIL does not serialize them. The script prints both times and the speedup;
expect close to the number of cores (the chunks are ~0.05-0.1 s each).
"""

from __future__ import annotations

import time

from webber import Flow, task

LIMIT = 500_000
CHUNKS = 8


def count_primes(bounds: tuple[int, int]) -> int:
    """Primes in [lo, hi), by trial division: deliberately pure Python."""
    lo, hi = bounds
    found = 0
    for n in range(max(lo, 2), hi):
        if n % 2 == 0:
            found += n == 2
            continue
        d = 3
        while d * d <= n:
            if n % d == 0:
                break
            d += 2
        else:
            found += 1
    return found


def add(counts: list[int]) -> int:
    return sum(counts)


def chunks(limit: int, count: int) -> list[tuple[int, int]]:
    step = -(-limit // count)
    return [(lo, min(lo + step, limit)) for lo in range(0, limit, step)]


def build(limit: int = LIMIT) -> Flow:
    """The flow: one prime-counting task per chunk, then their sum (``add-1``)."""
    with Flow("primes") as flow:
        counts = task(count_primes).map(chunks(limit, CHUNKS))  # one task per chunk
        task(add)(counts)
    return flow


def main(limit: int = LIMIT) -> tuple[int, int]:
    start = time.perf_counter()
    serial = sum(count_primes(part) for part in chunks(limit, CHUNKS))
    serial_time = time.perf_counter() - start

    flow = build(limit)
    start = time.perf_counter()
    run = flow.run(executor="processes")  # the first run also starts the workers
    cold_time = time.perf_counter() - start
    start = time.perf_counter()
    run = flow.run(executor="processes")  # the pool stays up between runs
    parallel_time = time.perf_counter() - start
    parallel: int = run["add-1"]

    print(f"primes below {limit:,}: {serial:,} (serial), {parallel:,} (processes)")
    print(f"serial:    {serial_time:.2f} s  ({CHUNKS} chunks, one after the other)")
    print(f"processes: {parallel_time:.2f} s  ({CHUNKS} tasks on a pool of worker processes; "
          f"{cold_time:.2f} s on the first run, which starts the pool)")
    print(f"speedup:   {serial_time / parallel_time:.2f}x")
    return serial, parallel


if __name__ == "__main__":
    main()
