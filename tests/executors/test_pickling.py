"""Large buffers travel through shared memory (_pickling, _shm), and every segment is released."""

from __future__ import annotations

import os
import pickle

import pytest

import webber
from benchmarks._common import our_segments
from webber import DAG, Promise
from webber.executors import _pickling, _shm

np = pytest.importorskip("numpy")


def _ours() -> list[str]:
    pytest.importorskip("psutil")
    return our_segments(_shm._DIR)


def test_small_values_stay_in_the_pickle() -> None:
    data, segments = _pickling.dumps({"a": np.arange(10), "b": b"x" * 100})
    assert segments == []
    assert (_pickling.loads(data, segments)["a"] == np.arange(10)).all()


def test_large_buffers_go_out_of_band_and_are_unlinked_on_load() -> None:
    before = set(_ours())
    array = np.random.default_rng(0).random(1 << 18)  # 2 MB
    blob = os.urandom(3 << 20)
    data, segments = _pickling.dumps({"array": array, "blob": blob, "f": lambda: 1})
    assert len(segments) == 2
    assert len(data) < 10_000  # the megabytes are not in the pickle
    assert set(_ours()) - before == set(segments)
    out = _pickling.loads(data, segments)
    assert set(_ours()) == before  # unlinked as soon as mapped
    assert (out["array"] == array).all() and out["blob"] == blob and out["f"]() == 1
    out["array"][0] = -1.0  # the receiver may write to its copy
    assert array[0] != -1.0


def test_segments_are_removed_when_pickling_fails() -> None:
    before = set(_ours())
    with pytest.raises((TypeError, pickle.PicklingError)):
        _pickling.dumps([np.ones(1 << 18), __import__("threading").Lock()])
    assert set(_ours()) == before


def _make(n: int) -> object:
    return np.arange(n, dtype=np.float64)


def _total(a: object) -> float:
    return float(a.sum())  # type: ignore[attr-defined]


def test_arrays_between_tasks_on_processes() -> None:
    before = set(_ours())
    dag = DAG()
    n = 10 << 20 >> 3  # 10 MB
    a = dag.add_node(_make, n)
    sums = [dag.add_node(_total, Promise(a)) for _ in range(2)]
    run = dag.run(executor="processes")
    assert [run[s] for s in sums] == [float(n * (n - 1) / 2)] * 2
    assert run[a].shape == (n,)
    webber.shutdown()
    assert set(_ours()) == before
