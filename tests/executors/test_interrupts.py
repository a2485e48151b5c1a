"""Ctrl-C at the worst moments of the process pool: as it starts its thread,
as it starts a worker, as a worker it starts is killed by the same Ctrl-C.

Each test runs a script in a process of its own (a real SIGINT, the pool of
a fresh process) that ends with a second run, as a REPL does after a Ctrl-C.
The SIGINT is sent from inside the step it must not cut in two, so it lands
there every time.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and /proc"),
]

HEADER = f"import sys; sys.path.insert(0, {str(Path(__file__).parents[2])!r})\n" + """
import os, signal, threading, time, webber
from webber import Flow, task
from webber.executors import _pool, _process, _spawn

@task
def inc(x):
    return x + 1

def run_once():
    with Flow("f") as flow:
        results = [inc(i) for i in range(8)]
    return [flow.run(max_workers=2)[r] for r in results]

def children():
    # (zombies included: a child never reaped is a defect too)
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    state, parent = f.read().rsplit(")", 1)[1].split()[:2]
            except OSError:
                continue
            if int(parent) == os.getpid():
                found.append((int(entry), state))
    return sorted(found)

def interrupt():
    os.kill(os.getpid(), signal.SIGINT)
"""

AFTER = """
try:
    run_once()
except KeyboardInterrupt:
    print("interrupted")
