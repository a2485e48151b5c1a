"""Promise: what it refuses while the flow is built, and >> edges."""

from __future__ import annotations

import collections
import pickle
from typing import Any

import pytest

import webber
from webber import DAG, Flow, Promise, task


@task
def one() -> int:
    return 1


def test_truth_iteration_and_len_are_refused_with_a_hint() -> None:
    with Flow():
        p = one()
        with pytest.raises(TypeError, match="put the `if` inside a task"):
            bool(p)
        with pytest.raises(TypeError, match=r"\.map\("):
            iter(p)
        with pytest.raises(TypeError, match="no length"):
            len(p)


def test_arithmetic_ordering_conversion_and_indexing_are_refused_with_a_hint() -> None:
    # `total = load() + 1` inside a flow: a WebberError saying where the value comes
    # from, not "unsupported operand type(s)"; still a TypeError for code that catches it.
    import math
    import operator

    with Flow():
        p = one()
        uses = {
            "`+`": [lambda: p + 1, lambda: 1 + p], "`*`": [lambda: p * 2, lambda: 2 * p],
            "`/`": [lambda: p / 2], "`**`": [lambda: 2 ** p], "`@`": [lambda: p @ p],
            "`<`": [lambda: p < 3], "`>=`": [lambda: p >= 3], "`-`": [lambda: -p],
            "abs()": [lambda: abs(p)], "int()": [lambda: int(p)],
            "float()": [lambda: float(p)], "round()": [lambda: round(p)],
            "math.floor()": [lambda: math.floor(p)], "an index": [lambda: operator.index(p)],
        }
        for symbol, calls in uses.items():
            for use in calls:
                with pytest.raises(webber.TaskDefinitionError) as info:
                    use()
                assert isinstance(info.value, TypeError)
                assert str(info.value) == (
                    f"Promise('one-1') has no value yet: the flow is being built, not run, so "
                    f"{symbol} cannot apply to it; do it in a task that takes the Promise as "
                    f"an argument (the task gets the value)")
        with pytest.raises(webber.TaskDefinitionError, match=r"Promise\('one-1'\)\[0\]: .* "
                           r"cannot be indexed; take the item in a task"):
            p[0]
        with pytest.raises(webber.TaskDefinitionError, match=r"cannot be formatted into a "
                           r"string .*; build the string in a task that gets the value"):
            f"out/{p}.csv"  # (the task would have been given "out/Promise('one-1').csv")
        assert str(p) == repr(p) == "Promise('one-1')" and f"{p!r}" == "Promise('one-1')"
        assert p == p and p != one() and len({p, p}) == 1  # identity, as before
        assert (p >> one()) is not None  # >> still records an edge


def test_promise_of_another_flow_is_refused_naming_both() -> None:
    with Flow("first"):
        p = one()
    with Flow("second"), pytest.raises(webber.ForeignPromiseError) as info:
        task(print)(p)
    assert "flow 'first'" in str(info.value) and "flow 'second'" in str(info.value)
    dag = DAG("plain")
    with pytest.raises(webber.ForeignPromiseError, match="dag 'plain'"):
        dag.add_node(print, [p])


def test_rshift_chains_and_lists() -> None:
    with Flow() as flow:
        a, b, c, d = one(), one(), one(), one()
        a >> b >> [c, d]
        e = one()
        [c, d] >> Promise("one-5")  # a plain Promise resolves in the active flow
        with pytest.raises(webber.CycleError):
            [c, d] >> Promise("one-1")  # refused at once, all or nothing
    assert sorted(flow.edges) == [
        ("one-1", "one-2"), ("one-2", "one-3"), ("one-2", "one-4"),
        ("one-3", "one-5"), ("one-4", "one-5"),
    ]
    assert flow.compile().levels[-1] == [e.key]


def test_promise_constructor() -> None:
    assert Promise("x").key == "x"
    assert Promise(print).key is print
    assert Promise(Promise("y")).key == "y"
    with pytest.raises(TypeError, match="node id"):
        Promise(3)  # type: ignore[arg-type]
    assert repr(Promise("load-1")) == "Promise('load-1')"
    assert pickle.loads(pickle.dumps(Promise("z"))).key == "z"


# -- foreign Promises, >>, nesting ----------------------------------------------------


