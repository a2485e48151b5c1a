"""Which path the process pool takes (``_spawn.py``), and what happens where
worker processes are not supported: the default runs on threads, with one
warning, and the seed's example still runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import webber
from webber import executors
from webber.executors import ThreadExecutor, processes, resolve_executor


@pytest.fixture
def fresh_pool() -> Iterator[None]:
    """The pool is per process: a test that picks its path starts a new one."""
    webber.shutdown()
    yield
    webber.shutdown()


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows, as executors/__init__.py sees it (not os itself: pytest needs it)."""
    monkeypatch.setattr(executors, "os", types.SimpleNamespace(name="nt", environ={}))
    monkeypatch.setattr(executors, "_warned", False)


def test_where_worker_processes_are_not_supported_the_default_is_threads(
    windows: None,
) -> None:
    dag = webber.DAG()
    hello = dag.add_node(lambda: "Hello")
    dag.add_node(print, webber.Promise(hello))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run = dag.execute()  # the seed's call: the default executor
        assert isinstance(resolve_executor("processes"), ThreadExecutor)
        assert executors.runs_here("processes") == "threads"
    assert run.ok and run[hello] == "Hello"
    assert [w.category for w in seen] == [RuntimeWarning]  # once per process
    assert "executor='processes' (the default) runs on threads" in str(seen[0].message)
    assert "WEBBER_POOL=portable" in str(seen[0].message)
    assert seen[0].filename == __file__  # it points at the user's line


def test_where_worker_processes_are_not_supported_a_stream_runs_on_threads(
    windows: None,
) -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        pids = webber.stream(range(3), abs, _pid_of, executor="processes")
    assert pids == [os.getpid()] * 3  # threads of this process
    assert [w.category for w in seen] == [RuntimeWarning]


def _pid_of(_: object) -> int:
    return os.getpid()


def test_a_misspelt_pool_kind_is_an_error(
    monkeypatch: pytest.MonkeyPatch, fresh_pool: None
) -> None:
    monkeypatch.setenv("WEBBER_POOL", "windows")
    with pytest.raises(webber.ExecutorError,
                       match="WEBBER_POOL='windows' is not a pool kind; use one of 'posix', "
                             "'portable'"):
        processes.ProcessExecutor().start(lambda message: None)


def test_the_posix_path_cannot_be_forced_where_there_is_no_posix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from webber.executors import _spawn

    monkeypatch.setattr(_spawn, "os", types.SimpleNamespace(name="nt", environ={
        "WEBBER_POOL": "posix"}))
    with pytest.raises(webber.ExecutorError,
                       match=r"WEBBER_POOL='posix' needs a POSIX system .*; use "
                             "WEBBER_POOL=portable here"):
        _spawn.mode()


def _session_of_worker() -> int:
    return os.getsid(os.getpid())