time.sleep(1.0)  # (a worker left behind would still be there; a zombie, too)
from webber.executors import processes
known = {p.pid for p in processes._pool.procs} if processes._pool else set()
print("strays", [c for c in children() if c[0] not in known])
print("second run", run_once())
print("receiver threads", sum(t.name == "webber-pool" for t in threading.enumerate()))
time.sleep(1.5)
runs = [t.name for t in threading.enumerate() if t.name.startswith("webber_")]
print("threads of runs left", runs)
webber.shutdown()
time.sleep(0.2)
print("left", children())
"""


def _run(tmp_path: Path, patch: str) -> str:
    script = tmp_path / "script.py"
    script.write_text(HEADER + textwrap.dedent(patch) + AFTER)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "interrupted" in out.stdout, out.stdout + out.stderr
    assert "second run [1, 2, 3, 4, 5, 6, 7, 8]" in out.stdout, out.stdout + out.stderr
    assert "left []" in out.stdout, out.stdout + out.stderr
    return out.stdout


def test_ctrl_c_as_the_pool_starts_its_thread_leaves_no_second_thread(tmp_path: Path) -> None:
    # Before, the Pool cut short kept its receiver thread (and two fds) for good.
    out = _run(tmp_path, """
        class Interrupted(threading.Thread):
            def start(self):
                super().start()
                interrupt()

        _pool.threading = type(threading)("threading")
        _pool.threading.__dict__.update(vars(threading), Thread=Interrupted)
        first = run_once
        def run_once():
            global run_once
            run_once = first
            try:
                return first()
            finally:
                _pool.threading = threading
    """)
    assert "receiver threads 1" in out, out


def test_ctrl_c_as_the_pool_starts_a_worker_leaves_no_worker(tmp_path: Path) -> None:
    # Before, the worker started and not yet in the pool outlived the run.
    out = _run(tmp_path, """
        spawn = _pool.spawn
        def interrupted(*args):
            proc = spawn(*args)
            if not getattr(interrupted, "done", False):
                interrupted.done = True
                interrupt()
            return proc
        _pool.spawn = interrupted
    """)
    assert "strays []" in out, out


def test_a_worker_killed_as_it_starts_is_reaped_and_replaced() -> None:
    # A Ctrl-C to the process group reaches a worker forked just before its
    # own session, and kills it. Before, the run failed with BrokenPipeError
    # on the message that set the dead worker up, and left it a zombie. The
    # job sent to it fails as any job of a worker that died (retried here).
    out = subprocess.run([sys.executable, "-c", HEADER + textwrap.dedent("""
        inc = task(retries=1)(inc.fn)
        start = _process.start
        def killed(*args):
            ends = start(*args)
            if not getattr(killed, "done", False):
                killed.done = True
                os.kill(ends.popen.pid, signal.SIGINT)
                try:  # (dead before the pool heard of it)
                    os.waitid(os.P_PID, ends.popen.pid, os.WEXITED | os.WNOWAIT)
                except ChildProcessError:  # reaped already: the portable pool's watcher
                    pass
            return ends
        _process.start = killed
        print("run", run_once())
        time.sleep(0.5)
        from webber.executors import processes
        known = {p.pid for p in processes._pool.procs}
        print("strays", [c for c in children() if c[0] not in known])
    """)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "run [1, 2, 3, 4, 5, 6, 7, 8]" in out.stdout, out.stdout + out.stderr
    assert "strays []" in out.stdout, out.stdout + out.stderr


def test_a_second_ctrl_c_while_the_pool_shuts_down_still_ends_another_threads_run(
        tmp_path: Path) -> None:
    # Before, the second KeyboardInterrupt left the shutdown in the middle:
    # the run of another thread on the pool (its worker killed) was never
    # told, and waited for ever; the pool's fds and segments stayed.
    out = _run(tmp_path, """
        reap = _pool.reap
        def interrupted(proc, *args):
            if not getattr(interrupted, "done", False):
                interrupted.done = True
                interrupt()
            return reap(proc, *args)
        _pool.reap = interrupted
        first = run_once
        def run_once():
            global run_once
            run_once = first
            other = {}
            def side():
                with Flow("side") as flow:
                    task(time.sleep)(30)
                try:
                    flow.run(max_workers=1)
                except Exception as e:
                    other["error"] = type(e).__name__
            thread = threading.Thread(target=side, daemon=True)
            thread.start()
            with Flow("slow") as flow:
                task(time.sleep)(30)
            threading.Timer(1.5, interrupt).start()
            try:
                flow.run(max_workers=2)
            finally:
                thread.join(10)
                print("other run", other.get("error"), thread.is_alive())
    """)
    assert "other run PoolClosedError False" in out, out
    assert "strays []" in out, out


def test_a_second_ctrl_c_while_threads_stop_leaves_no_thread_waiting(tmp_path: Path) -> None:
    # The first Ctrl-C stops a threads run: its queue is emptied, then each
    # thread told to end. Before, a second one while the queue was emptied
    # left the run's threads waiting on it for good (with what the run held).
    out = _run(tmp_path, """
        from webber.executors import threads as threads_module
        class Jobs(type(threads_module.queue.SimpleQueue())):
            def get_nowait(self):
                if not getattr(Jobs, "done", False):
                    Jobs.done = True
                    interrupt()
                return super().get_nowait()
        threads_module.queue = type(threading)("queue")
        threads_module.queue.__dict__.update(vars(__import__("queue")), SimpleQueue=Jobs)
        first = run_once
        def run_once():
            global run_once
            run_once = first
            with Flow("slow") as flow:
                for _ in range(4):
                    task(time.sleep)(1.0)
            threading.Timer(0.5, interrupt).start()
            flow.run(executor="threads", max_workers=2)
    """)
    assert "second run" in out
    # (the sleeping tasks end within 1 s; then no thread of the run is left)
    assert "threads of runs left []" in out, out


def test_ctrl_c_as_an_executor_starts_is_undone_by_its_stop() -> None:
    # Inline swaps in its own SIGINT handler as it starts. Before, a Ctrl-C
    # right after the swap skipped the run's stop: the handler of that dead
    # run stayed installed for good, and each such Ctrl-C stacked another.
    out = subprocess.run([sys.executable, "-c", HEADER + textwrap.dedent("""
        from webber.executors import inline
        swap = inline.signal.signal
        def interrupted(*args):
            previous = swap(*args)
            if not getattr(interrupted, "done", False):
                interrupted.done = True
                interrupt()
            return previous
        inline.signal = type(signal)("signal")
        inline.signal.__dict__.update(vars(signal), signal=interrupted)
        with Flow("f") as flow:
            inc(1)
        try:
            flow.run(executor="inline")
        except KeyboardInterrupt:
            print("interrupted")
        print("handler restored", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    """)], capture_output=True, text=True, timeout=60)
    assert "interrupted" in out.stdout, out.stdout + out.stderr
    assert "handler restored True" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize("executor", ["inline", "threads", "processes"])
def test_a_sigterm_handler_that_exits_ends_the_run_and_the_program(executor: str) -> None:
    # A service's `signal.signal(SIGTERM, lambda *_: sys.exit(3))`: the signal
    # comes while a task runs. Before, on inline (the task runs in the main
    # thread, where the handler raises) the task failed with TaskExitError and
    # the run went on: the program did not exit.
    out = subprocess.run([sys.executable, "-c", HEADER + textwrap.dedent(f"""
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))

        def terminated(caller):
            os.kill(caller, signal.SIGTERM)
            time.sleep(5)
            return "slept"

        dag = webber.DAG()
        first = dag.add_node(terminated, os.getpid())
        dag.add_node(print, "second ran", webber.Promise(first))
        dag.run(executor={executor!r})
        print("after the run")
    """)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "second ran" not in out.stdout and "after the run" not in out.stdout, out.stdout


def test_lazy_inline_streams_closed_in_any_order_put_the_handlers_back() -> None:
    # Each inline run wraps SIGINT's handler (and SIGTERM's, when it is
    # Python's); two lazy streams end in any order, unlike runs. Before one
    # wrapper was shared, the one closed last put back the other's wrapper:
    # a stopped stream's handler stayed for good.
    import webber

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(3)

    before = signal.signal(signal.SIGTERM, on_term)
    try:
        first = webber.stream(range(100), abs, executor="inline", lazy=True)
        second = webber.stream(range(100), abs, executor="inline", lazy=True)
        assert (next(first), next(second)) == (0, 0)
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        first.close()
        assert next(second) == 1
        second.close()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) is on_term
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_signal_handled_in_the_loop_over_a_lazy_inline_stream_is_not_raised_again() -> None:
    # It landed in the caller's own code, between two outputs, not in a task.
    import os

    import webber

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(3)

    before = signal.signal(signal.SIGTERM, on_term)
    try:
        outputs = webber.stream(range(5), abs, executor="inline", lazy=True)
        taken = []
        for output in outputs:
            taken.append(output)
            if output == 1:
                try:
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(1)  # (the handler runs at the next bytecode: not this long)
                except SystemExit:
                    pass
        assert taken == [0, 1, 2, 3, 4]
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_lazy_inline_stream_closed_in_another_thread_leaves_the_handlers_working() -> None:
    # Only the main thread may set a handler, and a lazy stream is closed where
    # it is dropped: a gc.collect() in another thread, say. Before, its stop
    # raised ValueError there (so the stream's other executors were not
    # stopped), forgot the handlers it had wrapped, and left its wrapper in:
    # SIGTERM raised KeyboardInterrupt instead of calling the program's
    # handler, and the next inline run wrapped the wrapper (Ctrl-C: RecursionError).
    import threading

    import webber

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(3)

    before = signal.signal(signal.SIGTERM, on_term)
    try:
        outputs = webber.stream(range(100), abs, executor="inline", lazy=True)
        assert next(outputs) == 0
        errors: list[BaseException] = []

        def close() -> None:
            try:
                outputs.close()
            except BaseException as e:
                errors.append(e)

        closer = threading.Thread(target=close)
        closer.start()
        closer.join()
        assert errors == []
        with pytest.raises(SystemExit, match="3"):
            signal.raise_signal(signal.SIGTERM)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        assert webber.stream([-1], abs, executor="inline") == [1]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) is on_term
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, before)


@pytest.mark.parametrize("where", ["a task before", "the loop over a lazy stream"])
def test_a_sigterm_handler_set_during_an_inline_run_still_ends_it(where: str) -> None:
    # The handler that exits is set once the run began: by an earlier task, or
    # in the loop over a lazy stream, between two outputs. Before, only the
    # handler found when the run started was wrapped: the task that the
    # SIGTERM landed in failed with TaskExitError and the run went on (the
    # program did not exit; a lazy stream raised TaskExitError, exit status 1).
    script = HEADER + textwrap.dedent("""
        def install():
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
            return 1

        def terminated(x):
            if x >= 1:  # (item 0 comes out first: the loop sets the handler then)
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
            return x

        if sys.argv[1] == "a task before":
            dag = webber.DAG()
            first = dag.add_node(install)
            second = dag.add_node(terminated, webber.Promise(first))
            dag.add_node(print, "third ran", webber.Promise(second))
            dag.run(executor="inline")
        else:
            for output in webber.stream(range(3), abs, terminated, executor="inline", lazy=True):
                install()
        print("after the run")
    """)
    out = subprocess.run([sys.executable, "-c", script, where], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "third ran" not in out.stdout and "after the run" not in out.stdout, out.stdout
