"""The public namespace: the contract's imports, a sorted __all__."""

from __future__ import annotations

import importlib

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
    modules = {"core", "edges", "executors", "viz", "xcoms"}  # the last three: 0.4.0's paths
    assert public - modules <= set(webber.__all__)


def test_public_names_report_the_webber_module() -> None:
    for name in webber.__all__:
        obj = getattr(webber, name)
        if isinstance(obj, type) or callable(obj):
            assert obj.__module__ == "webber", name


def test_every_public_name_has_a_docstring_with_an_example() -> None:
    without = [
        name for name in webber.__all__
        if ">>> " not in (getattr(webber, name).__doc__ or "")
    ]
    assert without == []


def test_the_contract_import_line_and_the_seed_path() -> None:
    namespace: dict[str, object] = {}
    exec("from webber import task, Flow, DAG, Promise, Condition, Run", namespace)
    exec("from webber.xcoms import Promise as SeedPromise", namespace)
    assert namespace["Promise"] is namespace["SeedPromise"] is webber.Promise
    assert namespace["Run"] is webber.Run and namespace["task"] is webber.task
    xcoms = importlib.import_module("webber.xcoms")
    assert xcoms.__all__ == ["InvalidCallable", "IterPromise", "Promise"]
    assert xcoms.IterPromise is webber.IterPromise


def test_condition_members() -> None:
    from webber import Condition

    assert [c.name for c in Condition] == ["Success", "Failure", "AnyCase"]
    assert repr(Condition.Failure) == "Condition.Failure"


def test_executor_classes_are_importable() -> None:
    from webber.executors import Executor, InlineExecutor, ThreadExecutor

    assert issubclass(InlineExecutor, Executor) and issubclass(ThreadExecutor, Executor)
    assert (InlineExecutor.name, ThreadExecutor.name) == ("inline", "threads")
    assert ThreadExecutor(max_workers=2).max_workers == 2


def test_the_error_tree() -> None:
    tree = {
        "GraphError": ("WebberError", ValueError),
        "CycleError": ("GraphError", ValueError),
        "UnknownNodeError": ("GraphError", KeyError),
        "ForeignPromiseError": ("InvalidPromiseError", ValueError),
        "InvalidPromiseError": ("GraphError", ValueError),
        "UnknownPromiseError": ("InvalidPromiseError", KeyError),
        "DuplicateEdgeError": ("GraphError", ValueError),
        "TaskDefinitionError": ("GraphError", TypeError),
        "UnpicklableTaskError": ("GraphError", ValueError),
        "TaskError": ("WebberError", Exception),
        "TaskTimeoutError": ("TaskError", TimeoutError),
        "TaskSkippedError": ("TaskError", Exception),
        "WorkerCrashedError": ("TaskError", Exception),
        "TaskStdinError": ("TaskError", EOFError),
        "ExecutorError": ("WebberError", RuntimeError),
        "OptionError": ("WebberError", TypeError),
    }
    for name, (parent, builtin) in tree.items():
        cls = getattr(webber, name)
        assert issubclass(cls, getattr(webber, parent)), name
        assert issubclass(cls, builtin), name
        assert repr(cls) == f"<class 'webber.{name}'>"
    error = webber.UnknownNodeError("dag 'x' has no node 'a-1'", "a-1")
    assert str(error) == "dag 'x' has no node 'a-1'"  # not KeyError's repr()
    assert webber.CycleError("m", ["a", "b", "a"]).cycle == ["a", "b", "a"]
