"""The ledger: results a worker has not sent yet, read back after it died."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest

from webber.executors._ledger import SIZE, Ledger, recover


def _open(path: Path) -> int:
    return os.open(path, os.O_RDONLY)


def test_what_was_kept_and_not_sent_comes_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    ledger = Ledger(str(path))
    fd = _open(path)
    try:
        for tag in (7, 8, 9):
            assert ledger.add((tag, True, b"value", [], 0.0, 0.0, None, 0))
        # the caller still waits for 8 and 9 (7 arrived through the pipe)
        assert [r[0] for r in recover(fd, [8, 9])] == [8, 9]
        # a sent batch is cleared: nothing is read back twice
        ledger.clear()
        assert recover(fd, [8, 9]) == []
    finally:
        os.close(fd)


def test_results_of_other_jobs_or_out_of_order_are_not_taken(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    ledger = Ledger(str(path))
    fd = _open(path)
    try:
        ledger.add((1, True, b"", [], 0.0, 0.0, None, 0))
        ledger.add((3, True, b"", [], 0.0, 0.0, None, 0))
        # waiting for 2 then 3: 1 was delivered, and 3 cannot come before 2
        assert recover(fd, [2, 3]) == []
        assert [r[0] for r in recover(fd, [3])] == [3]
    finally:
        os.close(fd)


def test_a_result_too_large_is_refused_to_be_sent_at_once(tmp_path: Path) -> None:
    ledger = Ledger(str(tmp_path / "ledger"))
    assert not ledger.add((1, True, b"x" * SIZE, [], 0.0, 0.0, None, 0))
    assert ledger.add((2, True, b"small", [], 0.0, 0.0, None, 0))


def test_a_torn_tail_leaves_the_records_before_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    ledger = Ledger(str(path))
    ledger.add((1, True, b"a", [], 0.0, 0.0, None, 0))
    used = ledger.used
    ledger.add((2, True, b"b", [], 0.0, 0.0, None, 0))
    # a worker killed while writing record 2: the head still says `used`
    ledger.map[0:8] = used.to_bytes(8, "little")
    fd = _open(path)
    try:
        assert [r[0] for r in recover(fd, [1, 2])] == [1]
    finally:
        os.close(fd)


def test_the_kept_records_are_the_answer_as_sent_each_result_pickled_once(
    tmp_path: Path,
) -> None:
    ledger = Ledger(str(tmp_path / "ledger"))
    name = "the same str object twice"  # a pickler with a memo would refer back to it
    kept = [
        (1, True, None, None, 1.5, 0.25, None, 0),
        (2, False, b"error", [], 1.5, 0.25, (name, name, "trace"), 0),
        (3, True, "text", None, 1.5, 0.25, None, 7),
        (4, True, b"y" * 100_000, ["webber-1-seg"], 1.5, 0.25, None, 0),  # several frames
    ]
    for result in kept:
        assert ledger.add(result)
    assert not ledger.add((5, True, b"x" * SIZE, [], 0.0, 0.0, None, 0))  # refused...
    assert pickle.loads(ledger.message()) == ("done", kept)  # ...and not half kept
    ledger.clear()
    assert ledger.add(kept[0])
    assert pickle.loads(ledger.message()) == ("done", kept[:1])


def test_a_record_torn_over_the_last_ones_end_leaves_the_records_before_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger"
    ledger = Ledger(str(path))
    ledger.add((1, True, None, None, 0.0, 0.0, None, 0))
    # a worker killed after writing the first bytes of record 2 over the
    # STOP of record 1, before the head moved
    ledger.map[ledger.used:ledger.used + 3] = b"\x80\x05\x95"
    fd = _open(path)
    try:
        assert [r[0] for r in recover(fd, [1, 2])] == [1]
    finally:
        os.close(fd)


def test_a_ledger_no_worker_holds_is_swept_and_a_held_or_young_one_is_kept(
    tmp_path: Path,
) -> None:
    from webber.executors import _ledger

    old = time.time() - 2 * _ledger.YOUNG
    left = tmp_path / "webber-999991-ledger"  # its worker was killed with its caller
    left.write_bytes(b"")
    held = tmp_path / "webber-999992-ledger"  # a worker that lives holds its ledger
    ledger = Ledger(str(held))
    young = tmp_path / "webber-999993-ledger"  # made just now: its worker may not hold it yet
    young.write_bytes(b"")
    segment = tmp_path / "webber-999991-0-abcdef"  # not a ledger: not the sweep's
    segment.write_bytes(b"x")
    for path in (left, held, segment):
        os.utime(path, (old, old))
    _ledger._swept.discard(str(tmp_path))
    _ledger.sweep(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (held, young, segment)
    )
    assert ledger.add((1, True, b"", [], 0.0, 0.0, None, 0))  # still its worker's


def test_segments_of_processes_gone_are_removed_those_of_the_living_and_other_namespaces_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webber.executors import _shm

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    gone = int(ended.stdout)  # a process of this namespace that is gone
    monkeypatch.setattr(_shm, "_DIR", str(tmp_path))
    monkeypatch.setattr(_shm, "_swept", False)
    names = {
        f"webber-{_shm.owner(gone)}-0-aaaa": False,  # its creator is gone
        f"webber-{_shm.owner(gone)}-1-bbbb+2.0": False,
        # a worker's: its caller may still read it after the worker exited
        f"webber-{_shm.owner(gone)}-2.{os.getpid()}-ffff": True,
        f"webber-{_shm.owner(gone)}-3.{gone}-gggg": False,  # the worker and its caller gone
        f"webber-{_shm.owner(os.getpid())}-0-cccc": True,  # its creator lives
        f"webber-{gone}.1-0-dddd": True,  # another pid namespace's: its pids mean nothing here
        f"webber-{gone}-0-eeee": True,  # not named by an owner
        f"webber-{_shm.owner(gone)}-ledger": True,  # a ledger: the ledger sweep's
    }
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    _shm.remove_orphans()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n, kept in names.items()
                                                               if kept)


def test_the_first_worker_of_a_process_removes_ledgers_left_by_killed_workers(
    tmp_path: Path,
) -> None:
    from webber.executors import _ledger, _shm

    left = Path(_ledger.ledger_path(_shm.directory(), 4_000_000 + os.getpid()))
    left.write_bytes(b"")
    old = time.time() - 2 * _ledger.YOUNG
    os.utime(left, (old, old))
    script = tmp_path / "flow.py"
    script.write_text(
        "import webber\n"
        "dag = webber.DAG()\n"
        "dag.add_node(abs, -1)\n"
        "assert dag.run(executor='processes').ok\n"
    )
    try:
        subprocess.run([sys.executable, str(script)], check=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert not left.exists()
    finally:
        left.unlink(missing_ok=True)