def test_foreign_promise_nested_deep_in_keyword_arguments() -> None:
    with Flow("source"):
        p = one()
    with Flow("target") as target:
        ok = one()
        with pytest.raises(webber.ForeignPromiseError) as info:
            task(print)(x={"rows": [1, (2, {p})]})
    message = str(info.value)
    assert "flow 'source'" in message and "flow 'target'" in message
    assert "Promise('one-1')" in message
    assert list(target.nodes) == [ok.key]  # nothing recorded by the refused call


def test_a_promise_of_the_outer_flow_is_foreign_in_the_inner_one() -> None:
    with Flow("outer") as outer:
        p = one()
        with Flow("inner") as inner, pytest.raises(
            webber.ForeignPromiseError, match="flow 'outer', not by flow 'inner'"
        ):
            task(print)(p)
        q = task(str)(p)  # back in the outer flow: fine
    assert list(inner.nodes) == []
    assert outer.get_edge(p, q).data is True


def test_foreign_promise_in_add_node_and_task_map() -> None:
    with Flow("first"):
        p = one()
    dag = DAG("second")
    with pytest.raises(webber.ForeignPromiseError, match=r"flow 'first'.*dag 'second'"):
        dag.add_node(print, x=p)
    with Flow("third"), pytest.raises(webber.ForeignPromiseError, match="flow 'first'"):
        one.map(p)
    assert len(dag) == 0


def test_promise_by_id_is_not_bound_to_a_flow() -> None:
    with Flow("first") as first:
        p = one()
    assert p.flow is first and Promise("one-1").flow is None
    dag = DAG()
    n = dag.add_node(int, 4)
    out = dag.add_node(str, Promise(n))  # Promise(id) works in any graph
    assert dag.run(executor="inline")[out] == "4"


def test_rshift_to_a_promise_of_another_flow_is_refused() -> None:
    # Regression test: `>>` checked the left side's flow but not the right
    # side's, so `b >> c` with c from another flow silently linked b to
    # whatever node of b's flow had c's id ("one-1" here).
    with Flow("first") as first:
        one()
        b = one()
    with Flow("second"):
        c = one()
    with pytest.raises(webber.ForeignPromiseError, match="flow 'second'"):
        b >> c
    assert first.edges == []


def test_add_edge_with_a_promise_of_another_flow_is_refused() -> None:
    # Regression test: "a Promise from another flow used in this one raises a
    # clear error at the call site" -- add_edge took its key and linked
    # whatever node of this flow has the same id (here a self-edge).
    with Flow("first") as first:
        a = one()
    with Flow("second"):
        c = one()
    with pytest.raises(webber.ForeignPromiseError, match="flow 'second'"):
        first.add_edge(c, a)
    assert first.edges == []


def test_rshift_returns_its_right_side_and_takes_tuples() -> None:
    with Flow() as flow:
        a, b, c, d = one(), one(), one(), one()
        assert (a >> b) is b
        assert (a >> (c, d)) == (c, d)
        assert ((b, c) >> d) is d
    assert sorted(flow.edges) == [
        ("one-1", "one-2"), ("one-1", "one-3"), ("one-1", "one-4"),
        ("one-2", "one-4"), ("one-3", "one-4"),
    ]
    assert flow.get_edge(a, b).data is False


def test_rshift_with_unbound_promises_needs_an_active_flow() -> None:
    with pytest.raises(TypeError, match=r"needs an active flow"):
        Promise("a") >> Promise("b")


def test_rshift_keeps_an_existing_edge_condition() -> None:
    from webber import Condition

    with Flow() as flow:
        a = one()
        b = task(str)(a)
    flow.update_edges((a, b), continue_on=Condition.AnyCase)
    with flow:
        a >> b
    assert flow.get_edge(a, b).continue_on is Condition.AnyCase


def test_a_promise_in_a_hundred_thousand_deep_list_through_the_dsl() -> None:
    @task
    def depth(obj: object) -> tuple[int, object]:
        d = 0
        while isinstance(obj, list):
            obj = obj[0]
            d += 1
        return d, obj

    with Flow() as flow:
        nested: object = one()
        for _ in range(100_000):
            nested = [nested]
        out = depth(nested)
    assert flow.compile().levels == [["one-1"], ["depth-1"]]
    assert flow.run(executor="inline")[out] == (100_000, 1)


