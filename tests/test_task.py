"""@task: signature, settings, plain calls, validation."""

from __future__ import annotations

import contextlib
import inspect
import pickle

import pytest

import webber
from webber import DAG, Flow, Promise, task


@task
def documented(a: int, b: str = "x") -> str:
    """Join a and b."""
    return f"{a}{b}"


def test_wraps_keep_name_doc_and_signature() -> None:
    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Join a and b."
    assert inspect.signature(documented) == inspect.signature(documented.fn)
    assert list(inspect.signature(documented).parameters) == ["a", "b"]
    assert documented.__wrapped__ is documented.fn  # type: ignore[attr-defined]


def test_plain_call_outside_a_flow() -> None:
    assert documented(1, "y") == "1y"
    assert documented.map([1, 2], "y") == ["1y", "2y"]


def test_a_promise_passed_outside_any_flow_is_refused_with_the_fix() -> None:
    # (most often a line left outside the with block: the function would get a
    # Promise, and fail on it far from the mistake, or return it as a value)
    with Flow("f"):
        one = documented(1)
    for call in (lambda: documented(one), lambda: documented(1, b=one),  # type: ignore[arg-type]
                 lambda: documented.map(one), lambda: documented.map([1], one)):
        with pytest.raises(webber.TaskDefinitionError,
                           match=r"task 'documented' was called with Promise\('documented-1'\) "
                                 r"outside a 'with Flow\(\):' block.*indent it"):
            call()


def test_map_of_what_is_not_iterable_is_refused_at_the_line() -> None:
    refused = pytest.raises(webber.TaskDefinitionError,
                            match=r"task 'documented': map\(\) takes the elements .* not "
                                  r"int 5; e.g. documented.map\(\[1, 2, 3\]\)")
    for inside in (False, True):
        with Flow("f") if inside else contextlib.nullcontext(), refused:
            documented.map(5)  # type: ignore[arg-type]


def test_map_without_its_elements_says_they_come_first() -> None:
    # (Python's own "missing 1 required positional argument: 'items'" before)
    refused = pytest.raises(webber.TaskDefinitionError,
                            match=r"task 'documented': map\(\) takes the elements .* first, by "
                                  r"position \(given by name: x\); e.g. documented.map")
    for inside in (False, True):
        with Flow("f") if inside else contextlib.nullcontext(), refused:
            documented.map(x=[1, 2])


def test_map_with_a_partial_that_is_not_a_bool_is_refused_at_the_line() -> None:
    # map(partial="no") made a partial fan-out (a non-empty str is true), whose
    # failed elements then sat in the results as exceptions, silently.
    refused = pytest.raises(webber.TaskDefinitionError,
                            match=r"^task 'documented': map\(partial='no'\) is not a bool; "
                                  r"partial= takes True \(a failed element leaves its "
                                  r"exception in its place\) or False$")
    for inside in (False, True):
        with Flow("f") if inside else contextlib.nullcontext() as flow, refused:
            documented.map([1, 2], partial="no")  # type: ignore[arg-type]
        assert flow is None or len(flow.graph.nodes) == 0  # nothing recorded


def test_update_nodes_refuses_fan_out_flags_that_are_not_bools() -> None:
    with Flow() as dag:
        n = documented.map([1, 2])
    for flag in ("partial", "fan_out_zip"):
        with pytest.raises(webber.TaskDefinitionError,
                           match=rf"^task 'documented-1': {flag}='yes' must be a boolean, True "
                                 rf"or False$"):
            dag.update_nodes(n, **{flag: "yes"})
        assert getattr(dag.get_node(n), flag) is False  # left as it was


def test_call_inside_a_flow_records_a_node() -> None:
    with Flow("f") as flow:
        p = documented(1)
    assert isinstance(p, Promise)
    assert p.key == "documented-1"
    node = flow.get_node(p)
    assert node.func is documented.fn
    assert node.args == (1,)


