"""Workers follow the caller's working directory, sys.path and environment.

A pool's workers live across runs; what the caller changes between runs
(``os.chdir``, ``%cd``, ``os.environ``, ``sys.path``) must reach the tasks
of the next run, or a task would read another file than the same task run
inline: a wrong result without an error.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from webber import DAG, Promise
from webber.executors import ProcessExecutor, _inplace
from webber.executors._caller import _pickled, current


def where_am_i() -> tuple[str, str | None, str | None, bool, str, list[str], int, int]:
    return (os.getcwd(), os.environ.get("WEBBER_TEST_SET"), os.environ.get("WEBBER_TEST_GONE"),
            "/webber-test-entry" in sys.path, Path("data.txt").read_text(), sys.argv[1:],
            sys.getrecursionlimit(), time.localtime(0).tm_hour)


def set_in_worker() -> int:
    os.environ["WEBBER_TEST_TASK"] = "mine"
    os.chdir("/")
    sys.path.append("/webber-test-task-entry")
    sys.argv.append("--task")
    sys.setrecursionlimit(sys.getrecursionlimit() + 7)
    warnings.simplefilter("error", UserWarning)
    return os.getpid()


def read_in_worker(*_: Any) -> tuple[int, str | None, str, bool, list[str], int, bool]:
    return (os.getpid(), os.environ.get("WEBBER_TEST_TASK"), os.getcwd(),
            "/webber-test-task-entry" in sys.path, sys.argv[1:], sys.getrecursionlimit(),
            any(f[0] == "error" and f[2] is UserWarning for f in warnings.filters))


def run_one(func: Any, executor: Any = "processes") -> Any:
    flow = DAG()
    node = flow.add_node(func)
    run = flow.run(executor=executor)
    assert run.ok, run.error
    return run[node]


@pytest.fixture
def zone_and_limit() -> Iterator[None]:
    """TZ and the recursion limit as they were, after the test (monkeypatch
    would restore TZ without putting it in force)."""
    zone, limit = os.environ.get("TZ"), sys.getrecursionlimit()
    yield
    if zone is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = zone
    time.tzset()
    sys.setrecursionlimit(limit)


@pytest.mark.usefixtures("zone_and_limit")
def test_a_run_sees_what_the_caller_changed_since_the_workers_started(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "data.txt").write_text("a")
    (tmp_path / "b" / "data.txt").write_text("b")
    monkeypatch.chdir(tmp_path / "a")
    monkeypatch.setenv("WEBBER_TEST_GONE", "here")
    monkeypatch.setattr(sys, "argv", ["script.py", "input.csv"])
    os.environ["TZ"] = "UTC0"  # (POSIX zones: no tz database needed)
    time.tzset()
    limit = sys.getrecursionlimit()
    executor = ProcessExecutor(max_workers=1)
    first = run_one(where_am_i, executor)
    assert first == (str(tmp_path / "a"), None, "here", False, "a", ["input.csv"], limit, 0)

    monkeypatch.chdir(tmp_path / "b")
    monkeypatch.setenv("WEBBER_TEST_SET", "set later")
    monkeypatch.delenv("WEBBER_TEST_GONE")
    monkeypatch.syspath_prepend("/webber-test-entry")
    sys.argv.append("--fast")
    os.environ["TZ"] = "JST-9"
    time.tzset()
    sys.setrecursionlimit(limit + 1000)
    expected = (str(tmp_path / "b"), "set later", None, True, "b", ["input.csv", "--fast"],
                limit + 1000, 9)
    assert run_one(where_am_i, "inline") == expected
    assert run_one(where_am_i, executor) == expected


def test_what_a_task_changes_in_its_worker_lasts_until_its_run_ends(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBBER_TEST_TASK", raising=False)
    monkeypatch.setattr(sys, "argv", ["script.py"])
    executor = ProcessExecutor(max_workers=1)
    flow = DAG()
    changed = flow.add_node(set_in_worker)
    after = flow.add_node(read_in_worker, Promise(changed))
    run = flow.run(executor=executor)
    assert run.ok, run.error
    limit = run[after][5]
    # (the tasks after it in the same run, on the same worker, see what it changed)
    assert run[after] == (run[changed], "mine", "/", True, ["--task"], limit, True)
    # (the next run starts where the caller is, as a fresh worker would)
    here = (os.getcwd(), False, [], sys.getrecursionlimit())
    for _ in range(3):
        pid, key, cwd, entry, argv, recursion, error = run_one(read_in_worker, executor)
        assert pid == run[changed]
        assert (key, (cwd, entry, argv, recursion), error) == (None, here, False)
    assert "WEBBER_TEST_TASK" not in os.environ


def quiet_app() -> tuple[int, int]:
    app = logging.getLogger("webber_test.app")
    seen = app.level
    app.setLevel(logging.ERROR)  # (a task's own change, in its worker)
    return os.getpid(), seen


def test_a_loggers_own_level_is_the_callers_again_in_the_next_run() -> None:
    app = logging.getLogger("webber_test.app")
    app.setLevel(logging.INFO)
    try:
        executor = ProcessExecutor(max_workers=1)
        first, level = run_one(quiet_app, executor)
        assert level == logging.INFO
        again, level = run_one(quiet_app, executor)
        assert (again, level) == (first, logging.INFO)  # the same worker, put back
    finally:
        app.setLevel(logging.NOTSET)


def test_a_snapshot_is_reused_while_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    first = current()
    assert current() is first
    monkeypatch.setenv("WEBBER_TEST_SET", "1")
    second = current()
    assert second is not first and second.environ["WEBBER_TEST_SET"] == "1"
    assert current() is second


def test_a_caller_whose_directory_was_removed_still_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert current().cwd is None
    assert run_one(os.getpid, ProcessExecutor(max_workers=1)) > 0


def test_a_module_the_caller_reloaded_is_reloaded_in_its_workers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # (as after editing mylib.py with IPython's %autoreload on)
    (tmp_path / "webber_test_mylib.py").write_text("def f():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "webber_test_mylib", raising=False)
    import webber_test_mylib as mylib  # type: ignore[import-not-found]

    def calls_it() -> int:  # (a notebook function: sent by value, mylib by reference)
        return int(mylib.f())

    assert run_one(mylib.f) == run_one(calls_it) == 1
    (tmp_path / "webber_test_mylib.py").write_text("def f():\n    return 222\n")
    importlib.reload(mylib)
    assert run_one(mylib.f) == run_one(calls_it) == 222
    assert current().reloads["webber_test_mylib"] == 1


LIB = ("LIMIT = 1\n\n\ndef f():\n    return LIMIT\n\n\n"
       "class Box:\n    def get(self):\n        return 10\n")


def rewrite(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, its mtime a second on (a test is quicker
    than the file system's clock tick)."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def patch_in_place(module: Any, text: str) -> None:
    """Reload ``module`` from ``text`` as IPython 9's ``%autoreload 2``
    ("deduperreload") does: the new definitions compiled in the module's
    globals, their code put into the functions and methods it has, a changed
    constant bound again (the same module object and ``__spec__``)."""
    fresh: dict[str, Any] = {}
    # (dont_inherit: this file's ``from __future__ import annotations`` is not the module's)
    exec(compile(text, module.__file__, "exec", dont_inherit=True), dict(vars(module)), fresh)
    for name, new in fresh.items():
        if isinstance(new, type):  # (its methods)
            for key, method in vars(new).items():
                if callable(method):
                    getattr(module, name).__dict__[key].__code__ = method.__code__
        elif callable(new):
            getattr(module, name).__code__ = new.__code__
        elif getattr(module, name) != new:
            setattr(module, name, new)


def import_lib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Any:
    (tmp_path / f"{name}.py").write_text(LIB)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module(name)


def test_a_module_patched_in_place_is_reloaded_in_its_workers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # (IPython 9's %autoreload 2 after editing mylib.py: no new module, no new spec)
    mylib = import_lib(tmp_path, monkeypatch, "webber_test_inplace")
    spec = mylib.__spec__

    def calls_it() -> tuple[int, int]:
        return int(mylib.f()), int(mylib.Box().get())

    executor = ProcessExecutor(max_workers=1)
    assert run_one(calls_it, executor) == (1, 10)
    edited = LIB.replace("LIMIT = 1", "LIMIT = 5001").replace("return 10", "return 20")
    rewrite(tmp_path / "webber_test_inplace.py", edited)
    patch_in_place(mylib, edited)  # (a constant bound again, a method's code replaced)
    assert calls_it() == (5001, 20) and mylib.__spec__ is spec
    assert run_one(calls_it, executor) == (5001, 20)
    assert run_one(mylib.f, executor) == 5001
    assert current().reloads["webber_test_inplace"] == 1


def test_a_module_is_reloaded_in_workers_only_once_the_caller_runs_its_new_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mylib = import_lib(tmp_path, monkeypatch, "webber_test_edited")
    path = tmp_path / "webber_test_edited.py"
    executor = ProcessExecutor(max_workers=1)
    assert run_one(mylib.f, executor) == 1
    rewrite(path, LIB)  # (saved as it was, and reloaded in place: the same code)
    patch_in_place(mylib, LIB)
    assert run_one(mylib.f, executor) == 1
    assert "webber_test_edited" not in current().reloads
    edited = LIB.replace("return LIMIT", "return LIMIT + 332")
    rewrite(path, edited)  # (edited, not reloaded yet: the caller runs its old code)
    for _ in range(2):
        assert run_one(mylib.f, executor) == mylib.f() == 1
    assert "webber_test_edited" not in current().reloads
    patch_in_place(mylib, edited)  # (a function's code replaced)
    assert run_one(mylib.f, executor) == mylib.f() == 333
    assert current().reloads["webber_test_edited"] == 1


def test_modules_of_the_standard_library_and_installed_packages_are_not_watched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # (one os.stat per watched module at each run's start: only the caller's own)
    import_lib(tmp_path, monkeypatch, "webber_test_watched")
    current()
    assert "webber_test_watched" in _inplace._sources
    assert not {"json", "os", "pytest", "cloudpickle", "webber._flow"} & set(_inplace._sources)


def warns() -> int:
    warnings.warn("careful", UserWarning, stacklevel=1)
    return 1


class MainWarning(UserWarning):
    pass


MainWarning.__module__ = "__main__"  # (as a script's own category is)


def test_the_callers_warning_filters_hold_in_its_workers() -> None:
    # (`python -W error`, pytest's filterwarnings = error)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for executor in ("inline", ProcessExecutor(max_workers=1)):
            flow = DAG()
            node = flow.add_node(warns)
            run = flow.run(executor=executor)
            assert not run.ok and isinstance(run.error(node), UserWarning)
    flow = DAG()
    node = flow.add_node(warns)
    assert flow.run(executor=ProcessExecutor(max_workers=1))[node] == 1


def test_a_filter_of_a_category_a_worker_cannot_import_is_left_out() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", MainWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        sent = _pickled(tuple(warnings.filters))
    assert sent is not None
    categories = [f[2] for f in pickle.loads(sent)]
    assert MainWarning not in categories and DeprecationWarning in categories
