"""run(cache=...): a later run, in a new process, runs only what changed; the
store survives crashes, damage and a second writer. On every executor."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import webber
from webber import Cache, Flow, Listener, task

pytestmark = pytest.mark.timeout(300)

PIPELINE = '''
import os, sys, json
from webber import Flow, task

LOG = os.environ["CALLS"]
FACTOR = 3


def called(name):
    with open(LOG, "a") as f:
        f.write(name + "\\n")


@task
def load(n):
    called("load")
    return list(range(n))


def make_scale(factor):
    @task
    def scale(rows):
        called("scale")
        return [r * factor for r in rows]
    return scale


@task
def other(x):
    called("other")
    return x + 1


@task
def combine(rows, extra):
    called("combine")
    return sum(rows) + extra


def build():
    with Flow("pipe") as flow:
        rows = load(4)
        scaled = make_scale(FACTOR)(rows)
        extra = other(10)
        total = combine(scaled, extra)
    return flow, total


if __name__ == "__main__":
    flow, total = build()
    executor, cache = sys.argv[1], sys.argv[2]
    workers = 2
    if executor == "dask":  # the test suite's cluster: starting one costs seconds
        from distributed import Client
        from webber import DaskExecutor
        executor, workers = DaskExecutor(Client(os.environ["SCHEDULER"])), None
    run = flow.run(executor=executor, max_workers=workers, cache=cache)
    print(json.dumps({"total": run[total], "cached": run.cached}))
'''


def _run_pipeline(
    folder: Path, executor: str, scheduler: str
) -> tuple[list[str], dict[str, Any]]:
    """Run the pipeline in a new Python process; (the tasks that ran, its output)."""
    calls = folder / "calls.txt"
    calls.unlink(missing_ok=True)
    env = {**os.environ, "CALLS": str(calls), "SCHEDULER": scheduler,
           "PYTHONPATH": os.pathsep.join([str(folder), *sys.path])}
    result = subprocess.run(
        [sys.executable, str(folder / "pipeline.py"), executor, str(folder / "store")],
        capture_output=True, text=True, env=env, check=False, timeout=240,
    )
    assert result.returncode == 0, result.stderr
    ran = sorted(calls.read_text().split()) if calls.exists() else []
    return ran, json.loads(result.stdout.strip().splitlines()[-1])


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_new_process_runs_only_what_changed(
    executor: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    scheduler = ""
    if executor == "dask":
        scheduler = request.getfixturevalue("dask_client").scheduler.address
    script = tmp_path / "pipeline.py"
    script.write_text(PIPELINE)
    ran, out = _run_pipeline(tmp_path, executor, scheduler)
    assert ran == ["combine", "load", "other", "scale"]
    assert out == {"total": 18 + 11, "cached": []}

    ran, out = _run_pipeline(tmp_path, executor, scheduler)  # a new process: nothing changed
    assert ran == []
    assert out["total"] == 29
    assert sorted(out["cached"]) == ["combine-1", "load-1", "other-1", "scale-1"]

    _edit(script, "return x + 1", "return x + 2")  # a function's body
    ran, out = _run_pipeline(tmp_path, executor, scheduler)
    assert ran == ["combine", "other"]
    assert out["total"] == 30

    _edit(script, "FACTOR = 3", "FACTOR = 4")  # a closure value
    ran, out = _run_pipeline(tmp_path, executor, scheduler)
    assert ran == ["combine", "scale"]
    assert out["total"] == 24 + 12

    _edit(script, "rows = load(4)", "rows = load(5)")  # an argument: all its downstream
    ran, out = _run_pipeline(tmp_path, executor, scheduler)
    assert ran == ["combine", "load", "scale"]
    assert out == {"total": 40 + 12, "cached": ["other-1"]}


# -- in this process ------------------------------------------------------------------
def count(path: str, value: Any) -> Any:
    """Returns ``value``, appending a line to ``path`` (so: counted in any process)."""
    with open(path, "a") as f:
        f.write("x\n")
    return value


def calls(path: Path) -> int:
    return len(path.read_text().split()) if path.exists() else 0


def fail(message: str) -> None:
    raise ValueError(message)


def test_failures_and_skips_store_nothing(executor: str, tmp_path: Path) -> None:
    store = Cache(tmp_path / "store")
    log = tmp_path / "calls"
    with Flow() as flow:
        broken = task(fail)("no")
        after = task(count)(str(log), broken)  # skipped: its parent failed
        handler = task(count)(str(log), webber.on_failure(broken))
    first = flow.run(executor=executor, cache=store)
    assert first.state(broken) == "failed" and first.state(after) == "skipped"
    assert first.state(handler) == "success"
    # The failure, the skip, and the handler of a failure (whose input is an
    # exception) are not stored.
    assert store.entries() == []
    assert first.cache_stats is not None and first.cache_stats.stored == 0
    second = flow.run(executor=executor, cache=store)
    assert second.cached == [] and calls(log) == 2


def append_999(rows: list[int]) -> int:
    rows.append(999)
    return len(rows)


def write_7(array: Any) -> float:
    array[0] = 7.0
    return float(array[0])


def test_an_entry_holds_what_the_task_returned(
    executor: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A child that changes its input in place does not change its parent's
    entry (a chain's link runs before the engine hears of its parent)."""
    if executor == "dask":
        request.applymarker(pytest.mark.xfail(
            strict=True, reason="dask keeps results on the cluster and they are stored "
            "when the run is over (see docs/guide/caching.md)"))
    np = pytest.importorskip("numpy")
    with Flow() as flow:
        rows = task(list, name="rows")([1, 2, 3])
        appended = task(append_999)(rows)
        array = task(np.zeros, name="array")(1_000_000)
        written = task(write_7)(array)
    first = flow.run(executor=executor, cache=tmp_path / "s")
    assert first[appended] == 4 and first[written] == 7.0
    again = flow.run(executor="inline", cache=tmp_path / "s")
    assert sorted(again.cached) == sorted(n.key for n in (rows, appended, array, written))
    assert again[rows] == [1, 2, 3] and again[array][0] == 0.0
    assert [p.name for p in (tmp_path / "s").rglob(".tmp-*")] == []  # nothing staged is left


