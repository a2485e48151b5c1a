"""The collector around large builds, compiles and runs (``frozen`` in webber/_gc.py):
what a large build or its compile makes is frozen, and given back by the next
run or the next graph; a large run freezes what exists while it goes on; nothing
webber freezes keeps garbage from the collector for long, and a loop of runs
leaves the collector running as it would without webber."""

from __future__ import annotations

import contextlib
import gc
import weakref

import pytest

from webber import DAG, Promise
from webber._gc import _STARTUP, EVERY, HOLD_FROM, MANY


def _freeze_count() -> int:
    return gc.get_freeze_count()


def _chain(dag: DAG, length: int) -> str:
    last = dag.add_node(int, 0)
    for _ in range(length - 1):
        last = dag.add_node(abs, Promise(last))
    return last


class _Cycle:
    me: object


def _garbage(size: int = 0) -> weakref.ref[_Cycle]:
    """A reference cycle that nothing else holds: only the collector frees it
    (with ``size`` more objects the collector counts)."""
    made = _Cycle()
    made.me = [made, *([] for _ in range(size))]
    return weakref.ref(made)


def test_a_large_build_freezes_what_it_made_until_its_run_ends() -> None:
    dag = DAG()  # (gives back what an earlier test's graph may have held)
    assert gc.get_freeze_count() <= _STARTUP  # (CPython 3.12 starts with a few frozen)
    last = _chain(dag, HOLD_FROM - 1)
    assert gc.get_freeze_count() <= _STARTUP  # (a smaller build holds nothing)
    last = dag.add_node(abs, Promise(last))
    held = gc.get_freeze_count()
    assert held > HOLD_FROM  # the nodes, their arguments and Promises at least
    assert gc.isenabled()
    count = dag.add_node(_freeze_count)
    run = dag.run(executor="inline")
    assert run.ok and run[last] == 0
    assert run[count] >= held  # the run took the freeze over ...
    assert gc.get_freeze_count() == 0  # ... and gave it all back at its end


def test_a_held_freeze_is_given_back_by_the_next_graph() -> None:
    dag = DAG()
    for _ in range(HOLD_FROM):
        dag.add_node(print)
    assert gc.get_freeze_count() > 0
    del dag
    DAG()
    assert gc.get_freeze_count() == 0


def test_a_large_compile_freezes_what_it_made_while_its_build_is_held() -> None:
    # Else the first young collection after it walks every PlanNode it made.
    dag = DAG()
    _chain(dag, HOLD_FROM + 10)
    before = gc.get_freeze_count()
    plan = dag.compile()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(plan)
    dag.run(executor="inline")
    assert gc.get_freeze_count() == 0
    dag.add_node(print)
    dag.compile()  # nothing held now: nothing frozen
    assert gc.get_freeze_count() == 0


def test_garbage_is_collected_before_each_hold() -> None:
    dag = DAG()
    _chain(dag, HOLD_FROM - 1)
    # before the first hold: a full collection (garbage of the oldest generation
    # too: what an earlier run gave back, say)
    old = _Cycle()
    old.me = old
    gc.collect()  # (now in the oldest generation, and no collection comes before the hold)
    gone_old = weakref.ref(old)
    del old
    gone_young = _garbage()
    dag.add_node(print)  # the graph's HOLD_FROM-th node: the first hold
    assert gc.get_freeze_count() > 0
    assert gone_old() is None and gone_young() is None  # collected, not frozen
    for _ in range(EVERY - 1):
        dag.add_node(print)
    gc.collect(0)
    gone_young = _garbage()
    dag.add_node(print)  # the next hold: a young collection
    assert gone_young() is None
    DAG()


def test_graphs_dropped_in_a_loop_of_large_builds_do_not_pile_up() -> None:
    # Each graph is in reference cycles (only the collector frees it); frozen
    # again by the next build's holds without a full collection, they would stay.
    gone: list[weakref.ref[DAG]] = []
    for ran in (True, False, True):
        dag = DAG()
        _chain(dag, HOLD_FROM)
        if ran:
            dag.run(executor="inline")
        gone.append(weakref.ref(dag))
        del dag
    assert all(ref() is None for ref in gone[:-1])
    DAG()