def test_truth_tests_fail_in_if_and_while_with_the_hint() -> None:
    with Flow():
        p = one()
        with pytest.raises(TypeError, match=r"Promise\('one-1'\) has no value yet"):
            bool(p)
        with pytest.raises(TypeError, match=r"continue_on=Condition\.Failure"):
            not p  # noqa: B018
        with pytest.raises(TypeError, match="cannot be iterated"):
            _a, _b = p  # type: ignore[misc]
        with pytest.raises(TypeError, match=r"use my_task\.map\(Promise\('one-1'\)\)"):
            list(p)  # type: ignore[call-overload]


def test_two_flows_with_the_same_name_are_told_apart_in_the_error() -> None:
    with Flow():
        p = one()
    with Flow(), pytest.raises(webber.ForeignPromiseError) as info:
        one() >> p
    assert "a different flow with the same name" in str(info.value)
    with Flow() as f:
        mine = one()
    run = f.run(executor="inline")
    with pytest.raises(webber.ForeignPromiseError, match=r"run of flow 'flow': 'one-1' belongs "
                       r"to another flow 'flow' \(a different flow with the same name\)"):
        run[p]  # the other flow's Promise, of the same id
    assert run[mine] == 1


def test_condition_words_take_only_promises_and_show_in_repr() -> None:
    import webber
    from webber import Flow, task

    with pytest.raises(TypeError, match=r"on_failure\(\) takes the result of a task call"):
        webber.on_failure(3)
    with Flow():
        p = task(len)("abc")
        marked = webber.any_case(p)
    assert repr(marked) == "any_case(Promise('len-1'))"
    assert repr(p) == "Promise('len-1')"  # the original is unchanged


def test_a_promise_in_a_record_or_a_dict_key_is_refused_at_the_call() -> None:
    # Results take the place of Promises in lists, tuples, sets and dicts only: a
    # task given a record would get the Promise itself (and not wait for it).
    import dataclasses
    from typing import NamedTuple

    @dataclasses.dataclass(frozen=True, slots=True)
    class Config:
        path: Any

    class Pair(NamedTuple):
        a: Any
        b: Any

    show = task(repr, name="show")
    for make in (lambda p: Config(p), lambda p: [1, {"k": Pair(2, (p,))}],
                 lambda p: Pair(Config(p), 1)):
        with Flow():
            p = one()
            with pytest.raises(webber.TaskDefinitionError,
                               match=r"task 'show': Promise\('one-1'\) is inside a (Config|Pair); "
                                     r".* pass the Promise as an argument of its own and build "
                                     r"what holds it in the task"):
                show(make(p))
            with pytest.raises(webber.TaskDefinitionError, match="is inside a"):
                show(1, x=make(p))
    dag = DAG()
    n = dag.add_node(int, 5)
    with pytest.raises(webber.TaskDefinitionError, match=r"Promise\('int-1'\) is inside a Config"):
        dag.add_node(repr, Config(Promise(n)))
    m = dag.add_node(repr, Config(1))  # a record without a Promise is a plain value
    with pytest.raises(webber.TaskDefinitionError, match="is inside a Pair"):
        dag.update_nodes(m, args=(Pair(Promise(n), 0),))
    with pytest.raises(webber.TaskDefinitionError,
                       match=r"Promise\('int-1'\) is a key of a dict; .* dicts' values only"):
        dag.add_node(repr, [{Promise(n): 1}])
    both = dag.add_node(list, (Promise(n), Promise(n)))  # a plain tuple gets the results
    run = dag.run(executor="inline")
    assert run[m].endswith("Config(path=1)") and run[both] == [5, 5]


def test_a_promise_among_many_scalars_is_found_and_many_scalars_alone_are_passed_over() -> None:
    # A large container of scalars alone is passed over whole (its types read
    # at once): one that also holds a Promise, or a record hiding one, is not.
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Config:
        path: Any

    with Flow() as flow:
        p = one()
        listed = task(len, name="listed")([*range(100), p, *"abc"])
        valued = task(sorted, name="valued")({**{str(i): i for i in range(50)}, "p": p})
        mapped = task(lambda x, extra: x + len(extra), name="mapped").map(
            [*range(40), p], [0.5] * 40)
        scalars = task(sum, name="scalars")(list(range(10_000)))
        with pytest.raises(webber.TaskDefinitionError, match="is inside a Config"):
            task(len, name="hidden")([*range(100), Config(p)])
    plan = flow.compile()
    for promise in (listed, valued, mapped):
        assert plan.nodes[promise.key].deps == (p.key,)
    assert plan.nodes[scalars.key].deps == ()
    run = flow.run(executor="inline")
    assert run[listed] == 104 and run[valued] == sorted([*map(str, range(50)), "p"])
    assert run[mapped] == [i + 40 for i in range(40)] + [1 + 40]
    assert run[scalars] == sum(range(10_000))