def test_configured_decorator_and_name() -> None:
    @task(name="renamed", retries=3, retry_delay=0.5, retry_backoff=2, timeout=9)
    def f() -> None: ...

    assert f.options.name == "renamed"
    with Flow() as flow:
        p = f()
    node = flow.get_node(p)
    assert (node.id, node.name) == ("renamed-1", "renamed")
    assert (node.retries, node.retry_delay, node.retry_backoff, node.timeout) == (3, 0.5, 2.0, 9.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"retries": -1}, "retries=-1"),
        ({"retries": 1.5}, "retries=1.5"),
        ({"retries": True}, "retries=True"),
        ({"retry_delay": -0.1}, "retry_delay"),
        ({"retry_backoff": float("nan")}, "retry_backoff"),
        # (a factor, not seconds: the message said "a number of seconds")
        ({"retry_backoff": -2}, r"retry_backoff=-2.0 .* factor that multiplies retry_delay"),
        ({"timeout": 0}, "timeout=0"),
        ({"timeout": "5"}, "timeout='5'"),
    ],
)
def test_bad_settings_are_refused_at_decoration(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(webber.TaskDefinitionError, match=match) as info:
        task(**kwargs)(print)  # type: ignore[call-overload]
    assert "print" in str(info.value)


def test_not_a_function() -> None:
    with pytest.raises(webber.TaskDefinitionError, match="needs a function"):
        task(42)  # type: ignore[call-overload]


def test_lambda_and_builtin_names() -> None:
    with Flow() as flow:
        a = task(lambda: 1)()
        b = task(print)("x")
        c = task(lambda: 2)()
    assert [a.key, b.key, c.key] == ["lambda-1", "print-1", "lambda-2"]
    assert flow.get_node(a).name == "lambda"


def test_flows_nest_and_threads_have_their_own() -> None:
    import threading

    seen: list[object] = []
    with Flow("outer") as outer:
        a = documented(1)
        with Flow("inner") as inner:
            b = documented(2)
        c = documented(3)
        t = threading.Thread(target=lambda: seen.append(documented(4)))
        t.start()
        t.join()
    assert list(outer.nodes) == ["documented-1", "documented-2"]
    assert list(inner.nodes) == ["documented-1"]
    assert (a.key, b.key, c.key) == ("documented-1", "documented-1", "documented-2")
    assert seen == ["4x"]  # the other thread sees no active flow: a plain call


# -- more of the decorator ------------------------------------------------------------


def test_wraps_keep_qualname_module_annotations_and_defaults() -> None:
    @task(name="other", retries=1)
    def configured(rows: list[int], *, limit: int = 3) -> list[int]:
        """Keep the first rows."""
        return rows[:limit]

    assert isinstance(configured, webber.Task)
    assert configured.__name__ == "configured"
    assert configured.__qualname__.endswith("configured")
    assert configured.__module__ == __name__
    assert configured.__doc__ == "Keep the first rows."
    sig = inspect.signature(configured)
    assert str(sig) == str(inspect.signature(configured.fn))
    assert sig.parameters["limit"].default == 3
    assert sig.parameters["limit"].kind is inspect.Parameter.KEYWORD_ONLY
    assert configured([5, 6, 7, 8], limit=2) == [5, 6]
    assert repr(configured) == "<task other>"


def test_default_options() -> None:
    options = documented.options
    assert (options.name, options.retries, options.retry_delay) == ("documented", 0, 0.0)
    assert (options.retry_backoff, options.timeout) == (1.0, None)
    with Flow() as flow:
        p = documented(1)
    node = flow.get_node(p)
    assert (node.retries, node.retry_delay, node.retry_backoff, node.timeout) == (0, 0.0, 1.0, None)
    assert (node.skip, node.fan_out) == (False, False)


def test_plain_call_raises_and_returns_exactly_like_the_function() -> None:
    @task(retries=5)
    def explode(x: int) -> int:
        raise ZeroDivisionError(x)

    with pytest.raises(ZeroDivisionError):  # no retries outside a flow: a plain call
        explode(1)
    assert task(max)(3, 9, 4) == 9
    assert task(dict)(a=1) == {"a": 1}


def test_inside_a_flow_kwargs_and_defaults_are_recorded() -> None:
    with Flow() as flow:
        a = documented(1)
        b = documented(a=2, b="z")
        c = documented(3, b=a)
    assert flow.get_node(b).kwargs == {"a": 2, "b": "z"}
    assert flow.get_node(c).args == (3,)
    assert isinstance(flow.get_node(c).kwargs["b"], Promise)
    assert flow.get_edge(a, c).data is True
    run = flow.run(executor="inline")
    assert (run[a], run[b], run[c]) == ("1x", "2z", "31x")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"retries": None}, "retries=None"),
        ({"retries": "2"}, "retries='2'"),
        ({"retry_delay": "1"}, "retry_delay='1'"),
        ({"retry_delay": float("inf")}, "retry_delay=inf"),
        ({"retry_backoff": -2}, "retry_backoff=-2"),
        ({"timeout": -1}, "timeout=-1"),
        ({"timeout": True}, "timeout=True"),
    ],
)
def test_more_bad_settings(kwargs: dict[str, object], match: str) -> None:
    @task
    def ok() -> None: ...

    with pytest.raises(webber.TaskDefinitionError, match=match) as info:
        task(**kwargs)(ok)  # type: ignore[call-overload]
    assert isinstance(info.value, webber.WebberError) and isinstance(info.value, TypeError)


