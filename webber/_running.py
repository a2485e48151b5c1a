"""Running a DAG: what ``DAG.run`` and ``DAG.execute`` do once their
arguments are read -- the executor, its check of the plan, resume, the result
store, listeners -- then the engine."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from webber._task_errors import add_note

if TYPE_CHECKING:
    from webber._cache import Cache
    from webber._cache_session import CacheSession
    from webber._callbacks import DAGCallbacks
    from webber._dashboard import Dashboard
    from webber._dashboard_board import Board
    from webber._events import Listener
    from webber._flow import DAG
    from webber._plan import Plan
    from webber._progress import Bar
    from webber._run import Run
    from webber.executors import Executor

__all__ = ["in_thread", "run_graph"]


def run_graph(
    dag: DAG,
    executor: str | Executor | None,
    max_workers: int | None,
    progress: bool,
    listeners: Iterable[Listener],
    resume: Run | None,
    dashboard: bool | Dashboard,
    callbacks: DAGCallbacks | None = None,
    tracebacks: bool = True,
    verbose: bool = True,
    cache: str | os.PathLike[str] | Cache | None = None,
    limits: Mapping[str, int] | None = None,
) -> Run:
    """``dag.run(...)`` and ``dag.execute(...)``: choose the executor (the
    configured default for None), compile, let the executor check the plan,
    gather the listeners, and run the plan on the engine."""
    from webber.executors import resolve_executor

    _check_flag(dag, "progress", progress, "draw a progress bar")
    if executor is None:  # webber.config's, or WEBBER_EXECUTOR, or processes
        from webber._config import config

        executor = config.default_executor()
    chosen = resolve_executor(executor, max_workers)
    if resume is None and cache is None and len(dag):  # (an empty flow runs nothing)
        chosen._prepare()  # (the processes' first worker comes up while this compiles)
    plan = dag.compile()
    if not plan.nodes:
        _nothing_to_run(plan.name)
    chosen.check(plan)
    reuse = None
    if resume is not None:
        from webber._resume import reusable

        reuse = reusable(plan, resume)
    session = None if cache is None else _cache_session(cache, plan)
    listening, shown = _listeners(listeners, dashboard, progress)
    if callbacks is not None:
        from webber._callbacks import listener_for

        listening.append(listener_for(callbacks))
    from webber._engine import run_plan

    try:
        run = run_plan(
            plan, chosen, listeners=listening, reuse=reuse, tracebacks=tracebacks,
            verbose=verbose, session=session, limits=limits,
        )
    except BaseException as stopped:
        for each in shown:  # Ctrl-C: the page and the bar say the run stopped there
            each.cut()
        if isinstance(stopped, KeyboardInterrupt):  # (its traceback ends in webber's loop)
            add_note(stopped, f"webber: run {dag.name!r} stopped by Ctrl-C; no more tasks start")
        raise
    run._owner = (dag._kin, dag._label())  # to refuse ids and Promises of other graphs
    return run


def _check_flag(dag: DAG, name: str, value: object, does: str) -> None:
    """Refuse a flag that is not a bool (or None): ``progress="no"`` is a
    non-empty str, so true, and would have done as its truth said, silently."""
    if value is not None and not isinstance(value, bool):
        from webber._errors import OptionError

        raise OptionError(
            f"{dag._label()}: {name}={value!r} is not a bool; {name}= takes True "
            f"({does}) or False, e.g. run({name}=True)")


def _cache_session(cache: str | os.PathLike[str] | Cache, plan: Plan) -> CacheSession | None:
    """The run's side of the ``cache=`` store (imported here: a run without a
    cache does not pay for the store's modules)."""
    from webber._cache_session import CacheSession, resolve_cache
    from webber._gc import frozen

    store = resolve_cache(cache)
    if store is None:
        return None
    with frozen.running(len(plan)):  # (its keys are objects per node, as the run's: see _gc)
        return CacheSession(store, plan)


