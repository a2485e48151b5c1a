"""The workloads of benchmarks/peers.py, importable by every engine's workers."""

from __future__ import annotations

from typing import Any

#: loop count of one CPU-bound task (about 50 ms of pure Python on the CI machine)
BURN = 1_300_000
#: elements of the large array (100 MB of float64)
ARRAY = 100 * (1 << 20) // 8


def burn(n: int = BURN) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def noop() -> None:
    return None


def inc(x: int) -> int:
    return x + 1


def make_array(n: int = ARRAY) -> Any:
    import numpy as np

    return np.ones(n)


def consume(a: Any) -> float:
    return float(a.sum())


def pick(a: Any, i: int) -> float:
    return float(a[i])


def mapped_array(path: str, n: int = ARRAY) -> Any:
    """A 100 MB array of a file that numpy maps read-only (``np.load(...,
    mmap_mode="r")``: a dataset too large to load), written first."""
    import numpy as np

    np.save(path, make_array(n))
    return np.load(path, mmap_mode="r")


def record_class() -> Any:
    """A dataclass that travels by value, as one of a script's ``__main__`` or
    of a notebook does (cloudpickle sends its methods' code along)."""
    from dataclasses import dataclass

    @dataclass
    class Record:
        name: str
        n: int

    return Record


def next_record(record: Any) -> Any:
    """A task that takes a record and returns one (of the same class)."""
    return type(record)(record.name, record.n + 1)


def held_reader(n: int = ARRAY) -> Any:
    """A function holding a 100 MB array in its closure, as a notebook's
    function holds a global: it travels by value, the array with it."""
    held = make_array(n)

    def read(i: int) -> float:
        return float(held[i])

    return read


def build_noops(dag: Any, count: int = 1000) -> Any:
    """``count`` independent no-op tasks in ``dag`` (a webber DAG, this one's or 0.4.0's)."""
    for _ in range(count):
        dag.add_node(noop)
    return dag


def build_chain(dag: Any, promise: Any, length: int = 300, explicit_edges: bool = False) -> Any:
    """A chain of ``length`` tasks, each taking the one before's result.

    0.4.0 needs the edge added as well (``explicit_edges``); this webber
    records it from the Promise argument."""
    previous = dag.add_node(int, 0)
    for _ in range(length - 1):
        node = dag.add_node(inc, promise(previous))
        if explicit_edges:
            dag.add_edge(previous, node)
        previous = node
    return dag


# -- streaming (benchmarks/streaming.py) ----------------------------------------------
#: loop count of one ~10 ms CPU-bound stage
BURN_10MS = BURN // 5


class Source:
    """A streaming root: returns 0, 1, 2, ... (after ``work`` loops of CPU)."""

    def __init__(self, work: int = 0) -> None:
        self.__name__ = "source"  # 0.4.0 names a node after its callable's __name__
        self.work = work
        self.n = -1

    def __call__(self) -> int:
        if self.work:
            burn(self.work)
        self.n += 1
        return self.n


def step(x: int, work: int = 0) -> int:
    """A streaming stage: ``x`` unchanged, after ``work`` loops of CPU."""
    if work:
        burn(work)
    return x


def build_stream(
    qdag: Any, promise: Any, items: int, work: int, explicit_edges: bool = False
) -> Any:
    """A 3-stage QueueDAG (this webber's or 0.4.0's): a root run ``items``
    times, then two stages, each doing ``work`` loops of CPU per item."""
    root = qdag.add_node(Source(work), iterator=items)
    second = qdag.add_node(step, promise(root), work)
    third = qdag.add_node(step, promise(second), work)
    if explicit_edges:
        qdag.add_edge(root, second)
        qdag.add_edge(second, third)
    return qdag


def join(*values: Any) -> int:
    return len(values)


def build_lattice(dag: Any, promise: Any, layers: int = 20, width: int = 100,
                  explicit_edges: bool = False) -> Any:
    """``layers`` x ``width`` tasks, each taking the results of 3 tasks of the
    layer before (the first layer takes none)."""
    previous = [dag.add_node(noop) for _ in range(width)]
    for _ in range(layers - 1):
        layer = []
        for i in range(width):
            parents = [previous[(i + k) % width] for k in range(3)]
            node = dag.add_node(join, *(promise(p) for p in parents))
            if explicit_edges:
                for p in parents:
                    dag.add_edge(p, node)
            layer.append(node)
        previous = layer
    return dag