def test_negative_retries_fail_at_decoration_naming_the_task() -> None:
    with pytest.raises(webber.TaskDefinitionError) as info:

        @task(name="clean", retries=-1)
        def clean(rows: list[int]) -> list[int]:
            return rows

    assert str(info.value).startswith("task 'clean': retries=-1 is not valid")


def test_good_settings_are_normalised() -> None:
    t = task(retries=0, retry_delay=1, retry_backoff=2, timeout=5)(print)
    assert (t.options.retry_delay, t.options.retry_backoff, t.options.timeout) == (1.0, 2.0, 5.0)
    assert all(isinstance(v, float) for v in (t.options.retry_delay, t.options.timeout))


def test_a_task_called_inside_a_running_task_is_a_plain_call() -> None:
    @task
    def inner(x: int) -> int:
        return x + 1

    @task
    def outer(x: int) -> int:
        return inner(inner(x))

    with Flow() as flow:
        p = outer(1)
    assert list(flow.nodes) == ["outer-1"]
    assert flow.run(executor="threads")[p] == 3


def test_task_map_records_one_node() -> None:
    square = task(lambda x: x * x)
    with Flow() as flow:
        out = square.map([1, 2, 3])
    assert isinstance(out, Promise)
    assert list(flow.nodes) == ["lambda-1"] and flow.get_node(out).fan_out is True
    assert flow.run(executor="inline")[out] == [1, 4, 9]


def test_an_exception_inside_the_with_block_leaves_no_active_flow() -> None:
    def build() -> None:
        documented(1)
        1 / 0  # noqa: B018

    flow = Flow()
    with pytest.raises(ZeroDivisionError), flow:
        build()
    assert list(flow.nodes) == ["documented-1"]
    assert documented(2) == "2x"  # a plain call again


def test_the_same_flow_can_be_entered_again_and_nested_in_itself() -> None:
    with Flow() as flow:
        a = documented(1)
    with flow:
        b = documented(a)
        with flow:
            c = documented(b)
        d = documented(c)
    assert documented(0) == "0x"
    assert list(flow.nodes) == ["documented-1", "documented-2", "documented-3", "documented-4"]
    assert flow.run(executor="inline")[d] == "1xxxx"


