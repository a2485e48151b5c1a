"""Rows of shared/design/reliability.md that apply to every executor.

Each test checks that the error names the task, that unrelated branches
finish, and that the next run on the same executor works. Rows that only
exist with worker processes (crashes, pickling, 200 MB pipes, grace kills,
spawn) are in tests/executors/test_process_faults.py; the README's table maps
every row to its tests.
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import subprocess
import sys
import textwrap
import time
import traceback
import weakref
from pathlib import Path

import pytest

import webber
from webber import DAG, Condition, Listener, Promise

ROOT = Path(__file__).resolve().parents[2]


def next_run_works(executor: str) -> None:
    dag = DAG("next")
    n = dag.add_node(sum, [1, 2, 3])
    assert dag.run(executor=executor)[n] == 6


def slow(seconds: float) -> str:
    time.sleep(seconds)
    return "slow done"


def bad() -> None:
    raise ValueError("bad row 7")


# -- row 1 ------------------------------------------------------------------------------
def test_row01_task_raises_beside_a_slow_sibling(executor: str) -> None:
    dag = DAG()
    failing = dag.add_node(bad)
    sibling = dag.add_node(slow, 0.3)
    on_failure = dag.add_node(lambda e: f"handled {type(e).__name__}", Promise(failing))
    any_case = dag.add_node(str, "any case ran")
    on_success = dag.add_node(str, "never")
    dag.update_edges((failing, on_failure), continue_on=Condition.Failure)
    dag.add_edge(failing, any_case, continue_on=Condition.AnyCase)
    dag.add_edge(failing, on_success)
    run = dag.run(executor=executor)
    assert run[sibling] == "slow done"
    assert run[on_failure] == "handled ValueError" and run[any_case] == "any case ran"
    assert run.state(on_success) == "skipped"
    with pytest.raises(ValueError, match="bad row 7") as info:
        run[failing]
    assert type(info.value) is ValueError
    assert "in bad" in "".join(traceback.format_exception(info.value))  # where it was raised
    assert run.attempts[failing][0].error == "ValueError: bad row 7"
    next_run_works(executor)


def raises_from() -> None:
    try:
        {}["row 1"]
    except KeyError as e:
        raise ValueError("bad row 1") from e


def test_row01_a_failure_shows_each_frame_of_the_task_once(executor: str) -> None:
    """A task's error read from the Run shows where it was raised once, as
    raised: dask's workers pickle exceptions with their traceback, cause and
    context (distributed installs tblib's pickling for every exception class),
    which the worker's traceback text (the ``__cause__``) already shows."""
    dag = DAG()
    plain = dag.add_node(bad)
    chained = dag.add_node(raises_from)
    run = dag.run(executor=executor)
    for node, frames in ((plain, 1), (chained, 2)):
        with pytest.raises(ValueError, match="bad row") as info:
            run[node]
        shown = "".join(traceback.format_exception(info.value))
        assert shown.count(", in bad\n") + shown.count(", in raises_from\n") == frames, shown
    assert run.attempts[chained][0].error == "ValueError: bad row 1"


# -- row 3 ------------------------------------------------------------------------------
def exits() -> None:
    sys.exit(3)


def interrupts() -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize(("func", "kind"), [(exits, SystemExit), (interrupts, KeyboardInterrupt)])
def test_row03_exit_and_keyboard_interrupt_raised_by_a_task_are_its_failure(
    executor: str, func: object, kind: type[BaseException]
) -> None:
    dag = DAG()
    n = dag.add_node(func)  # type: ignore[arg-type]
    other = dag.add_node(str, "still runs")
    run = dag.run(executor=executor)  # the caller keeps running
    assert run.state(n) == "failed" and run[other] == "still runs"
    error = run.error(n)
    assert isinstance(error, webber.TaskExitError) and isinstance(error.__cause__, kind)
    next_run_works(executor)


# -- row 29 -----------------------------------------------------------------------------
def exits_zero() -> None:
    sys.exit(0)


@pytest.mark.timeout(120)
def test_row29_sys_exit_0_in_a_task_never_exits_the_caller(executor: str) -> None:
    dag = DAG()
    n = dag.add_node(exits_zero)
    run = dag.run(executor=executor)
    # Reading the result raises an Exception (a CI job's `except Exception` or a
    # plain crash reports a failure), not a SystemExit that exits with status 0.
    with pytest.raises(webber.TaskError) as info:
        run[n]
    error = info.value
    assert type(error) is webber.TaskExitError and isinstance(error, Exception)
    assert isinstance(error.__cause__, SystemExit) and error.__cause__.code == 0
    assert error.task == n and "SystemExit(0)" in str(error)
    assert run.attempts[n][0].error is not None and "SystemExit(0)" in run.attempts[n][0].error
    next_run_works(executor)


# -- row 6 ------------------------------------------------------------------------------
class TwoArgs(Exception):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"a={a} b={b}")
        self.a, self.b = a, b


