"""The walk over arguments (webber._refs): find and substitute, iterative and loop-safe."""

from __future__ import annotations

import pickle

import pytest

from webber import Promise
from webber._refs import Ref, find, substitute


def test_a_ref_pickles_as_its_id_and_compares_by_it() -> None:
    ref = pickle.loads(pickle.dumps(Ref("load-1")))
    assert ref == Ref("load-1") and ref != Ref("load-2") and hash(ref) == hash(Ref("load-1"))
    assert repr(ref) == "Ref('load-1')"


def test_substitute_replaces_only_the_kind_asked_for() -> None:
    value = [Ref("a"), Promise("b"), (Ref("c"),)]
    out = substitute(value, Ref, lambda ref: ref.id.upper())
    assert out[0] == "A" and isinstance(out[1], Promise) and out[2] == ("C",)
    assert [r.id for r in find(value, Ref)] == ["a", "c"]


def test_find_and_substitute_are_iterative() -> None:
    nested: object = Promise("a")
    for _ in range(100_000):
        nested = [nested]
    assert [p.key for p in find(nested, Promise)] == ["a"]
    out = substitute(nested, Promise, lambda p: 42)
    for _ in range(100_000):
        assert isinstance(out, list)
        out = out[0]
    assert out == 42


def test_substitute_keeps_types_and_unrelated_objects() -> None:
    from collections import namedtuple

    Pair = namedtuple("Pair", "a b")
    marker = object()
    value = {"t": (Promise("a"), 1), "s": {2}, "l": [marker], "n": Pair(1, 2)}
    out = substitute(value, Promise, lambda p: "A")
    assert out == {"t": ("A", 1), "s": {2}, "l": [marker], "n": Pair(1, 2)}
    assert out["l"][0] is marker and type(out["n"]) is Pair


def test_self_containing_list_does_not_loop() -> None:
    loop: list[object] = [Promise("a")]
    loop.append(loop)
    assert [p.key for p in find(loop, Promise)] == ["a"]


SUBSTITUTE_LOOP = """
import resource
resource.setrlimit(resource.RLIMIT_AS, (256 << 20, 256 << 20))  # a loop fails fast
import os, threading
watchdog = threading.Timer(5, lambda: (print("LOOPING after 5 s", flush=True), os._exit(3)))
watchdog.daemon = True
watchdog.start()
from webber import Promise
from webber._refs import substitute
loop = [Promise("a")]
loop.append(loop)
try:
    out = substitute(loop, Promise, lambda p: 5)
except MemoryError:
    print("MemoryError")
except Exception as e:   # refusing it with a clear error is acceptable
    print("refused", type(e).__name__, e)
else:
    print("ok", out[0], out[1] is out)
"""


@pytest.mark.timeout(60)
def test_substitute_of_a_self_containing_list_does_not_loop() -> None:
    # Regression test: find_promises() guards against a list that contains
    # itself; substitute() did not, and descended until MemoryError.
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", SUBSTITUTE_LOOP], capture_output=True, text=True, env=env,
        timeout=30, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(("ok 5 True", "refused")), result.stdout


def test_a_promise_in_a_tuple_that_contains_itself_is_refused_at_the_call() -> None:
    # compile() could not rebuild such an argument with the result in place:
    # the error comes from add_node / update_nodes, names the task and the fix.
    import webber
    from webber import DAG, Promise

    dag = DAG()
    x = dag.add_node(int, 1)
    inner: list[object] = []
    looped = (inner, Promise(x))
    inner.append(looped)
    with pytest.raises(webber.TaskDefinitionError,
                       match=r"task 'len': an argument contains itself through a tuple.*"
                             r"make the cycle go through lists or dicts only"):
        dag.add_node(len, looped)
    n = dag.add_node(len, [1])
    with pytest.raises(webber.TaskDefinitionError, match=rf"task {n!r}: an argument contains"):
        dag.update_nodes(n, args=(looped,))
    assert dag.run(executor="inline")[n] == 1  # refused whole: the node is as it was
    ok: list[object] = [Promise(x)]
    ok.append(ok)  # a cycle through lists alone is rebuilt
    m = dag.add_node(len, ok)
    assert dag.run(executor="inline")[m] == 2