@pytest.mark.skipif(sys.platform == "win32", reason="sessions are POSIX")
@pytest.mark.parametrize("kind", ["posix", "portable"])
def test_each_path_runs_a_flow(
    monkeypatch: pytest.MonkeyPatch, fresh_pool: None, kind: str
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
    pool = processes._pool
    assert pool is not None and pool.posix == (kind == "posix")


def _die() -> None:
    os._exit(7)


def _negate(x: int) -> int:
    return -x


def test_without_pidfd_a_thread_notices_a_worker_die(
    monkeypatch: pytest.MonkeyPatch, fresh_pool: None
) -> None:
    """macOS has no pidfd: the POSIX path then waits for each worker on a thread."""
    monkeypatch.delenv("WEBBER_POOL", raising=False)
    monkeypatch.delattr(os, "pidfd_open", raising=False)
    with webber.Flow("no-pidfd") as flow:
        dead = webber.task(_die)()
        alive = webber.task(_negate)(-3)
    run = flow.run(executor="processes", max_workers=2)
    assert isinstance(run.error(dead), webber.WorkerCrashedError)
    assert "exited with exit code 7" in str(run.error(dead))
    assert run[alive] == 3


@pytest.mark.parametrize("kind", ["posix", "portable"])
def test_a_script_without_the_main_guard_runs_once(tmp_path: Path, kind: str) -> None:
    """Workers never re-import ``__main__`` (the functions travel by value), so
    a script needs no ``if __name__ == "__main__":`` guard on either path: its
    top level runs once, in the caller only."""
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent("""
        import os
        import webber

        print("top level ran in", os.getpid(), flush=True)

        def shout(word):
            return word.upper() + "!"

        with webber.Flow("unguarded") as flow:
            loud = webber.task(shout)("hello")
        run = flow.run(executor="processes", max_workers=2)
        print("result", run[loud], flush=True)
    """))
    env = {**os.environ, "WEBBER_POOL": kind}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["top", "result"]
    assert lines[-1] == "result HELLO!"


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_flow_runs_in_a_child_that_multiprocessing_started_without_fork(
        tmp_path: Path, method: str) -> None:
    """In such a child the script is the module ``__mp_main__``: its functions
    and classes must travel by value, as ``__main__``'s do (named by
    reference, every task failed with JobLoadError: no worker can import it)."""
    script = tmp_path / "in_pool.py"
    script.write_text(textwrap.dedent(f"""
        import dataclasses
        import multiprocessing
        from webber import DAG, Promise

        @dataclasses.dataclass
        class Box:
            n: int

        def make(n):
            return Box(n)

        def grow(box):
            return Box(box.n + 1)

        def job(i):
            dag = DAG()
            first = dag.add_node(make, i)
            second = dag.add_node(grow, Promise(first))
            run = dag.run(executor="processes", max_workers=2)
            assert run.ok
            return type(run[second]).__name__, run[second].n

        if __name__ == "__main__":
            with multiprocessing.get_context({method!r}).Pool(1) as pool:
                print(pool.map(job, [1, 5]))
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[('Box', 2), ('Box', 6)]"


def test_the_portable_path_takes_only_connections_that_bring_its_token() -> None:
    """Another local program that connects to the pool's port first is turned
    away; the worker's own connection, with the token, is taken."""
    import socket
    import threading

    from webber.executors import _spawn

    token = b"0123456789abcdef\n"
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        replies: list[bytes] = []

        def knock() -> None:
            with socket.create_connection(("127.0.0.1", port)) as stranger:
                stranger.sendall(b"not the token!!!\n")
                replies.append(stranger.recv(1))  # b"": turned away
            worker = socket.create_connection(("127.0.0.1", port))
            worker.sendall(token + b"hi")
            replies.append(b"sent")
            worker.close()

        thread = threading.Thread(target=knock)
        thread.start()
        try:
            conn = _spawn._accept(server, sleeper, token)
            with conn:
                assert conn.recv(2) == b"hi"
        finally:
            thread.join()
            sleeper.kill()
            sleeper.wait()
    assert replies == [b"", b"sent"]


def _child_ignores_term(pidfile: str) -> None:
    import time

    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code])
    Path(pidfile).write_text(str(child.pid))
    time.sleep(60)


@pytest.mark.parametrize("kind", ["posix", "portable"])
def test_a_timeout_kills_a_child_that_ignores_sigterm_on_each_path(
    monkeypatch: pytest.MonkeyPatch, fresh_pool: None, tmp_path: Path, kind: str
) -> None:
    """SIGTERM, then SIGKILL after GRACE: the portable path remembers whom it
    sent SIGTERM to, since they are no longer below the worker once it died."""
    import time

    psutil = pytest.importorskip("psutil")
    monkeypatch.setenv("WEBBER_POOL", kind)
    pidfile = tmp_path / "pid"
    with webber.Flow("stubborn") as flow:
        stuck = webber.task(timeout=1.0)(_child_ignores_term)(str(pidfile))
    run = flow.run(executor="processes", max_workers=1)
    assert isinstance(run.error(stuck), webber.TaskTimeoutError)
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 30
    while psutil.pid_exists(grandchild) and time.monotonic() < deadline:
        if psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.05)
    assert not psutil.pid_exists(grandchild) or (
        psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
    )
