"""A large result between processes: written once to shared memory (in two
parts when it is large enough, ``_shm.SPLIT``), read whole and alike by every
consumer, private to each, and every file removed afterwards."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

import webber
from benchmarks._common import our_segments
from webber import DAG, Promise
from webber.executors import _pickling, _shm

np = pytest.importorskip("numpy")

#: elements of the large array: 24 MB of float64, above _shm.SPLIT
BIG = 3 << 20
#: 2 MB: shared memory, one file
SMALL = 1 << 18


def _ours() -> set[str]:
    """Segments of this process, its workers or dead processes (not the
    workers' ledgers: another program's dying worker may leave one)."""
    pytest.importorskip("psutil")
    return {name for name in our_segments(_shm.directory()) if not name.endswith("-ledger")}


@pytest.fixture
def segments_left() -> Iterator[set[str]]:
    """The segments a test left behind once every worker has stopped (the
    set is filled in after the test body)."""
    before = _ours()
    left: set[str] = set()
    yield left
    webber.shutdown()
    left.update(_ours() - before)
    assert not left, f"segments left behind: {sorted(left)}"


def _made(n: int) -> Any:
    return np.arange(n, dtype=np.float64) * 3 + 1  # every element its own value


def _digest(a: Any) -> str:
    return hashlib.sha256(memoryview(np.ascontiguousarray(a)).cast("B")).hexdigest()


def _seen(a: Any) -> tuple[int, str]:
    return len(a), _digest(a)


def _spoil(a: Any) -> str:
    a[:] = -1.0  # in place: this task's copy only
    return _digest(a)


def _seen_after(a: Any, _: Any) -> tuple[int, str]:
    return _seen(a)


@pytest.mark.parametrize("n", [BIG, SMALL], ids=["two parts", "one file"])
def test_both_consumers_read_the_whole_array_alike(n: int, segments_left: set[str]) -> None:
    dag = DAG()
    made = dag.add_node(_made, n)
    seen = [dag.add_node(_seen, Promise(made)) for _ in range(2)]
    run = dag.run(executor="processes")
    expected = (n, _digest(_made(n)))
    assert [run[s] for s in seen] == [expected, expected]
    assert _digest(run[made]) == expected[1]  # the caller's copy too


def test_a_consumer_that_writes_to_its_input_changes_nobody_elses(
        segments_left: set[str]) -> None:
    dag = DAG()
    made = dag.add_node(_made, BIG)
    spoiled = dag.add_node(_spoil, Promise(made))
    # runs after the spoiler has written to its input
    after = dag.add_node(_seen_after, Promise(made), Promise(spoiled))
    run = dag.run(executor="processes")
    assert run[spoiled] == _digest(np.full(BIG, -1.0))
    assert run[after] == (BIG, _digest(_made(BIG)))
    assert _digest(run[made]) == _digest(_made(BIG))


def _blob(n: int) -> bytes:
    return hashlib.shake_256(b"webber").digest(n)


def _blob_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_large_bytes_result_arrives_whole(segments_left: set[str]) -> None:
    dag = DAG()
    made = dag.add_node(_blob, 20 << 20)
    seen = [dag.add_node(_blob_digest, Promise(made)) for _ in range(2)]
    run = dag.run(executor="processes")
    assert [run[s] for s in seen] == [_blob_digest(_blob(20 << 20))] * 2


def test_a_large_buffer_is_written_in_two_parts_and_read_as_one(
        monkeypatch: pytest.MonkeyPatch, segments_left: set[str]) -> None:
    monkeypatch.setattr(_shm, "_splits", lambda: True)
    array = _made(BIG)
    before = _ours()
    data, segments = _pickling.dumps(array)
    (name,) = segments
    assert isinstance(name, str) and name.endswith("+2")
    assert _ours() - before == {name + ".0", name + ".1"}
    out = _pickling.loads(data, segments)
    assert _ours() == before  # both parts unlinked once mapped
    assert _digest(out) == _digest(array) and out.flags.writeable
    out[:] = 0.0  # copy on write: the writer's buffer is not touched
    assert _digest(array) == _digest(_made(BIG))


def test_a_held_split_segment_is_passed_on_by_reference_and_released(
        monkeypatch: pytest.MonkeyPatch, segments_left: set[str]) -> None:
    monkeypatch.setattr(_shm, "_splits", lambda: True)
    before = _ours()
    data, segments = _pickling.dumps(_made(BIG))
    holder = _shm.Holder()
    held = _pickling.loads(data, segments, holder)  # as the caller keeps a result
    (mine,) = holder.names
    assert _ours() - before == {mine + ".0", mine + ".1"}
    # a slice across both parts (2 MB) goes on as a span of the held segment
    low, high = BIG // 2 - (1 << 17), BIG // 2 + (1 << 17)
    data, spans = _pickling.dumps(held[low:high], holder=holder)
    assert spans == [(mine, low * 8, (high - low) * 8)]
    assert _digest(_pickling.loads(data, spans)) == _digest(_made(BIG)[low:high])
    assert _ours() - before == {mine + ".0", mine + ".1"}  # a span is only borrowed
    holder.release()
    assert _ours() == before
    assert _digest(held) == _digest(_made(BIG))  # the map outlives the names


def test_a_part_that_cannot_be_written_leaves_no_file_and_goes_in_band(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        segments_left: set[str]) -> None:
    monkeypatch.setattr(_shm, "_splits", lambda: True)
    monkeypatch.setattr(_shm, "_warned", False)
    write_file = _shm._write_file

    def full_second(path: str, raw: memoryview) -> None:
        if path.endswith(".1"):
            raise OSError(28, "No space left on device")
        write_file(path, raw)

    monkeypatch.setattr(_shm, "_write_file", full_second)
    before = _ours()
    array = _made(BIG)
    data, segments = _pickling.dumps(array)
    assert segments == [] and len(data) > array.nbytes  # in the pickle instead
    assert _ours() == before
    assert _digest(_pickling.loads(data, segments)) == _digest(array)
    assert "No space left on device" in caplog.text


def test_where_buffers_are_not_split_they_arrive_the_same(
        monkeypatch: pytest.MonkeyPatch, segments_left: set[str]) -> None:
    monkeypatch.setattr(_shm, "_splits", lambda: False)
    data, segments = _pickling.dumps(_made(BIG))
    (name,) = segments
    assert isinstance(name, str) and not name.endswith("+2")
    assert _digest(_pickling.loads(data, segments)) == _digest(_made(BIG))


def _reader_of(n: int) -> Any:
    """A function that holds a large array in its closure, as a notebook's
    function holds a global: pickled by value, the array with it."""
    held = _made(n)

    def read(k: int, spoil: bool = False) -> tuple[int, str, float]:
        seen = (len(held), _digest(held), float(held[k]))
        if spoil:
            held[:] = -1.0  # in place: in its worker, not in the caller nor later runs
        return seen

    return read


@pytest.mark.parametrize("n", [BIG, SMALL], ids=["two parts", "one file"])
def test_what_a_function_holds_is_written_once_a_run_and_read_alike_by_every_worker(
        n: int, writes: list[int], segments_left: set[str]) -> None:
    read = _reader_of(n)
    expected = _digest(_made(n))
    spoiler = DAG()
    spoiler.add_node(read, 0, spoil=True)
    assert spoiler.run(executor="processes").ok
    dag = DAG()
    tasks = [dag.add_node(read, k) for k in range(4)]
    before = _ours()
    for _ in range(2):  # the second run writes it again: the first one's is gone
        del writes[:]
        run = dag.run(executor="processes", max_workers=2)
        assert [run[t] for t in tasks] == [(n, expected, 3.0 * k + 1) for k in range(4)]
        assert writes == [n * 8]  # one copy for both workers, not one per pipe
        assert _ours() == before  # the run's copy went with the run
    assert _digest(read.__closure__[0].cell_contents) == expected  # the caller's untouched


def _read_then_spoil(a: Any, k: int) -> tuple[int, str, float]:
    seen = (len(a), _digest(a), float(a[k]))
    a[:] = -1.0  # in place: this task's copy only
    return seen


def test_one_array_passed_to_many_tasks_is_written_twice_a_run_and_private_to_each(
        writes: list[int], segments_left: set[str]) -> None:
    array = _made(BIG)
    expected = _digest(array)
    dag = DAG()
    tasks = [dag.add_node(_read_then_spoil, array, k) for k in range(6)]
    # a slice of it (two parts of 2 MB, across the array's middle) and a copy of it
    low, high = BIG // 2 - (1 << 17), BIG // 2 + (1 << 17)
    part = dag.add_node(_seen, array[low:high])
    twin = dag.add_node(_seen, array.copy())
    before = _ours()
    run = dag.run(executor="processes", max_workers=2)
    assert [run[t] for t in tasks] == [(BIG, expected, 3.0 * k + 1) for k in range(6)]
    assert run[part] == (high - low, _digest(_made(BIG)[low:high]))
    assert run[twin] == (BIG, expected)
    # the first task's copy (its reader unlinks it), one lent to the rest and to
    # the slice (sent after them: a span of the lent copy), and the twin's own
    assert writes == [BIG * 8] * 3
    assert _ours() == before  # the lent copy went with the run
    assert _digest(array) == expected


def _read_copy(a: Any, k: int) -> tuple[str, int, str, float]:
    seen = (type(a).__name__, len(a), _digest(a), float(a[k]))
    a = np.array(a)  # (a read-only array arrives as one the task may read, not write)
    a[:] = -1.0
    return seen


def test_a_read_only_array_passed_to_many_tasks_is_written_twice_a_run(
        writes: list[int], segments_left: set[str]) -> None:
    array = _made(SMALL)
    array.setflags(write=False)
    dag = DAG()
    tasks = [dag.add_node(_read_copy, array, k) for k in range(6)]
    run = dag.run(executor="processes", max_workers=2)
    assert [run[t] for t in tasks] == [("ndarray", SMALL, _digest(array), 3.0 * k + 1)
                                       for k in range(6)]
    assert writes == [SMALL * 8] * 2  # the first task's copy, and one lent to the rest


def _mapped_seen(a: Any, k: int) -> tuple[str, bool, int, str, float]:
    return type(a).__name__, bool(a.flags.writeable), len(a), _digest(a), float(a[k])


def test_an_array_of_a_file_mapped_read_only_travels_as_its_place_in_the_file(
        tmp_path: Any, writes: list[int], segments_left: set[str]) -> None:
    path = tmp_path / "big.npy"
    np.save(path, _made(SMALL))
    mapped = np.load(path, mmap_mode="r")
    low, high = SMALL // 4, SMALL // 4 + SMALL // 2  # a part of it: an offset into the file
    grid = mapped[: SMALL // 2].reshape(-1, 4).T  # Fortran order: a transposed view
    dag = DAG()
    tasks = [dag.add_node(_mapped_seen, mapped, k) for k in range(4)]
    part = dag.add_node(_mapped_seen, mapped[low:high], 0)
    columns = dag.add_node(_digest, grid)
    run = dag.run(executor="processes", max_workers=2)
    expected = _digest(_made(SMALL))
    # each task maps the file itself, read-only as the caller's: no copy, in shared
    # memory or in the pipe
    assert [run[t] for t in tasks] == [("memmap", False, SMALL, expected, 3.0 * k + 1)
                                       for k in range(4)]
    assert run[part] == ("memmap", False, high - low, _digest(_made(SMALL)[low:high]),
                         3.0 * low + 1)
    assert run[columns] == _digest(_made(SMALL)[: SMALL // 2].reshape(-1, 4).T)
    assert writes == []


def _replace(path: str) -> None:
    np.save(path + ".new.npy", _made(SMALL) * 0)
    os.replace(path + ".new.npy", path)


def test_a_mapped_file_replaced_during_the_run_fails_the_task_that_would_read_it(
        tmp_path: Any, segments_left: set[str]) -> None:
    path = tmp_path / "big.npy"
    np.save(path, _made(SMALL))
    mapped = np.load(path, mmap_mode="r")
    dag = DAG()
    first = dag.add_node(_replace, str(path))
    reader = dag.add_node(_mapped_seen, mapped, 1)
    # one worker, both jobs sent at once: the reader's sent before the file is replaced
    run = dag.run(executor="processes", max_workers=1)
    assert run.failed == [reader] and run[first] is None
    with pytest.raises(webber.JobLoadError, match="changed or was replaced") as caught:
        run[reader]
    assert str(path) in str(caught.value)


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="Linux lists its maps there")
def test_a_mapped_file_replaced_under_its_path_before_the_run_travels_as_its_data(
        tmp_path: Any, writes: list[int], segments_left: set[str]) -> None:
    path = tmp_path / "big.npy"
    np.save(path, _made(SMALL))
    mapped = np.load(path, mmap_mode="r")
    _replace(str(path))  # the path names another file now; the caller's map, the first
    dag = DAG()
    tasks = [dag.add_node(_mapped_seen, mapped, k) for k in range(2)]
    run = dag.run(executor="processes", max_workers=2)
    assert [run[t] for t in tasks] == [("ndarray", False, SMALL, _digest(_made(SMALL)),
                                        3.0 * k + 1) for k in range(2)]
    assert writes == [SMALL * 8] * 2  # (its data: the first task's copy, one lent to the next)


@pytest.mark.parametrize("mode", ["r+", "c"])
def test_an_array_of_a_file_mapped_writable_travels_as_its_data(
        tmp_path: Any, mode: str, writes: list[int], segments_left: set[str]) -> None:
    path = tmp_path / "big.npy"
    np.save(path, _made(SMALL))
    mapped = np.load(path, mmap_mode=mode)
    mapped[0] = -5.0  # the caller's array, not (with "c") the file's: what the task must see
    dag = DAG()
    tasks = [dag.add_node(_read_copy, mapped, k) for k in range(3)]
    run = dag.run(executor="processes", max_workers=2)
    expected = _made(SMALL)
    expected[0] = -5.0
    assert [run[t] for t in tasks] == [("ndarray", SMALL, _digest(expected), float(expected[k]))
                                       for k in range(3)]
    # the first task's copy, and one lent to the rest
    assert writes == [SMALL * 8] * 2


def _blobs_seen(blobs: list[bytes], k: int) -> tuple[int, str, int]:
    return len(blobs), _blob_digest(blobs[0]), blobs[1][k]


def test_large_bytes_inside_an_argument_go_through_shared_memory_once_a_run(
        writes: list[int], segments_left: set[str]) -> None:
    blob = _blob(SMALL * 8)
    blobs = [blob, bytes(range(256)) * (SMALL * 8 // 256)]
    dag = DAG()
    tasks = [dag.add_node(_blobs_seen, blobs, k) for k in range(5)]
    run = dag.run(executor="processes", max_workers=2)
    assert [run[t] for t in tasks] == [(2, _blob_digest(blob), k) for k in range(5)]
    assert writes == [SMALL * 8] * 4  # each bytes twice: not once per task, nor in band


def test_apart_lifts_large_bytes_and_mapped_arrays_out_of_containers_and_no_more(
        tmp_path: Any) -> None:
    big = bytes(_shm.THRESHOLD)
    np.save(tmp_path / "a.npy", np.ones(_shm.THRESHOLD))
    mapped = np.load(tmp_path / "a.npy", mmap_mode="r")
    small = [1, b"x", {"k": (2, 3)}]
    assert _pickling.apart(small) is small  # nothing to lift: the same object
    lifted = _pickling.apart(((1, [big]), {"m": mapped}))
    assert type(lifted[0][1][0]).__name__ == "_BigBytes"
    assert type(lifted[1]["m"]).__name__ == "_Place"  # (its place in the file)
    assert type(_pickling.apart(np.load(tmp_path / "a.npy", mmap_mode="c"))) is np.ndarray
    deep = [[[[[big]]]]]  # deeper than apart looks
    assert _pickling.apart(deep) is deep
    long = [0] * 2000 + [big]  # longer than apart reads
    assert _pickling.apart(long) is long


def test_a_read_only_buffer_has_an_address() -> None:
    data = _blob(1 << 10)
    array = _made(8)
    array.setflags(write=False)
    assert _shm.address(memoryview(array)) == array.ctypes.data
    assert _shm.address(memoryview(data)[16:]) == _shm.address(memoryview(data)) + 16