def test_a_run_stopped_by_ctrl_c_keeps_what_finished(executor: str, tmp_path: Path) -> None:
    """Ctrl-C in the middle of a run: the tasks that had finished are stored,
    and the next run loads them instead of running them again (on dask too,
    whose results stay on the cluster until the run's end)."""
    log = tmp_path / "calls"
    with Flow() as flow:
        a = task(count, name="a")(str(log), [1])
        b = task(count, name="b")(str(log), [2])
        last = task(count, name="last")(str(log), [a, b])

    class CtrlC(Listener):
        def on_task_start(self, node: str, attempt: int, index: int | None,
                          worker: str) -> None:
            if node == last.key:  # a and b have finished: last takes their results
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        flow.run(executor=executor, cache=tmp_path / "s", listeners=[CtrlC()])
    ran = calls(log)
    again = flow.run(executor=executor, cache=tmp_path / "s")
    assert {a.key, b.key} <= set(again.cached) and again[last] == [[1], [2]]
    assert calls(log) - ran == (0 if last.key in again.cached else 1)  # only last ran
    assert [p.name for p in (tmp_path / "s").rglob(".tmp-*")] == []


def test_a_result_that_came_too_late_is_not_stored(tmp_path: Path) -> None:
    """The inline executor cannot interrupt a task: one that returns after its
    timeout fails, and what was staged as it returned is dropped."""

    @task(timeout=0.01)
    def slow() -> int:
        time.sleep(0.05)
        return 1

    with Flow() as flow:
        late = slow()
    run = flow.run(executor="inline", cache=tmp_path / "s")
    assert run.state(late) == "failed" and Cache(tmp_path / "s").entries() == []
    assert [p.name for p in (tmp_path / "s").rglob(".tmp-*")] == []