def test_a_record_of_scalars_alone_is_passed_over_and_one_holding_a_promise_is_not() -> None:
    import dataclasses
    from typing import NamedTuple

    from webber._hidden import scalar_record

    @dataclasses.dataclass
    class Config:
        name: str
        size: object = 3

    class Pair(NamedTuple):
        a: object
        b: object

    assert scalar_record(Config("a")) and scalar_record(Pair(1, b"x"))
    assert not scalar_record(Config("a", Promise("p-1"))) and not scalar_record(Pair(1, [2]))
    assert not scalar_record((1, 2)) and not scalar_record(object())
    dag = DAG()
    p = dag.add_node(int, 1)
    with pytest.raises(webber.TaskDefinitionError, match=r"Promise\('int-1'\) is inside a Config"):
        dag.add_node(print, Config("a", Promise(p)))
    assert dag.get_node(dag.add_node(print, Config("a"), Pair(1, 2))).deps == ()


class _Items(list[object]):
    """A list subclass: its Promises would reach the task as they are."""


class _Pair(tuple[object, ...]):
    """A tuple subclass that is not a namedtuple."""


class _Set(set[object]):
    pass


class _Frozen(frozenset[object]):
    pass


# (make the container around a Promise, its type's name, the plain type to pass)
_CONTAINERS: list[tuple[Any, str, str]] = [
    (lambda p: collections.deque([1, p]), "deque", "list"),
    (lambda p: _Items([p]), "_Items", "list"),
    (lambda p: _Pair((0, p)), "_Pair", "tuple"),
    (lambda p: collections.OrderedDict(a=p), "OrderedDict", "dict"),
    (lambda p: collections.defaultdict(list, a=[p]), "defaultdict", "dict"),
    (lambda p: collections.Counter({p: 2}), "Counter", "dict"),  # (a key)
    (lambda p: _Set({p}), "_Set", "set"),
    (lambda p: _Frozen({p}), "_Frozen", "frozenset"),
    (lambda p: collections.UserList([p]), "UserList", "list"),
    (lambda p: collections.UserDict(a=p), "UserDict", "dict"),
    # nested in plain containers, also past MANY_ITEMS scalars
    (lambda p: [1, {"k": (collections.deque([[p]]),)}], "deque", "list"),
    (lambda p: {"a": [*range(40), collections.OrderedDict(b={"c": p})]}, "OrderedDict", "dict"),
]


def _hidden_message(task_name: str, key: str, name: str, plain: str) -> str:
    return (
        rf"^task '{task_name}': Promise\('{key}'\) is inside a container of type {name}; a "
        rf"result takes the place of a Promise in plain lists, tuples, sets and dicts' values "
        rf"only, so the task would get the Promise itself \(and not wait for it\): pass a "
        rf"plain {plain} \({plain}\(\.\.\.\)\) and make the {name} in the task$"
    )


@pytest.mark.parametrize(("make", "name", "plain"), _CONTAINERS,
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(_CONTAINERS)])
def test_a_promise_in_another_container_is_refused_at_the_call(
    make: Any, name: str, plain: str
) -> None:
    # A result takes the place of a Promise in plain lists, tuples, sets and
    # dicts only: in a deque, an OrderedDict or a list subclass the task would
    # get the Promise itself, and would not wait for its node.
    show = task(repr, name="show")
    with Flow() as flow:
        p = one()
        with pytest.raises(webber.TaskDefinitionError,
                           match=_hidden_message("show", "one-1", name, plain)):
            show(make(p))
        with pytest.raises(webber.TaskDefinitionError,
                           match=_hidden_message("show", "one-1", name, plain)):
            show(1, x=make(p))
        with pytest.raises(webber.TaskDefinitionError,
                           match=_hidden_message("show", "one-1", name, plain)):
            show.map([make(p)])
    assert list(flow.graph.nodes) == ["one-1"]  # refused: no node made
    dag = DAG()
    n = dag.add_node(int, 5)
    with pytest.raises(webber.TaskDefinitionError,
                       match=_hidden_message("repr", "int-1", name, plain)):
        dag.add_node(repr, make(Promise(n)))
    m = dag.add_node(repr, 1)
    with pytest.raises(webber.TaskDefinitionError,
                       match=_hidden_message("repr-1", "int-1", name, plain)):
        dag.update_nodes(m, args=(make(Promise(n)),))
    assert dag.get_node(m).args == (1,) and list(dag.graph.nodes) == ["int-1", "repr-1"]