def test_each_asyncio_task_sees_its_own_flow() -> None:
    import asyncio

    async def build(name: str) -> Flow:
        with Flow(name) as flow:
            documented(1)
            await asyncio.sleep(0.01)  # the other coroutine enters its flow meanwhile
            documented(2)
        return flow

    async def main() -> list[Flow]:
        return list(await asyncio.gather(build("one"), build("two")))

    one, two = asyncio.run(main())
    assert list(one.nodes) == list(two.nodes) == ["documented-1", "documented-2"]
    assert documented(3) == "3x"


# -- a task on a method -----------------------------------------------------------------


class Model:
    def __init__(self, k: int) -> None:
        self.k = k

    @task(name="predict", retries=2)
    def predict(self, x: int) -> int:
        """k times x."""
        return self.k * x

    dumped = task(print)  # a builtin does not bind: neither does its task


def test_a_task_on_a_method_binds_as_the_method_would() -> None:
    model = Model(2)
    assert model.predict(3) == 6  # outside a flow: the method's call
    assert model.predict.map([1, 2]) == [2, 4]
    assert Model.predict(model, 3) == 6
    in_class = Model.__dict__["predict"]
    assert Model.predict is in_class  # through the class: the task itself
    bound = model.predict
    assert isinstance(bound, webber.Task) and bound is not in_class
    assert bound.options is in_class.options  # name, retries, ...
    assert bound.fn == in_class.fn.__get__(model)  # the bound method: model travels with it
    assert (bound.__name__, bound.__doc__) == ("predict", "k times x.")
    assert repr(bound) == "<task predict>"
    assert list(inspect.signature(bound).parameters) == ["x"]
    assert Model.dumped is Model(1).dumped


def test_a_bound_task_records_nodes_of_its_instance() -> None:
    one, ten = Model(1), Model(10)
    with Flow() as flow:
        a = one.predict(3)
        b = ten.predict(a)
        c = ten.predict.map([a, b])
    assert [a.key, b.key, c.key] == ["predict-1", "predict-2", "predict-3"]
    assert flow.get_node(b).retries == 2 and flow.get_edge(a, b).data is True
    refused = pytest.raises(webber.TaskDefinitionError,
                            match=r"task 'predict': Model.predict\(x\) cannot take 2 positional")
    with Flow(), refused:
        one.predict(1, 2)  # type: ignore[call-arg]
    run = flow.run(executor="inline")
    assert (run[a], run[b], run[c]) == (3, 30, [30, 300])


def test_tasks_called_before_the_with_block_leave_an_empty_run_that_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @task
    def load(n: int) -> list[int]:
        return list(range(n))

    flow = Flow("forgot")  # no `with`: the call below runs at once
    rows = load(3)
    run = flow.run(executor="inline")
    assert [r.getMessage() for r in caplog.records] == [
        "'forgot' has no tasks to run: a task call records one only inside "
        "'with Flow(...) as flow:' (outside, it runs at once), add_node() adds one"
    ]
    with pytest.raises(webber.UnknownNodeError) as info:
        run[rows]
    assert str(info.value) == (
        "run of 'forgot' has no node [0, 1, 2]: name a node by its id, its Promise or its "
        "task, not list (a task called outside 'with Flow():' returns its value, not a "
        "Promise); it has no nodes: a task call records one only inside 'with Flow():'"
    )
    with pytest.raises(webber.UnknownNodeError, match=r"has no node 'load-1'; it has no nodes"):
        run["load-1"]


def test_a_misspelled_setting_or_option_names_the_one_meant() -> None:
    # Python's "got an unexpected keyword argument 'retires'" named neither
    # the setting meant nor those there are.
    with pytest.raises(webber.OptionError, match=r"task\(\) takes no retires=; did you mean "
                                                 r"retries=\? its settings: name=, retries="):
        task(retires=2)  # type: ignore[call-overload]
    with pytest.raises(webber.OptionError, match="did you mean timeout="):
        task(print, timout=1)  # type: ignore[call-overload]
    with Flow("typo") as flow:
        n = task(len)("abc")
    for method in (flow.run, flow.execute):
        with pytest.raises(TypeError, match=(  # (OptionError is one: code catching it still does)
                r"Flow 'typo': \w+\(\) takes no exector=; did you mean executor=\?")):
            method(exector="inline")  # type: ignore[call-arg]
    with pytest.raises(webber.OptionError, match=r"run\(\) takes no colour=; its options: "):
        flow.run(colour=True)  # type: ignore[call-arg]
    # A TypeError raised inside, or a call that binds, is left alone.
    assert flow.run(executor="inline")[n] == 3
    with pytest.raises(webber.ListenerError):
        flow.run(executor="inline", listeners=print)  # type: ignore[arg-type]