def _listeners(
    listeners: Iterable[Listener], dashboard: bool | Dashboard, progress: bool
) -> tuple[list[Listener], list[Board | Bar]]:
    """The run's listeners: the progress bar and the dashboard's Board (what
    shows the run, also the second list: told when it stops before its end)
    before ``listeners``, checked (an object that hears no event is a mistake
    at the call, not a run nobody hears)."""
    from webber._errors import DashboardError, ListenerError
    from webber._events import EVENTS, check_events, overrides

    if isinstance(listeners, (str, bytes)) or not isinstance(listeners, Iterable):
        raise ListenerError(f"listeners= takes webber.Listener objects, in a list: got "
                            f"{listeners!r}; e.g. run(listeners=[MyListener()])")
    listening = list(listeners)
    for listener in listening:
        if isinstance(listener, type):  # (its events are looked up on its type: `type`)
            raise ListenerError(
                f"listeners= takes webber.Listener objects, not classes: got the class "
                f"{listener.__name__}; make one, e.g. run(listeners=[{listener.__name__}()])")
        _warn_unknown_events(listener, EVENTS)
        if not any(overrides(listener, event) for event in EVENTS):
            raise ListenerError(
                f"listeners= takes webber.Listener objects, in a list: {listener!r} has "
                f"none of its on_... methods (on_task_end, on_batch, ...), so it would hear "
                f"nothing; subclass webber.Listener and override the events you want")
        check_events(listener)
    shown: list[Board | Bar] = []
    if dashboard is not True and dashboard is not False and dashboard is not None:
        from webber._dashboard import Dashboard

        if not isinstance(dashboard, Dashboard):
            raise DashboardError(
                f"run(dashboard={dashboard!r}): dashboard= takes True, False or a "
                f"webber.Dashboard; to choose its address, pass "
                f"dashboard=webber.Dashboard(host=..., port=...)")
    if dashboard:
        from webber._dashboard import watch

        shown.append(watch(dashboard))
    if progress:
        from webber._progress import progress_bar

        shown.append(progress_bar())
    return [*shown[::-1], *listening], shown


def _nothing_to_run(name: str) -> None:
    """Warn of a run without tasks: most often, tasks called before the with block."""
    import logging

    logging.getLogger("webber").warning(
        "%r has no tasks to run: a task call records one only inside "
        "'with Flow(...) as flow:' (outside, it runs at once), add_node() adds one", name,
    )


#: webber 0.4.0's DAGCallbacks hooks, and the Listener event each one is
_HOOKS_040 = {
    "on_dag_start": "on_run_start(plan)",
    "on_task_complete": "on_task_result(node, state, value), state 'success'",
    "on_task_error": "on_task_result(node, state, value), state 'failed'",
    "on_progress": "on_task_end(node, state, attempt, duration, worker)",
    "on_dag_complete": "on_run_end(run)",
}


def _warn_unknown_events(listener: object, events: tuple[str, ...]) -> None:
    """Say which ``on_...`` methods of ``listener`` are no event: a misspelt one
    (``on_task_finish``) is never called, and its listener heard nothing of it."""
    import difflib
    import logging

    squashed = {event.replace("_", ""): event for event in events}  # onTaskEnd, ontaskend
    for name in dir(type(listener)):
        written = squashed.get(name.lower().replace("_", ""))
        if (name.startswith("on_") or written) and name not in events \
                and callable(getattr(listener, name)):
            if name in _HOOKS_040:
                logging.getLogger("webber").warning(
                    "listener %s has %s(), a hook of webber.DAGCallbacks (0.4.0's callbacks), "
                    "not a Listener event, so it is never called: on a Listener, %s; or pass "
                    "the hook as run(callbacks=DAGCallbacks(%s=...))", type(listener).__name__,
                    name, _HOOKS_040[name], name)
                continue
            close = [written] if written else difflib.get_close_matches(name, events, n=1)
            logging.getLogger("webber").warning(
                "listener %s has %s(), which is no event, so it is never called%s; "
                "the events: %s", type(listener).__name__, name,
                f" (did you mean {close[0]}?)" if close else "", ", ".join(events))


async def in_thread(run: Callable[[], Run]) -> Run:
    """``DAG.arun``: ``run()`` in a thread of its own. Cancelling the await
    stops the run (see ``_inbox.Stop``): else it went on in the background,
    its later tasks too, holding the workers, and ``asyncio.run()`` or the
    kernel waited for it."""
    from asyncio import CancelledError, to_thread

    from webber._inbox import Stop

    stop = Stop()
    try:
        return await to_thread(stop.within, run)
    except CancelledError:
        stop.stop()
        raise