def test_a_finalizer_that_makes_a_graph_in_a_holds_collection_does_not_deadlock() -> None:
    made: list[DAG] = []

    class Makes:
        me: object

        def __del__(self) -> None:
            made.append(DAG())  # (asks the freeze to be given back)

    dag = DAG()
    _chain(dag, HOLD_FROM + EVERY - 1)
    gc.collect(0)
    garbage = Makes()
    garbage.me = garbage
    del garbage
    dag.add_node(print)  # a hold: its young collection runs the finalizer
    assert len(made) == 1
    DAG()


def test_a_program_that_froze_objects_itself_keeps_its_freeze_through_a_large_build() -> None:
    DAG()
    gc.freeze()
    try:
        theirs = gc.get_freeze_count()
        dag = DAG()
        _chain(dag, HOLD_FROM + 10)
        dag.compile()
        # (the count of frozen objects only falls as some of them are freed)
        assert gc.get_freeze_count() <= theirs  # nothing of ours added
        DAG()
        assert gc.get_freeze_count() > theirs // 2  # nor undone
    finally:
        gc.unfreeze()


def test_a_collector_switched_off_is_left_off() -> None:
    DAG()
    gc.disable()
    try:
        dag = DAG()
        _chain(dag, HOLD_FROM + 10)
        dag.compile()
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_a_run_started_with_the_collector_off_still_gives_back_a_held_freeze() -> None:
    # The collector is off at a run's start when the program switched it off,
    # or when another thread compiles (webber's pause): the held freeze is
    # webber's all the same, and the run's end must give it back (it stayed,
    # keeping the program's garbage from the collector until the next graph).
    dag = DAG()
    for _ in range(HOLD_FROM):
        dag.add_node(print, end="")
    assert gc.get_freeze_count() > 0
    gc.disable()
    try:
        run = dag.run(executor="inline")
    finally:
        gc.enable()
    assert run.ok
    assert gc.get_freeze_count() == 0


def _own_state() -> list[list[int]]:
    """What a program sets up to share with the workers it forks, frozen with
    gc.freeze(): its freeze is told from webber's by the objects it adds (a
    freeze of almost nothing new right after a hold cannot be: the frozen
    objects that died since lower the count as much, in a large process)."""
    return [[i] for i in range(20_000)]


def test_a_program_that_froze_objects_after_a_large_build_keeps_its_freeze() -> None:
    # gc.freeze() after the build (as Python's docs advise before forking
    # workers): the freeze is the program's too, and neither the run's end nor
    # the next graph gives it back (both did: a held freeze was taken for webber's).
    DAG()
    dag = DAG()
    last = _chain(dag, HOLD_FROM + 10)
    state = _own_state()
    gc.freeze()
    try:
        theirs = gc.get_freeze_count()
        run = dag.run(executor="inline")
        assert run.ok and run[last] == 0
        # (the count of frozen objects only falls as some of them are freed)
        assert theirs // 2 < gc.get_freeze_count() <= theirs  # not undone, nothing added
        DAG()
        assert gc.get_freeze_count() > theirs // 2
    finally:
        gc.unfreeze()
        del state