def test_hits_show_in_the_run_events_and_diagrams(executor: str, tmp_path: Path) -> None:
    log = tmp_path / "calls"
    with Flow("shown") as flow:
        a = task(count)(str(log), [1, 2])
        b = task(count)(str(log), a)
        c = task(count, cache=False)(str(log), b)  # side effects: runs each time

    ends: list[tuple[str, int, str]] = []

    class Ends(Listener):
        def on_task_end(self, node: str, state: Any, attempt: int, duration: float,
                        worker: str) -> None:
            ends.append((node, attempt, worker))

    a, b = a.key, b.key  # the ids
    flow.run(executor=executor, cache=tmp_path / "store")
    run = flow.run(executor=executor, cache=tmp_path / "store", listeners=[Ends()])
    assert calls(log) == 4  # a, b, c, then c again
    assert run.cached == [a, b] and run[b] == [1, 2] and run[c] == [1, 2]
    assert run.reused == [a, b] and run.attempts[a] == ()
    assert run.cache_stats is not None
    assert (run.cache_stats.hits, run.cache_stats.misses, run.cache_stats.stored) == (2, 0, 0)
    assert run.cache_stats.size == Cache(tmp_path / "store").size() > 0
    assert sorted(e for e in ends if e[2] == "cache") == sorted([(a, 0, "cache"), (b, 0, "cache")])
    assert "cached" in run.visualize().source
    assert "2 tasks loaded from the cache" in run.timeline().svg


def test_fan_out_is_cached_as_one_result(executor: str, tmp_path: Path) -> None:
    log = tmp_path / "calls"
    with Flow() as flow:
        squares = task(lambda x, path: count(path, x * x)).map([1, 2, 3], str(log))
    assert flow.run(executor=executor, cache=tmp_path / "s")[squares] == [1, 4, 9]
    again = flow.run(executor=executor, cache=tmp_path / "s")
    assert again[squares] == [1, 4, 9] and again.cached == [squares.key] and calls(log) == 3


def price(item: str, flag: str) -> int:
    if item == "caviar" and os.path.exists(flag):
        raise KeyError(item)
    return len(item)


def test_a_partial_fan_out_with_a_failed_element_is_not_stored(
    executor: str, tmp_path: Path
) -> None:
    flag = tmp_path / "flag"
    flag.touch()
    dag = webber.DAG()
    items = dag.add_node(list, ["apple", "caviar"])
    prices = dag.add_node(price, webber.IterPromise(items, partial=True), str(flag))
    first = dag.run(executor=executor, cache=tmp_path / "s")
    assert first[prices][0] == 5 and isinstance(first[prices][1], KeyError)
    assert [e.task for e in Cache(tmp_path / "s").entries()] == ["list"]
    flag.unlink()  # the failed element would succeed now: it runs again
    second = dag.run(executor=executor, cache=tmp_path / "s")
    assert second.cached == [items] and second[prices] == [5, 6]
    assert dag.run(executor=executor, cache=tmp_path / "s").cached == [items, prices]


