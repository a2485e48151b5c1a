"""Large buffers travel through shared memory (_pickling, _shm), and every segment is released."""

from __future__ import annotations

import os
import pickle
from typing import Any

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


def _record_class() -> type:
    """A class that cloudpickle sends by value (one of a function, as a class of
    ``__main__`` or of a notebook is): a record that tasks take and return."""

    class Cfg:
        def __init__(self, name: str, n: int) -> None:
            self.name, self.n = name, n

        def doubled(self) -> int:
            return 2 * self.n

    return Cfg


def _doubled(cfg: Any, other: Any) -> tuple[str, int, bool, Any]:
    return type(cfg).__name__, cfg.doubled(), type(cfg) is type(other), cfg


def test_a_class_sent_by_value_is_named_in_each_pickle_and_loaded_once() -> None:
    cls = _record_class()
    assert _pickling.by_value(cls) and not _pickling.by_value(DAG)
    names: list[type] = []

    def name_of(c: type) -> str:
        names.append(c)
        return "f7"

    packer = _pickling.Packer(_shm.Holder(), name_of)
    data, _ = packer.dumps((cls("a", 1), [cls("b", 2)]))
    again, _ = packer.dumps((cls("a", 1), [cls("b", 2)]))  # (one pickler: each loads alone)
    whole, _ = _pickling.dumps((cls("a", 1), [cls("b", 2)]))
    assert names == [cls, cls] and data == again and len(data) < 200 < len(whole)
    try:
        _pickling.lookup = {"f7": cls}.__getitem__
        first, (second,) = _pickling.loads(data, [])
    finally:
        _pickling.lookup = None
    assert type(first) is type(second) is cls and (first.n, second.name) == (1, "b")
    with pytest.raises(pickle.UnpicklingError, match="sent to a worker process only"):
        _pickling.loads(data, [])


def test_tasks_taking_instances_of_a_class_sent_by_value_get_that_class_once_a_worker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    cls = _record_class()
    sizes: list[int] = []

    dumps = _pickling.Packer.dumps

    def measured(self: Any, obj: Any) -> Any:
        data, segments = dumps(self, obj)
        sizes.append(len(data))  # a job's fields
        return data, segments

    monkeypatch.setattr(_pickling.Packer, "dumps", measured)
    dag = DAG()
    tasks = [dag.add_node(_doubled, cls("x", k), cls("y", 0)) for k in range(20)]
    run = dag.run(executor="processes", max_workers=2)
    for k, t in enumerate(tasks):
        name, doubled, same, back = run[t]
        assert (name, doubled, same) == ("Cfg", 2 * k, True)
        assert type(back) is cls and back.n == k  # back as the caller's own class
    assert len(sizes) == 20 and max(sizes) < 400  # the class named, its code not in them


def test_the_plan_check_reads_every_instance_of_a_class_it_checked_once() -> None:
    import threading

    cls = _record_class()
    dag = DAG()
    for k in range(3):
        dag.add_node(_doubled, cls("x", k), cls("y", 0))
    bad = cls("z", threading.Lock())
    dag.add_node(_doubled, bad, cls("y", 0))
    with pytest.raises(webber.UnpicklableTaskError, match=r"task .doubled-4. .* its argument 0"):
        dag.run(executor="processes")


def test_a_result_of_a_class_sent_by_value_carries_it_pickled_once_and_loads_it_once() -> None:
    cls = _record_class()
    first, _ = _pickling.dumps_value(cls("a", 1))
    second, _ = _pickling.dumps_value(cls("b", 2))
    digest, data = _pickling._SENT[cls]
    assert data in first and data in second  # the same pickle of it: made once
    a, b = _pickling.loads(first, []), _pickling.loads(second, [])
    assert type(a) is type(b) is cls and (a.n, b.name) == (1, "b")
    assert _pickling._RECEIVED[digest] is cls  # loaded once, then looked up


def test_by_value_follows_cloudpickle_for_a_class_that_arrived_by_value() -> None:
    cls = _record_class()
    # as a worker gets it: its module kept, its name without "<locals>", and
    # the module holding no such name
    arrived = type("Cfg", (), {"__module__": __name__})
    assert _pickling.by_value(cls) and _pickling.by_value(arrived)
    assert not _pickling.by_value(DAG) and not _pickling.by_value(int)
