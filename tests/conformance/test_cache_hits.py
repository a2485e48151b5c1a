"""A cache hit is loaded where it is needed: by the process that runs the
task consuming it, not by the caller (which only checks the entry), and in
the caller only when it is read there. On every executor."""

from __future__ import annotations

import array as pyarray
import os
import shutil
import zlib
from pathlib import Path
from typing import Any

import pytest

from webber import Cache, CacheError, Flow, Listener, _cache, task

pytestmark = pytest.mark.timeout(300)

LOCAL = ("inline", "threads")  # executors that run tasks in the caller's process


def make(n: int) -> Any:
    """``n`` float64s: a NumPy array, or where NumPy is missing (the other
    Pythons' suites) a bytearray; both are pickled out of band, memory-mapped."""
    try:
        import numpy as np
    except ImportError:
        return bytearray(pyarray.array("d", range(n)).tobytes())
    return np.arange(n, dtype=np.float64)


def describe(data: Any) -> tuple[int, int, bool]:
    """Where the data was used, its CRC-32, and whether it is writable."""
    view = memoryview(data).cast("B")
    return os.getpid(), zlib.crc32(view), not view.readonly


def crc(n: int, part: float = 1.0) -> int:
    """The CRC-32 of ``part`` of ``make(n)``'s bytes."""
    view = memoryview(make(n)).cast("B")
    return zlib.crc32(view[: int(len(view) * part)])


def note_loads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every entry unpickled in this process from now on (whether its checksum
    was read again)."""
    loads: list[bool] = []
    read = _cache._read

    def counted(f: Any, check: bool = True) -> Any:
        loads.append(check)
        return read(f, check)

    monkeypatch.setattr(_cache, "_read", counted)
    return loads


def test_a_hit_is_loaded_by_the_process_that_uses_it(
    executor: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Cache(tmp_path / "store")
    with Flow() as flow:
        array = task(make)(1_000_000)  # 8 MB: its buffer is memory-mapped
        used = [task(describe, cache=False)(array) for _ in range(2)]
        unread = task(make, name="unread")(10)  # a hit nobody reads
    flow.run(executor=executor, cache=store)
    loads = note_loads(monkeypatch)
    run = flow.run(executor=executor, cache=store)
    assert sorted(run.cached) == sorted([array.key, unread.key])
    assert run.reused == run.cached and run.attempts[array] == ()
    total = crc(1_000_000)
    for child in used:
        pid, seen, writable = run[child]
        assert seen == total and writable
        assert (pid == os.getpid()) == (executor in LOCAL)
    # Checked (not unpickled) by the caller; loaded once by each process that
    # used it: the caller itself only when it ran the children.
    assert loads == ([False] if executor in LOCAL else [])
    value = run[array]  # read here: loaded here (if it was not already), once
    assert describe(value)[1] == total and run[array] is value
    assert loads == [False]
    assert describe(run[unread])[1] == crc(10)  # loaded when read, not before
    assert loads == [False, False]


def array_and_child() -> tuple[Flow, Any, Any]:
    """A cached array and a task using it, not cached."""
    with Flow() as flow:
        array = task(make)(1000)
        child = task(describe, cache=False)(array)
    return flow, array, child


def failed_clearly(run: Any, array: Any, child: Any, why: str) -> None:
    """The child of the hit ``array`` failed with a CacheError naming it and ``why``."""
    assert run.cached == [array.key] and run.state(child) == "failed"
    error = run.error(child)
    assert isinstance(error, CacheError)
    assert f"cached result of task {array.key!r} could not be loaded" in str(error)
    assert why in str(error) and "run the flow again" in str(error)


def test_an_entry_removed_mid_run_fails_its_consumer_clearly(
    executor: str, tmp_path: Path
) -> None:
    store = Cache(tmp_path / "store")
    flow, array, child = array_and_child()

    class Clear(Listener):
        def on_task_end(self, node: str, state: Any, attempt: int, duration: float,
                        worker: str) -> None:
            if node == array.key:  # a hit: checked, not yet loaded
                shutil.rmtree(store.path)

    flow.run(executor=executor, cache=store)
    run = flow.run(executor=executor, cache=store, listeners=[Clear()])
    failed_clearly(run, array, child, "removed or changed since the run checked it")
    again = flow.run(executor=executor, cache=store)  # computed and stored anew
    assert again.cached == [] and again[child][1] == crc(1000)


def test_a_hit_read_after_its_entry_was_removed_says_so(tmp_path: Path) -> None:
    store = Cache(tmp_path / "store")
    with Flow() as flow:
        array = task(make)(1000)
    flow.run(executor="inline", cache=store)
    run = flow.run(executor="inline", cache=store)  # the hit is checked, not loaded
    store.clear()
    with pytest.raises(CacheError, match=(
        rf"^the cached result of task {array.key!r} could not be loaded from .*: it was "
        r"removed or changed since the run checked it \(a cache clear or prune\?\); run the "
        r"flow again")):
        run[array]


def _explode() -> None:
    raise AttributeError("Can't get attribute 'Moved' on <module 'library'>")


class Unloadable:
    """Pickles fine; unpickling fails, as for a class a library upgrade moved."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_explode, ())


def test_an_entry_that_does_not_unpickle_fails_its_consumer_then_is_gone(
    executor: str, tmp_path: Path
) -> None:
    store = Cache(tmp_path / "store")
    flow, array, child = array_and_child()
    flow.run(executor=executor, cache=store)
    (entry,) = store.entries()
    assert store.store(entry.key, Unloadable(), entry.task, entry.node)  # intact, checksum and all
    run = flow.run(executor=executor, cache=store)
    failed_clearly(run, array, child, "does not load here")
    assert "so it was removed" in str(run.error(child))
    assert store.entries() == []
    again = flow.run(executor=executor, cache=store)
    assert again.cached == [] and again[child][1] == crc(1000)


def halve(data: Any) -> Any:
    return data[: len(data) // 2]


def test_a_hit_feeds_a_chain_where_the_chain_runs(
    executor: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Cache(tmp_path / "store")
    with Flow() as flow:
        array = task(make)(1000)
        half = task(halve, cache=False)(array)
        used = task(describe, cache=False)(half)
    assert flow.compile().nodes[half.key].next_link == used.key  # one chain
    flow.run(executor=executor, cache=store)
    loads = note_loads(monkeypatch)
    run = flow.run(executor=executor, cache=store)
    assert run.cached == [array.key] and run[used][1] == crc(1000, 0.5)
    assert loads == ([False] if executor in LOCAL else [])