def raises_two_args() -> None:
    raise TwoArgs(1, 2)


def test_row06_exception_with_extra_init_args_reaches_the_caller(executor: str) -> None:
    dag = DAG()
    n = dag.add_node(raises_two_args)
    run = dag.run(executor=executor)
    error = run.error(n)
    assert error is not None and type(error).__name__ == "TwoArgs"
    assert "a=1 b=2" in str(error)
    assert run.attempts[n][0].error == "TwoArgs: a=1 b=2"
    next_run_works(executor)


# -- row 26 -----------------------------------------------------------------------------
class HoldsAGenerator(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.rows = (n for n in range(3))  # cannot be pickled
        self.count = 3


def raises_holding_a_generator() -> None:
    raise HoldsAGenerator("bad rows")


def test_row26_exception_with_an_unpicklable_attribute_keeps_its_class(executor: str) -> None:
    dag = DAG()
    n = dag.add_node(raises_holding_a_generator)
    run = dag.run(executor=executor)
    try:
        run[n]
    except ValueError as e:  # its own class arrives, so the caller's except works
        error = e
    assert type(error).__name__ == "HoldsAGenerator" and str(error) == "bad rows"
    assert error.count == 3  # type: ignore[attr-defined]
    rows = error.rows  # type: ignore[attr-defined]
    if executor in ("processes", "dask"):  # it could not travel: its repr did
        assert isinstance(rows, str) and "generator" in rows
    # The traceback still shows where it was raised.
    assert "raises_holding_a_generator" in "".join(traceback.format_exception(error))
    next_run_works(executor)


# -- row 37 --------------------------------------------------------------------------
class UnprintableError(ValueError):
    def __str__(self) -> str:
        raise RuntimeError("this message cannot be made")


def raises_unprintable(x: int) -> None:
    raise UnprintableError(x)


def test_row37_an_exception_whose_str_raises_fails_only_its_task(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Telling how the task failed called str() of its exception: the run
    # crashed with the RuntimeError on inline and threads, and the worker
    # died on processes (WorkerCrashedError instead of the task's error).
    dag = DAG()
    n = dag.add_node(raises_unprintable, 1)
    dag.update_nodes(n, retries=1)
    other = dag.add_node(str, "fine")
    run = dag.run(executor=executor)
    assert type(run.error(n)).__name__ == "UnprintableError"
    assert [a.ok for a in run.attempts[n]] == [False, False]
    assert run.attempts[n][0].error == "UnprintableError: <exception str() failed>"
    assert "failed after 2 attempts: UnprintableError: <exception str() failed>" in caplog.text
    assert run[other] == "fine"
    next_run_works(executor)


# -- row 39 --------------------------------------------------------------------------
class Held:
    """What a failed task's frames hold (in life, a 100 MB array argument)."""


def make_held() -> Held:
    return Held()


def fails_holding(value: Held) -> None:
    raise ValueError("bad input")


async def fails_holding_async(value: Held) -> None:
    raise ValueError("bad input")


def test_row39_a_failed_tasks_arguments_go_with_its_run(
    executor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A traceback's frames hold their callers', up the stack that ran the
    # task, and the executor's frames there held the failure: a reference
    # cycle kept the task's arguments and the run until a full collection,
    # which a loop of runs may not call for long. (pytest keeps the records
    # it captures, the failure in them: they are left out.)
    monkeypatch.setattr(logging.getLogger("webber"), "propagate", False)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        # (a retry sends the argument again: on processes, its pickler held the run too)
        for func, retries in ((fails_holding, 0), (fails_holding, 1), (fails_holding_async, 0)):
            dag = DAG()
            made = dag.add_node(make_held)
            n = dag.add_node(func, Promise(made))
            dag.update_nodes(n, retries=retries)
            run = dag.run(executor=executor)
            assert isinstance(run.error(n), ValueError)
            assert func.__name__ in "".join(traceback.format_exception(run.error(n)))
            gone = weakref.ref(run[made])
            del run
            if executor == "inline":  # its frames are the caller's own stack (for pdb,
                gc.collect()  # post-mortem): the collector frees them, as in Python
            assert gone() is None, (func.__name__, retries)
    finally:
        if was_enabled:
            gc.enable()
    next_run_works(executor)


# -- row 10 (every executor fails the node at its limit; killing is processes') ---------
def test_row10_timeout_names_the_limit_and_retries(executor: str) -> None:
    dag = DAG()
    n = dag.add_node(slow, 0.6)
    dag.update_nodes(n, timeout=0.2, retries=1)
    other = dag.add_node(str, "fine")
    run = dag.run(executor=executor)
    error = run.error(n)
    assert isinstance(error, webber.TaskTimeoutError) and isinstance(error, TimeoutError)
    assert "slow-1" in str(error) and "0.2 s" in str(error)
    assert [a.ok for a in run.attempts[n]] == [False, False]  # retried once
    assert run[other] == "fine"
    next_run_works(executor)


# -- row 11 -----------------------------------------------------------------------------
CTRL_C = """
import _thread, os, signal, sys, threading, time
sys.path.insert(0, {root!r})
import webber
dag = webber.DAG()
for _ in range(3):
    dag.add_node(time.sleep, {sleep})
def ctrl_c():
    if {real!r}:
        os.kill(os.getpid(), signal.SIGINT)  # what a terminal sends
    else:
        _thread.interrupt_main()  # what IDEs send
if __name__ == "__main__":
{setup}
    threading.Timer(1.0, ctrl_c).start()
    start = time.monotonic()
    try:
        run = dag.run(executor={executor})
        print("not interrupted", run)
    except KeyboardInterrupt:
        print("interrupted after", round(time.monotonic() - start, 1), flush=True)
"""

#: dask: the cluster is up before the Ctrl-C (a LocalCluster takes seconds to
#: start, and that is dask's time, not webber's answer to the interrupt)
DASK_SETUP = """\
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=3, threads_per_worker=1, dashboard_address=":0")
    client = Client(cluster)
"""


@pytest.mark.timeout(180)
def test_row11_ctrl_c_in_the_caller_stops_the_run(executor: str) -> None:
    # Threads cannot be killed, but the interpreter does not wait for them at
    # exit (row 28): the tasks sleep 30 s on every executor.
    sleep = 30
    # On inline the task sleeps in the main thread itself: only a real signal
    # interrupts a blocking call there (interrupt_main waits for it to return).
    real = executor == "inline"
    if executor == "dask":
        setup, chosen = DASK_SETUP, "webber.DaskExecutor(client)"
    else:
        setup, chosen = "    pass", f"{executor!r}, max_workers=3"
    code = textwrap.dedent(
        CTRL_C.format(root=str(ROOT), sleep=sleep, executor=chosen, real=real, setup=setup)
    )
    out = subprocess.run(
        # A hang guard, not a measure: it also covers starting a dask cluster
        # on a loaded machine (the script measures the interrupt itself).
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=150, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert "interrupted after" in out.stdout, out.stdout + out.stderr
    seconds = float(out.stdout.split("interrupted after")[1].split()[0])
    assert seconds < 3.5  # the Ctrl-C comes at 1 s; webber answers within ~2 s


def test_row11_ctrl_c_says_which_run_it_stopped(executor: str) -> None:
    # A Ctrl-C's traceback ends in webber's loop (_inbox.py), which tells
    # nothing: a note under it names the run. (The Ctrl-C lands here in a
    # listener, in the caller's loop, as a real one would.)
    class CtrlC(Listener):
        def on_task_end(self, node: str, state: str, attempt: int, duration: float,
                        worker: str) -> None:
            raise KeyboardInterrupt

    dag = webber.DAG("nightly")
    dag.add_node(abs, -1)
    with pytest.raises(KeyboardInterrupt) as stopped:
        dag.run(executor=executor, listeners=[CtrlC()])
    assert getattr(stopped.value, "__notes__", None) == [
        "webber: run 'nightly' stopped by Ctrl-C; no more tasks start"]


# -- rows 14, 15 ------------------------------------------------------------------------
def pool_in_task() -> list[int]:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        return list(pool.map(abs, [-1, -2, -3]))


def flow_in_task(inner_executor: str) -> int:
    inner = DAG("inner")
    n = inner.add_node(sum, [1, 2, 3])
    return int(inner.run(executor=inner_executor, max_workers=1)[n])


@pytest.mark.timeout(60)
def test_row14_task_starts_its_own_process_pool(executor: str) -> None:
    dag = DAG()
    n = dag.add_node(pool_in_task)
    assert dag.run(executor=executor)[n] == [1, 2, 3]
    next_run_works(executor)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("inner", ["inline", "threads", "processes"])
def test_row15_task_runs_a_flow(executor: str, inner: str) -> None:
    dag = DAG()
    n = dag.add_node(flow_in_task, inner)
    sibling = dag.add_node(str, "sibling")
    run = dag.run(executor=executor)
    assert run[n] == 6 and run[sibling] == "sibling"
    next_run_works(executor)


# -- row 18 (deep graphs: also tests/conformance/test_results.py) ------------------------
def test_row18_deep_chain_of_skips_and_deep_values(executor: str) -> None:
    dag = DAG()
    head = dag.add_node(bad)
    previous = head
    for _ in range(3000):  # a failure skips 3,000 descendants without recursion
        n = dag.add_node(str, "x")
        dag.add_edge(previous, n)
        previous = n
    run = dag.run(executor=executor)
    assert len(run.skipped) == 3000 and run.failed == [head]


# -- row 19 -----------------------------------------------------------------------------
def fails_twice(path: str) -> str:
    marker = Path(path)
    count = int(marker.read_text()) if marker.exists() else 0
    marker.write_text(str(count + 1))
    if count < 2:
        raise ConnectionError(f"attempt {count + 1}")
    return "third time lucky"


def test_row19_fails_twice_then_succeeds_with_exact_attempts_and_delays(
    executor: str, tmp_path: Path
) -> None:
    dag = DAG()
    n = dag.add_node(fails_twice, str(tmp_path / "count"))
    dag.update_nodes(n, retries=2, retry_delay=0.1, retry_backoff=2.0)
    run = dag.run(executor=executor)
    assert run[n] == "third time lucky"
    attempts = run.attempts[n]
    assert [(a.number, a.ok) for a in attempts] == [(1, False), (2, False), (3, True)]
    assert [a.error for a in attempts] == [
        "ConnectionError: attempt 1", "ConnectionError: attempt 2", None,
    ]
    gaps = [b.started - (a.started + a.duration) for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19  # 0.1 s, then 0.1 * 2
