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
    assert set(_ours()) <= before  # (an orphan of a dead process may go meanwhile)


def test_small_containers_of_plain_values_are_plain_and_others_are_not() -> None:
    from webber._refs import NESTED_ITEMS, Ref
    from webber.executors._pickling import dumps_value, plain, plain_nested

    for value in ([1, 2.5, "a", None, True], {"a": [1, (2, 3)], 4: {5}}, (), frozenset({1}),
                  [Ref("a-1")], [[[[1]]]], list(range(NESTED_ITEMS))):
        assert plain_nested(value) and plain((1, (value,), {"k": value})), value
        assert dumps_value(value) == (value, None)  # a result: as it is, in the message
    looped: list[object] = [1]
    looped.append(looped)
    for value in ([lambda: 1], {"a": object()}, [b"bytes"], {(1, object()): 2}, looped,
                  list(range(NESTED_ITEMS + 1)), [1.0j], _Point(1, 2)):
        assert not plain_nested(value) and not plain(((value,),)), value
    assert dumps_value([lambda: 1])[1] == []  # cloudpickle's: the pickle, no segment


class _Point(tuple):  # type: ignore[type-arg]  # (a tuple subclass is not plain)
    def __new__(cls, x: int, y: int) -> _Point:
        return super().__new__(cls, (x, y))


def _echo(value: object) -> object:
    return value


def test_tasks_given_and_returning_containers_get_their_own_copies_on_processes() -> None:
    looped: list[object] = [1]
    looped.append(looped)
    values = [[1, 2], {"a": [1.5, None], "b": (2, "x")}, {1, 2}, [[[]]], looped]
    dag = DAG()
    nodes = [dag.add_node(_echo, value) for value in values]
    run = dag.run(executor="processes", max_workers=2)
    out = [run[n] for n in nodes]
    assert out[:4] == values[:4] and all(o is not v for o, v in zip(out, values, strict=True))
    assert out[4][0] == 1 and out[4][1] is out[4]  # rebuilt as it was: it holds itself


def _numpy_values(i: int) -> list[object]:
    return [np.float64(i) / 2, np.int64(i), np.bool_(i % 2), np.arange(3) + i,
            np.array([i, None], dtype=object), np.float32(i)]


def _numpy_value(i: int, k: int) -> object:
    return _numpy_values(i)[k]


def test_numpy_numbers_and_small_arrays_of_numbers_are_plain_results_and_keep_their_types(
) -> None:
    from webber.executors._pickling import THRESHOLD, dumps_value, plain

    values = _numpy_values(3)
    for value in (*values[:3], values[3], values[5], [np.float64(1.5), 2]):
        packed, segments = dumps_value(value)
        assert packed is value and segments is None, value
    assert plain((np.float64(1.5), (np.int64(2),), {"k": [np.bool_(True)]}))
    assert dumps_value(values[4])[1] == []  # objects inside: cloudpickle's, not plain
    big = np.zeros(THRESHOLD // 8)
    _, segments = dumps_value(big)
    assert segments  # large: its own pickle, its buffer in shared memory
    _shm.remove_segments(segments)
    dag = DAG()
    nodes = [[dag.add_node(_numpy_value, i, k) for k in range(6)] for i in range(20)]
    run = dag.run(executor="processes", max_workers=2)
    for i, row in enumerate(nodes):
        for k, n in enumerate(row):
            got, expected = run[n], _numpy_values(i)[k]
            assert type(got) is type(expected)
            assert np.array_equal(got, expected) if k in (3, 4) else got == expected

