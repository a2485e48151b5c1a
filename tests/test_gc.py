"""The collector around large builds and compiles (``frozen.hold`` in webber/_gc.py):
what a large build or compile makes is frozen, and given back by the next run
or the next graph."""

from __future__ import annotations

import gc
import weakref

from webber import DAG, Promise
from webber._gc import EVERY


def _freeze_count() -> int:
    return gc.get_freeze_count()


def _chain(dag: DAG, length: int) -> str:
    last = dag.add_node(int, 0)
    for _ in range(length - 1):
        last = dag.add_node(abs, Promise(last))
    return last


def test_a_large_build_freezes_what_it_made_until_its_run_ends() -> None:
    dag = DAG()  # (gives back what an earlier test's graph may have held)
    assert gc.get_freeze_count() == 0
    last = _chain(dag, EVERY)
    held = gc.get_freeze_count()
    assert held > EVERY  # the nodes, their arguments and Promises at least
    assert gc.isenabled()
    count = dag.add_node(_freeze_count)
    run = dag.run(executor="inline")
    assert run.ok and run[last] == 0
    assert run[count] >= held  # the run took the freeze over ...
    assert gc.get_freeze_count() == 0  # ... and gave it all back at its end


def test_a_held_freeze_is_given_back_by_the_next_graph() -> None:
    dag = DAG()
    for _ in range(EVERY):
        dag.add_node(print)
    assert gc.get_freeze_count() > 0
    del dag
    DAG()
    assert gc.get_freeze_count() == 0


def test_a_large_compile_freezes_what_it_made() -> None:
    # Else the first young collection after it walks every PlanNode it made.
    dag = DAG()
    _chain(dag, EVERY + 10)
    before = gc.get_freeze_count()
    plan = dag.compile()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(plan)
    DAG()
    assert gc.get_freeze_count() == 0


def test_young_garbage_is_collected_before_a_build_holds() -> None:
    class Cycle:
        me: object

    dag = DAG()
    _chain(dag, EVERY - 1)
    gc.collect(0)  # (so that no young collection comes before the hold)
    garbage = Cycle()
    garbage.me = garbage
    gone = weakref.ref(garbage)
    del garbage
    dag.add_node(print)  # the graph's EVERY-th node: a hold
    assert gc.get_freeze_count() > 0
    assert gone() is None  # collected, not frozen
    DAG()


def test_a_program_that_froze_objects_itself_keeps_its_freeze_through_a_large_build() -> None:
    DAG()
    gc.freeze()
    try:
        theirs = gc.get_freeze_count()
        dag = DAG()
        _chain(dag, EVERY + 10)
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
        _chain(dag, EVERY + 10)
        dag.compile()
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_a_finalizer_that_makes_a_graph_in_a_holds_collection_does_not_deadlock() -> None:
    made: list[DAG] = []

    class Makes:
        me: object

        def __del__(self) -> None:
            made.append(DAG())  # (asks the freeze to be given back)

    dag = DAG()
    _chain(dag, EVERY - 1)
    gc.collect(0)
    garbage = Makes()
    garbage.me = garbage
    del garbage
    dag.add_node(print)  # a hold: its young collection runs the finalizer
    assert len(made) == 1
    DAG()
