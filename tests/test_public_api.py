"""The public namespace: the contract's imports, a sorted __all__."""

from __future__ import annotations

import webber


def test_contract_imports() -> None:
    from webber import DAG, Condition, Flow, Promise, Run, task
    from webber.xcoms import Promise as SeedPromise

    assert SeedPromise is Promise
    assert issubclass(Flow, DAG)
    assert callable(task) and Run and Condition


def test_all_is_sorted_and_complete() -> None:
    assert webber.__all__ == sorted(webber.__all__)
    for name in webber.__all__:
        assert hasattr(webber, name), name
    public = {n for n in dir(webber) if not n.startswith("_")}
    modules = {"executors", "viz", "xcoms"}
    assert public - modules <= set(webber.__all__)


def test_every_public_name_has_a_docstring() -> None:
    for name in webber.__all__:
        doc = getattr(webber, name).__doc__
        assert doc and doc.strip(), name