def test_the_reproducer_an_ordered_dict_holding_a_task_call_is_refused() -> None:
    @task
    def show(x: object) -> str:
        return repr(x)

    with Flow(), pytest.raises(webber.TaskDefinitionError,
                               match=r"Promise\('one-1'\) is inside a container of type "
                                     r"OrderedDict; .*: pass a plain dict \(dict\(\.\.\.\)\)"):
        show(collections.OrderedDict(a=one()))


def test_other_containers_without_promises_pass_as_they_are() -> None:
    # Without a Promise they are plain values: the task gets them, type and all.
    values = [
        collections.deque([1, "a"], maxlen=5), collections.deque([[1], {"a": (2,)}]),
        _Items([1, [2]]), _Pair((1, 2)), collections.OrderedDict(a=1, b=[2]),
        collections.defaultdict(list, a=[1]), collections.Counter("abca"), _Set({1}),
        _Frozen({"a"}), collections.UserList([1]), collections.UserDict(a=1),
        [*range(40), collections.deque([1])],
    ]
    with Flow() as flow:
        got = [task(lambda v: v, name="same")(v) for v in values]
    run = flow.run(executor="inline")
    for promise, value in zip(got, values, strict=True):
        assert flow.get_node(promise.key).deps == ()
        assert run[promise] == value and type(run[promise]) is type(value)
    assert run[got[0]].maxlen == 5 and run[got[5]].default_factory is list


def test_a_promise_in_a_numpy_object_array_is_refused_and_numeric_arrays_are_not_read() -> None:
    np = pytest.importorskip("numpy")

    class Unread(np.ndarray):
        """An array whose items must not be read while the node is added."""

        def __iter__(self) -> Any:
            raise AssertionError("a numeric array was iterated")

        def ravel(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a numeric array was read")

        tolist = ravel

    dag = DAG()
    n = dag.add_node(int, 5)
    held = np.empty((2, 2), dtype=object)
    held[:] = 0
    held[1, 1] = Promise(n)
    for value in (held, [np.arange(3), {"a": held}]):
        with pytest.raises(webber.TaskDefinitionError,
                           match=r"^task 'repr': Promise\('int-1'\) is inside a container of type "
                                 r"ndarray; .*: pass a plain list \(array\.tolist\(\)\) and make "
                                 r"the ndarray in the task$"):
            dag.add_node(repr, value)
    numbers = np.arange(6.0).view(Unread)
    plain = dag.add_node(lambda a: float(a.sum()), numbers)
    mixed = dag.add_node(lambda a, b: a + float(np.asarray(b).sum()), Promise(n), [numbers])
    objects = np.array([1, "a", None], dtype=object)
    kept = dag.add_node(list, objects)
    assert [dag.get_node(x).deps for x in (plain, mixed, kept)] == [(), ("int-1",), ()]
    run = dag.run(executor="inline")
    assert (run[plain], run[mixed], run[kept]) == (15.0, 20.0, [1, "a", None])


def test_update_nodes_takes_keyword_arguments_in_any_mapping() -> None:
    # Keyword arguments are unpacked: an OrderedDict of them is taken as a dict,
    # so its Promises record edges and get results.
    dag = DAG()
    n = dag.add_node(int, 5)
    m = dag.add_node(lambda x=0: x * 2)
    dag.update_nodes(m, kwargs=collections.OrderedDict(x=Promise(n)))
    assert dag.get_node(m).deps == ("int-1",) and type(dag.get_node(m).kwargs) is dict
    assert dag.run(executor="inline")[m] == 10
