"""What travels to a worker process once: a class sent by value (named in
each job's pickle, or by its digest in results), and a large buffer passed to
many tasks (lent, found by its address, read-only ones too). No numpy here:
these run on every Python the suite covers."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

import webber
from webber import DAG
from webber.executors import _pickling, _shm


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
    # named once by the packer (its id stays the same while the packer lasts)
    assert names == [cls] and data == again and len(data) < 200 < len(whole)
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


def test_a_worker_tells_its_caller_a_class_once_and_names_it_by_digest_after(
        monkeypatch: pytest.MonkeyPatch) -> None:
    cls = _record_class()
    told: list[bytes] = []
    monkeypatch.setattr(_pickling, "tell", lambda digest, data: told.append(data))
    monkeypatch.setattr(_pickling, "_TOLD", set())
    monkeypatch.setattr(_pickling, "_HEARD", {})
    monkeypatch.setattr(_pickling, "_TOLD_BY", {})
    first, _ = _pickling.dumps_value(cls("a", 1))
    second, _ = _pickling.dumps_value(cls("b", 2))
    digest, data = _pickling._SENT[cls]
    assert told == [data]  # once, ahead of the results
    assert data not in first and data not in second and len(first) < 300
    _pickling._RECEIVED.pop(digest, None)  # (as a caller that never loaded it)
    with pytest.raises(pickle.UnpicklingError, match="did not send"):
        _pickling.loads(first, [])
    _pickling.told(digest, data, "worker")
    a, b = _pickling.loads(first, []), _pickling.loads(second, [])
    assert type(a) is type(b) is cls and (a.n, b.name) == (1, "b")
    # past the bound (classes made on the fly), each result carries its class again
    monkeypatch.setattr(_pickling, "_TELLS", 0)
    other = _record_class()
    third, _ = _pickling.dumps_value(other("c", 3))
    assert _pickling._SENT[other][1] in third and len(told) == 1


def test_results_of_a_class_sent_by_value_reach_the_caller_told_once_a_worker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from webber.executors import _receiver

    cls = _record_class()
    heard: list[bytes] = []
    monkeypatch.setattr(_receiver, "told", lambda digest, data, by: (heard.append(digest),
                                                                  _pickling.told(digest, data, by)))
    webber.shutdown()  # (fresh workers: none told the caller of anything yet)
    dag = DAG()
    tasks = [dag.add_node(_doubled, cls("x", k), cls("y", 0)) for k in range(200)]
    run = dag.run(executor="processes", max_workers=2)
    assert [(run[t][3].n, type(run[t][3]) is cls) for t in tasks] == [(k, True)
                                                                      for k in range(200)]
    assert 1 <= len(heard) <= 2 and len(set(heard)) == 1  # once a worker, one class


def test_a_class_told_is_kept_while_a_worker_that_told_it_may_name_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pickling, "_HEARD", {})
    monkeypatch.setattr(_pickling, "_TOLD_BY", {})
    cls = _record_class()
    digest, data = _pickling._by_digest(cls)[1]
    _pickling.told(digest, data, "one")
    _pickling.told(digest, data, "two")
    _pickling.forget_told("one")  # gone, but "two" may still name it
    _pickling._RECEIVED.pop(digest, None)
    assert type(_pickling._class_of(digest, None)) is type and digest in _pickling._HEARD
    _pickling.forget_told("two")
    _pickling._RECEIVED.pop(digest, None)
    assert _pickling._HEARD == {} and _pickling._TOLD_BY == {}
    with pytest.raises(pickle.UnpicklingError, match="did not send"):
        _pickling._class_of(digest, None)


def _made_here(k: int) -> Any:
    return _record_class()("made", k)  # a class of its own, made in the worker


def test_classes_workers_told_are_forgotten_with_the_workers_not_before(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from webber.executors import _receiver
    from webber.executors.processes import ProcessExecutor

    heard: list[bytes] = []
    monkeypatch.setattr(_receiver, "told", lambda digest, data, by: (heard.append(digest),
                                                                  _pickling.told(digest, data, by)))
    webber.shutdown()
    dag = DAG()
    tasks = [dag.add_node(_made_here, k) for k in range(60)]
    run = dag.run(executor=ProcessExecutor(max_workers=2, max_tasks_per_worker=7))
    # each worker recycled after 7 tasks: every result still found its class
    assert [(type(run[t]).__name__, run[t].n) for t in tasks] == [("Cfg", k) for k in range(60)]
    assert len(set(heard)) == 60
    webber.shutdown()
    assert _pickling._HEARD == {} and _pickling._TOLD_BY == {}


def test_by_value_follows_cloudpickle_for_a_class_that_arrived_by_value() -> None:
    cls = _record_class()
    # as a worker gets it: its module kept, its name without "<locals>", and
    # the module holding no such name
    arrived = type("Cfg", (), {"__module__": __name__})
    assert _pickling.by_value(cls) and _pickling.by_value(arrived)
    assert not _pickling.by_value(DAG) and not _pickling.by_value(int)


def test_a_read_only_buffer_has_its_address() -> None:
    import ctypes

    data = bytes(range(256)) * 4
    start = _shm.address(memoryview(data))
    assert start is not None and _shm.address(memoryview(data)[16:]) == start + 16
    writable = bytearray(data)
    assert _shm.address(memoryview(writable)) == ctypes.addressof(
        ctypes.c_char.from_buffer(writable))


def _sizes(blobs: list[bytes], k: int) -> tuple[int, int]:
    return len(blobs[0]), blobs[0][k]


def test_one_large_bytes_inside_the_arguments_of_many_tasks_is_written_twice_a_run(
        writes: list[int]) -> None:
    blob = bytes(range(256)) * (_shm.THRESHOLD // 256)
    dag = DAG()
    tasks = [dag.add_node(_sizes, [blob], k) for k in range(5)]
    run = dag.run(executor="processes", max_workers=2)
    assert [run[t] for t in tasks] == [(len(blob), k) for k in range(5)]
    assert writes == [len(blob)] * 2  # the first task's copy, one lent to the rest