def test_unpicklable_result_is_not_cached_with_a_warning(
    executor: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if executor in ("processes", "dask"):
        pytest.skip("an unpicklable result cannot leave a worker process either")

    @task(name="make_lock")
    def make_lock() -> Any:
        return threading.Lock()

    with Flow() as flow:
        lock = make_lock()
    run = flow.run(executor=executor, cache=tmp_path / "s")
    assert run.state(lock) == "success"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("'make_lock'" in w and "cannot be pickled" in w for w in warnings)
    assert Cache(tmp_path / "s").entries() == []


def test_what_cannot_be_keyed_is_not_cached_with_a_fitting_hint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lock = threading.Lock()

    def guarded() -> int:
        with lock:  # a closure the key cannot describe: version= stands in for it
            return 1

    with Flow() as flow:
        by_argument = task(len, name="by_argument")([lock])
        by_function = task(guarded)()
    run = flow.run(executor="inline", cache=tmp_path / "s")
    assert run[by_argument] == 1 and run[by_function] == 1
    assert Cache(tmp_path / "s").entries() == []
    warned = {r.task: r.getMessage() for r in caplog.records  # type: ignore[attr-defined]
              if "is not cached" in r.getMessage()}
    assert warned["by_argument"].endswith(
        "; pass it arguments that pickle, or give it cache=False")
    assert "its arguments cannot be pickled" in warned["by_argument"]
    assert "version=" not in warned["by_argument"]
    assert "its function cannot be described" in warned["guarded"]
    assert warned["guarded"].endswith(
        "; give it version=\"...\" (the key then uses that instead of its function) "
        "or cache=False")


def test_a_damaged_entry_is_a_miss_with_a_warning(
    executor: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    np = pytest.importorskip("numpy")
    log = tmp_path / "calls"
    with Flow() as flow:
        big = task(count, name="big")(str(log), np.arange(100_000))
        small = task(count, name="small")(str(log), "text")
    store = Cache(tmp_path / "s")
    flow.run(executor=executor, cache=store)
    entries = {e.task: e for e in store.entries()}
    # Flip a byte in the array's buffer, truncate the other entry.
    with open(entries["big"].path, "r+b") as f:
        f.seek(-100, os.SEEK_END)
        byte = f.read(1)
        f.seek(-100, os.SEEK_END)
        f.write(bytes([byte[0] ^ 0xFF]))
    data = entries["small"].path.read_bytes()
    entries["small"].path.write_bytes(data[: len(data) // 2])
    run = flow.run(executor=executor, cache=store)
    assert run.cached == [] and calls(log) == 4
    assert (run[big] == np.arange(100_000)).all() and run[small] == "text"
    damaged = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert len(damaged) == 2 and any("'big'" in m for m in damaged)
    # The new results replaced the damaged entries.
    assert flow.run(executor=executor, cache=store).cached == [big.key, small.key]


def test_arrays_come_back_writable(executor: str, tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    with Flow() as flow:
        array = task(np.arange)(1000)
    flow.run(executor=executor, cache=tmp_path / "s")
    run = flow.run(executor=executor, cache=tmp_path / "s")
    value = run[array]
    assert run.cached == [array.key] and value.flags.writeable
    value[0] = 7  # copy-on-write: the stored entry is unchanged
    assert flow.run(executor=executor, cache=tmp_path / "s")[array][0] == 0


# -- crashes and two writers (the store itself; executors do not matter) --------------
def test_ctrl_c_mid_write_leaves_no_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from webber import _cache

    store = Cache(tmp_path / "s")
    real_write = _cache._write

    def interrupted(f: Any, payload: bytes, buffers: Any, meta: Any) -> None:
        real_write(f, payload[: len(payload) // 2], [], meta)
        raise KeyboardInterrupt

    monkeypatch.setattr(_cache, "_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.store("ab" * 20, list(range(1000)), "t", "t-1")
    assert store.entries() == []
    assert list((tmp_path / "s").rglob("*")) == [tmp_path / "s" / "ab"]  # no temp file left
    assert store.load("ab" * 20, "t") == (False, None)


KILLED_WRITER = """
import os, signal, sys
from webber import Flow, task, _cache
real = os.replace
def crash(src, dst):
    os.kill(os.getpid(), signal.SIGKILL)  # dies after writing, before the rename
_cache.os.replace = crash
@task
def value():
    return list(range(1000))
with Flow() as flow:
    value()
flow.run(executor="inline", cache=sys.argv[1])
"""


def test_a_process_killed_mid_write_leaves_no_entry(tmp_path: Path) -> None:
    store = tmp_path / "s"
    result = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(store)], check=False,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert result.returncode == -9
    leftovers = list(store.rglob(".tmp-*"))
    assert len(leftovers) == 1  # the whole file was written, never renamed
    assert Cache(store).entries() == []
    Cache(store).clear()
    assert list(store.rglob(".tmp-*")) == []


TWO_WRITERS = """
import os, sys, time, json
from pathlib import Path
from webber import Flow, task

here = Path(sys.argv[1])

@task
def meet(i):
    # Both processes reach this task before either goes on: they write the
    # same keys at the same time. Synchronised by files, not by sleeping.
    (here / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while len(list(here.glob("ready-*"))) < 2:
        assert time.monotonic() < deadline, "the other writer never came"
        time.sleep(0.01)
    with open(here / "calls", "a") as f:
        f.write("x\\n")
    return [i] * 50_000

@task
def total(*parts):
    return sum(len(p) for p in parts)

with Flow() as flow:
    t = total(*[meet(i) for i in range(4)])
run = flow.run(executor=sys.argv[2], max_workers=2, cache=here / "store")
print(json.dumps([run[t], run.cached]))
"""


def test_two_processes_writing_at_once(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [
        subprocess.Popen([sys.executable, "-c", TWO_WRITERS, str(tmp_path), executor],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for executor in ("threads", "processes")
    ]
    outputs = [w.communicate(timeout=240) for w in writers]
    for w, (out, err) in zip(writers, outputs, strict=True):
        assert w.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1])[0] == 200_000
    store = Cache(tmp_path / "store")
    assert len(store.entries()) == 5  # 4 parts and the total, each once
    for entry in store.entries():
        found, _ = store.load(entry.key, entry.task)
        assert found
    assert list((tmp_path / "store").rglob(".tmp-*")) == []
    third = subprocess.run([sys.executable, "-c", TWO_WRITERS, str(tmp_path), "inline"],
                           capture_output=True, text=True, env=env, check=True, timeout=240)
    assert len(json.loads(third.stdout.strip().splitlines()[-1])[1]) == 5


def test_bad_cache_argument() -> None:
    with Flow() as flow:
        task(len)("x")
    with pytest.raises(webber.CacheError, match=r"directory path or a webber\.Cache"):
        flow.run(executor="inline", cache=3)  # type: ignore[arg-type]


def test_an_empty_cache_path_is_refused_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cache="" was Path(""), the current directory: the run wrote its entries
    # (a folder per key prefix) among the user's files, and said nothing.
    monkeypatch.chdir(tmp_path)
    with Flow() as flow:
        task(len)("x")
    with pytest.raises(webber.CacheError, match=(
            r"^cache='' is an empty path; name the store's directory, e\.g\. "
            r"cache=\"\.webber-cache\" \(cache=\"\.\" for the current one\), or leave "
            r"cache= out for no store$")):
        flow.run(executor="inline", cache="")
    assert list(tmp_path.iterdir()) == []


def test_key_survives_set_order_and_sees_version(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    script = textwrap.dedent("""
        import sys
        from webber import Flow, task
        from tests.conformance.test_cache import count
        with Flow() as flow:
            task(count, version=sys.argv[3])(sys.argv[1], {"a", "b", "c", "d"})
        print(flow.run(executor="inline", cache=sys.argv[2]).cached)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def go(version: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", script, str(log), str(tmp_path / "s"), version],
            capture_output=True, text=True, env=env, check=True).stdout.strip()

    # Each process hashes strings with its own seed: a set's order differs.
    assert [go("1"), go("1"), go("2")] == ["[]", "['count-1']", "[]"]


def test_keys_of_nested_sets_are_the_same_in_every_process() -> None:
    """Sets at any depth (in a set, a tuple, a list, a dict, a dataclass) are
    written in one order whatever the process's string hash seed."""
    script = textwrap.dedent("""
        import dataclasses
        from webber._fingerprint import key_pickler, node_key

        @dataclasses.dataclass(frozen=True)
        class Config:
            tags: frozenset

        def t(x):
            return x

        values = [
            frozenset({frozenset({"a", "b"}), frozenset({"c", "d"})}),
            ({"x", "y", "z"}, [{"p", "q"}], {"k": frozenset({"m", "n", "o"})}),
            {frozenset({"e", "f"}): {"g", "h"}},
            Config(frozenset({"u", "v", "w"})),
            {"a", "b", "c", "d"},
        ]
        for value in values:
            print(node_key(key_pickler({}), t, None, (value,), {}, False, {}))
    """)

    first = _keys(script, "1")
    assert len(set(first)) == 5
    assert _keys(script, "2") == first and _keys(script, "3") == first


def test_keys_of_subclasses_of_sets_are_the_same_in_every_process() -> None:
    """A subclass of set or frozenset (pickled by its own reduce, its items in
    hash order) is written in one order too, with its class and its state."""
    script = textwrap.dedent("""
        from webber._fingerprint import key_pickler, node_key

        class Tags(set):
            pass

        class Named(frozenset):
            __slots__ = ("name",)

        def named(items, name):
            made = Named(items)
            made.name = name
            return made

        def t(x):
            return x

        tagged = Tags({"a", "b", "c", "d", "e"})
        tagged.note = {"x", "y", "z"}
        values = [
            Tags({"a", "b", "c", "d", "e"}),
            tagged,
            {"k": [named({"p", "q", "r", "s"}, "one")]},
            named({"p", "q", "r", "s"}, "two"),
            Tags({frozenset({"f", "g"}), named({"h", "i"}, "three")}),
            {"a", "b", "c", "d", "e"},
        ]
        for value in values:
            print(node_key(key_pickler({}), t, None, (value,), {}, False, {}))
    """)

    first = _keys(script, "1")
    assert len(set(first)) == 6  # (the class and the state count: no two alike)
    assert _keys(script, "2") == first and _keys(script, "3") == first


def _keys(script: str, seed: str) -> list[str]:
    """What ``script`` prints (keys), run in a process of its own with ``PYTHONHASHSEED=seed``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONHASHSEED": seed}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, check=True).stdout.split()
