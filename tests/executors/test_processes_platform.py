"""Which path the process pool takes (``_spawn.py``), and what happens where
worker processes are not supported: the default runs on threads, with one
warning, and the seed's example still runs."""

from __future__ import annotations

import os
import sys
import types
import warnings

import pytest

import webber
from webber import executors
from webber.executors import ThreadExecutor, processes, resolve_executor


@pytest.fixture
def fresh_pool() -> object:
    """The pool is per process: a test that picks its path starts a new one."""
    webber.shutdown()
    yield
    webber.shutdown()


def test_where_worker_processes_are_not_supported_the_default_is_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Windows, as executors/__init__.py sees it (not os itself: pytest needs it).
    monkeypatch.setattr(executors, "os", types.SimpleNamespace(name="nt", environ={}))
    monkeypatch.setattr(executors, "_warned", False)
    dag = webber.DAG()
    hello = dag.add_node(lambda: "Hello")
    dag.add_node(print, webber.Promise(hello))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run = dag.execute()  # the seed's call: the default executor
        assert isinstance(resolve_executor("processes"), ThreadExecutor)
    assert run.ok and run[hello] == "Hello"
    assert [w.category for w in seen] == [RuntimeWarning]  # once per process
    assert "runs on threads; pass executor='threads'" in str(seen[0].message)
    assert seen[0].filename == __file__  # it points at the user's line


def test_a_misspelt_pool_kind_is_an_error(
    monkeypatch: pytest.MonkeyPatch, fresh_pool: object
) -> None:
    monkeypatch.setenv("WEBBER_POOL", "windows")
    with pytest.raises(webber.ExecutorError,
                       match="WEBBER_POOL='windows' is not a pool kind; use one of 'posix', "
                             "'portable'"):
        processes.ProcessExecutor().start(lambda message: None)


def _session_of_worker() -> int:
    return os.getsid(os.getpid())


@pytest.mark.skipif(sys.platform == "win32", reason="sessions are POSIX")
@pytest.mark.parametrize("kind", ["posix", "portable"])
def test_each_path_runs_a_flow(
    monkeypatch: pytest.MonkeyPatch, fresh_pool: object, kind: str
) -> None:
    """Both paths run tasks in worker processes; only the posix one puts each
    worker in a session of its own (so killpg ends its tree)."""
    monkeypatch.setenv("WEBBER_POOL", kind)
    with webber.Flow("paths") as flow:
        session = webber.task(_session_of_worker)()
        pid = webber.task(os.getpid)()
    run = flow.run(executor="processes", max_workers=1)
    assert run[pid] != os.getpid()
    assert (run[session] == os.getsid(0)) == (kind == "portable")