def test_a_task_of_a_module_and_a_run_of_it_pickle_with_the_standard_pickle() -> None:
    # The task stands where its function was: the standard pickle, writing
    # either by name, found the task and failed ("it's not the same object as
    # tests.test_task.documented"), so ProcessPoolExecutor().submit(documented)
    # and pickle.dump(run) could not write them.
    assert pickle.loads(pickle.dumps(documented)) is documented
    with Flow("pickled") as flow:
        joined = documented(2)
        twice = documented(joined)  # (a chain's link: the flow keeps its function aside)
    again = pickle.loads(pickle.dumps(flow.run(executor="inline")))
    assert again[joined] == "2x" and again[twice] == "2xx"
    assert again.plan.nodes[joined.key].node.func is documented.fn
    assert pickle.loads(pickle.dumps(flow)).run(executor="inline")[twice] == "2xx"


def test_a_flow_given_what_is_not_a_name_says_flow() -> None:
    # Flow is a DAG underneath; its error named DAG(), which the user never called.
    with pytest.raises(webber.TaskDefinitionError, match=r"^Flow\(\) takes a name \(str\)"):
        Flow(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", [DAG, webber.QueueDAG])
def test_a_name_that_is_not_a_str_is_refused_at_the_line(make: type[DAG]) -> None:
    # DAG(name=5) was kept, and its diagram failed later with AttributeError
    # ("'int' object has no attribute 'replace'"), far from the line.
    what = make.__name__
    with pytest.raises(webber.TaskDefinitionError,
                       match=rf"^{what}\(name=5\): a name is a str, e\.g\. "
                             rf"{what}\(name=\"etl\"\)$"):
        make(name=5)  # type: ignore[arg-type]


def test_a_flow_without_a_name_is_called_flow() -> None:
    # Flow(None) was named "dag", as DAG() is.
    assert Flow(None).name == Flow().name == "flow"  # type: ignore[arg-type]
    assert DAG(None).name == DAG().name == "dag"


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_task_or_flow_with_an_empty_name_is_refused_at_the_line(blank: str) -> None:
    # @task(name="") made nodes with ids like task-1 and log lines with no name;
    # Flow("") a flow with none. Both are new (0.4.0 had neither): refused here.
    with pytest.raises(webber.TaskDefinitionError,
                       match=rf"^@task\(name={blank!r}\) on 'len': a task's name shows in its "
                             r"ids, log lines and diagrams; leave name= out to use the "
                             r"function's name \('len'\), or give one"):
        task(name=blank)(len)
    with pytest.raises(webber.TaskDefinitionError,
                       match=rf"^Flow\({blank!r}\): a flow's name shows in its plans, logs, "
                             r"diagrams and dashboard; leave it out \(Flow\(\) is 'flow'\) "
                             r"or give one, e.g. Flow\(\"etl\"\)$"):
        Flow(blank)
    with pytest.raises(webber.TaskDefinitionError, match=r"^Flow\(''\)"):
        Flow(name="")


@pytest.mark.parametrize("make", [DAG, webber.QueueDAG])
def test_an_empty_name_of_a_dag_is_its_default_name(make: type[DAG]) -> None:
    # webber 0.4.0 took DAG(name="") (it ignored the keyword): the drop-in
    # promise keeps it working, and the DAG is named as if no name were given.
    assert make(name="").name == make(name=" ").name == make().name
    assert make("").name == make().name