def test_a_child_forked_after_a_large_build_keeps_the_programs_own_freeze() -> None:
    import os

    DAG()
    dag = DAG()
    _chain(dag, HOLD_FROM + 10)
    state = _own_state()
    gc.freeze()  # the program's, before forking (else the child's collections touch it all)
    try:
        theirs = gc.get_freeze_count()
        pid = os.fork()
        if pid == 0:
            os._exit(0 if gc.get_freeze_count() > theirs // 2 else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        gc.unfreeze()
        del state
        DAG()


def test_the_objects_the_interpreter_starts_with_frozen_do_not_switch_freezes_off() -> None:
    # CPython 3.12 starts with a few hundred immortal tuples frozen: taken for
    # the program's own freeze, no run and no build froze anything there.
    import subprocess
    import sys

    code = (
        "import gc\n"
        "from webber import DAG\n"
        "from webber._gc import MANY\n"
        "at_start = gc.get_freeze_count()\n"
        "dag = DAG()\n"
        "for _ in range(MANY): dag.add_node(int)\n"  # (a smaller run freezes nothing)
        "count = dag.add_node(gc.get_freeze_count)\n"
        "during = dag.run(executor='inline')[count]\n"
        "print(at_start, during, gc.get_freeze_count())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    at_start, during, after = map(int, out.stdout.split())
    assert at_start <= _STARTUP
    assert during > at_start + _STARTUP  # the run froze what exists
    assert after == 0


def test_a_thread_allocating_while_a_build_holds_does_not_pass_for_the_programs_freeze() -> None:
    # Its objects, frozen between the count of a hold and its freeze, made the
    # held freeze look like the program's own: never given back, and no run
    # froze anything after (9 builds in 10).
    import sys
    import threading

    DAG()
    stop, kept = threading.Event(), list[list[list[int]]]()

    def allocate() -> None:
        while not stop.is_set():
            if len(kept) < 3000:
                kept.append([[] for _ in range(100)])
            else:
                stop.wait(0.0001)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # (the threads take turns often: the race is likely)
    thread = threading.Thread(target=allocate)
    thread.start()
    try:
        for _ in range(3):
            dag = DAG()
            for _ in range(5 * EVERY - 1):  # (holds at 2, 3 and 4 x EVERY)
                dag.add_node(int)
            run = dag.run(executor="inline")
            assert run.ok
            assert gc.get_freeze_count() == 0
    finally:
        stop.set()
        thread.join(30)
        sys.setswitchinterval(interval)


def _noops(count: int) -> DAG:
    dag = DAG()
    for _ in range(count):
        dag.add_node(int)
    return dag


@pytest.mark.parametrize("executor", ["inline", "threads", "processes"])
def test_a_loop_of_small_runs_leaves_the_collector_running(executor: str) -> None:
    # Frozen at each run, the count that starts a young collection went back
    # to 0 every time: no collection ran again, the program's garbage and the
    # runs' own stayed (5 KB a run, without end: a service running a flow a request).
    # The program's garbage is 4 times what starts a young collection (a run
    # frees what it makes: without webber, this loop runs a few).
    DAG()
    young = gc.get_stats()[0]["collections"]
    gone = []
    for _ in range(200):
        gone.append(_garbage(gc.get_threshold()[0] // 50))
        assert _noops(3).run(executor=executor).ok
    assert gc.get_stats()[0]["collections"] > young
    assert all(ref() is None for ref in gone[:100])


def test_a_large_runs_freeze_leaves_the_young_garbage_out() -> None:
    # (frozen with it, it went to the oldest generation at the run's end)
    from webber._gc import frozen

    DAG()
    gc.collect(0)
    gone = _garbage()
    with frozen.running(MANY):
        assert gc.get_freeze_count() > 0
        assert gone() is None
    gc.collect(0)  # (no young collection comes in the next few allocations)
    gone = _garbage()
    with frozen.running(MANY - 1):  # (a smaller run: nothing frozen, nothing collected)
        assert gc.get_freeze_count() == 0
        assert gone() is not None


def test_a_loop_of_large_runs_still_gets_full_collections() -> None:
    # Each freeze set the oldest generation's count back to 0 as well: no full
    # collection ran again, and what each run gave back to that generation stayed.
    # When one comes is the collector's rule (new long-lived objects against
    # those it walked last: the earlier tests' count), so the loop runs until
    # one came: for good, before.
    DAG()
    full = gc.get_stats()[2]["collections"]
    gone = []
    while len(gone) < 10 or gc.get_stats()[2]["collections"] == full:
        assert len(gone) < 500, "no full collection in 500 runs of 1,000 tasks"
        dag = _noops(MANY)
        gone.append(weakref.ref(dag))
        assert dag.run(executor="inline").ok
        del dag
    assert all(ref() is None for ref in gone[:10])


def test_a_finalizer_that_runs_a_flow_as_a_large_run_ends_does_not_deadlock() -> None:
    # The collections that give the collector its counts back ran under the
    # freeze's lock, and a finalizer they ran that runs a large flow waited for
    # that lock for good. (In a child: a deadlock here would stop the suite.)
    import subprocess
    import sys

    code = (
        "import gc\n"
        "from webber import DAG\n"
        "from webber._gc import MANY\n"
        "ran = []\n"
        "class Runs:\n"
        "    def __del__(self):\n"
        "        dag = DAG()\n"
        "        for _ in range(MANY): dag.add_node(int)\n"
        "        ran.append(dag.run(executor='inline').ok)\n"
        "def make_garbage():\n"  # (a task: what it makes is young as the run ends)
        "    made = Runs(); made.me = made\n"
        "dag = DAG()\n"
        "for _ in range(MANY): dag.add_node(int)\n"
        "dag.add_node(make_garbage)\n"
        "assert dag.run(executor='inline').ok\n"
        "gc.collect()\n"
        "print(ran)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[True]"


@pytest.mark.parametrize("executor", ["inline", "threads", "processes"])
def test_graphs_dropped_after_their_runs_are_freed_without_the_collector(executor: str) -> None:
    # The graph's store named the graph through a bound method, a reference
    # cycle: a dropped graph (1,000 tasks: 2,000 objects) waited for a full
    # collection, which a loop of runs then called every dozen runs.
    from webber import Flow, QueueDAG, task

    @task
    def inc(x: int) -> int:
        return x + 1

    def dsl() -> DAG:
        with Flow("f") as flow:
            inc(inc(1))
        return flow

    def chain() -> DAG:
        dag = DAG()
        _chain(dag, 20)
        return dag

    def queue() -> DAG:
        qdag = QueueDAG()
        first = qdag.add_node(int, 1, iterator=2)
        qdag.add_node(abs, Promise(first))
        return qdag

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for make in (lambda: _noops(20), chain, dsl, queue):
            dag = make()
            ran = dag.run(executor=executor)
            assert ran == [1, 1] if isinstance(dag, QueueDAG) else ran.ok
            del ran
            part = dag.critical_path(list(dag.nodes)[-1])
            gone = [weakref.ref(dag), weakref.ref(part), weakref.ref(dag._store)]
            del dag, part
            assert [ref() for ref in gone] == [None, None, None]
    finally:
        if was_enabled:
            gc.enable()


def _cut_short(enter: bool) -> None:
    """A run's freeze entered and a Ctrl-C landing in its entry (after the
    freeze) or at the start of its exit: its ``with`` never gets to undo it."""
    from webber._gc import frozen

    try:
        holding = frozen.running(MANY)
        holding.__enter__()
        if enter:
            raise KeyboardInterrupt
        with pytest.MonkeyPatch.context() as patch:  # (the first bytecode of the exit)
            patch.setattr(type(frozen), "_exit", _interrupted)
            holding.__exit__(None, None, None)
    except KeyboardInterrupt:
        pass  # (the exception, its frames and the holding go here, as at a prompt)


def _interrupted(self: object, holding: object) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize("enter", [True, False], ids=["in-its-entry", "in-its-exit"])
def test_a_freeze_whose_run_a_ctrl_c_cut_short_is_undone_by_the_next_run(enter: bool) -> None:
    # Counted, the cut-short run stayed counted for good: no later run gave
    # its freeze back, and each froze more (90,000 objects to a million).
    from webber._gc import frozen

    DAG()
    _cut_short(enter)
    assert gc.get_freeze_count() > 0  # (left frozen, until...)
    with frozen.running(MANY):
        pass
    assert gc.get_freeze_count() == 0


def test_a_pause_whose_compile_a_ctrl_c_cut_short_is_undone_by_the_next_compile() -> None:
    from webber._gc import paused

    def compile_cut_short() -> None:
        holding = paused.holding()
        holding.__enter__()
        raise KeyboardInterrupt

    with contextlib.suppress(KeyboardInterrupt):
        compile_cut_short()
    assert not gc.isenabled()  # (left off, until...)
    dag = DAG()
    dag.add_node(int)
    dag.compile()
    assert gc.isenabled()
