"""What webber 0.4.0 code reads on what ``execute(return_ref=True)`` returned.

0.4.0 returned its executor: ``completed``, ``failed`` and ``skipped`` were
sets of ids, next to ``task_durations``, ``task_start_times``,
``dag_start_time`` and ``dag_end_time``. A :class:`~webber.Run` lists ids in
plan order; :class:`IdList` is that list, answering set comparisons and set
operations as the sets did (``run.failed == set()`` is True when nothing
failed, not False), and :class:`Run040` gives the Run the timing attributes.
:class:`ByNode` is the dict of ``run.states``, ``run.durations`` and
``run.attempts``, keyed by node as ``run[...]`` is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from webber._errors import UnknownNodeError

if TYPE_CHECKING:
    from webber._metrics import DAGMetrics

__all__ = ["ByNode", "IdList", "Run040"]

_SETS = (set, frozenset)


class ByNode(dict[str, Any]):
    """A dict keyed by node id that also takes what ``run[...]`` takes: the
    Promise of a node, or the task/callable a single node runs -- and, as
    ``run[...]``, refuses an id of another graph, in ``get`` and ``in`` too
    (by its text alone, it found this graph's node of the same id).

    Typed with ``Any`` keys: inside a flow a task call is typed as its value,
    and ``run.attempts[that]`` must type-check like ``run[that]`` does."""

    def __init__(self, data: Mapping[str, Any], node_id: Callable[[Any], str],
                 name: str) -> None:
        super().__init__(data)
        self._node_id = node_id
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(f"run.{self._name} is a dict by node, not a method: write "
                        f"run.{self._name}[node]")

    def __getitem__(self, key: Any) -> Any:
        try:  # (not by its text: an id add_node returned is a str, maybe of another DAG)
            return super().__getitem__(key if key.__class__ is str else self._node_id(key))
        except UnknownNodeError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


class IdList(list[str]):
    """Node ids in plan order (a list), compared with a set as a set.

    >>> from webber import DAG
    >>> dag = DAG()
    >>> a, b = dag.add_node(len, "ab"), dag.add_node(int, "x")
    >>> run = dag.run(executor="inline")
    >>> run.completed, run.completed == {a}, run.failed | {a} == {a, b}
    (['len-1'], True, True)
    >>> run.skipped == set(), run.completed <= {a, b}, run.completed[0]
    (True, True, 'len-1')
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _SETS):
            return set(self) == other
        return list.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # (a list: unhashable, as the sets were)

    def __le__(self, other: Any) -> bool:
        return set(self) <= other if isinstance(other, _SETS) else list.__le__(self, other)

    def __lt__(self, other: Any) -> bool:
        return set(self) < other if isinstance(other, _SETS) else list.__lt__(self, other)

    def __ge__(self, other: Any) -> bool:
        return set(self) >= other if isinstance(other, _SETS) else list.__ge__(self, other)

    def __gt__(self, other: Any) -> bool:
        return set(self) > other if isinstance(other, _SETS) else list.__gt__(self, other)

    def __or__(self, other: Iterable[Any]) -> set[Any]:
        return set(self).union(other)

    def __and__(self, other: Iterable[Any]) -> set[Any]:
        return set(self).intersection(other)

    def __sub__(self, other: Iterable[Any]) -> set[Any]:
        return set(self).difference(other)

    def __xor__(self, other: Iterable[Any]) -> set[Any]:
        return set(self).symmetric_difference(other)

    __ror__, __rand__, __rxor__ = __or__, __and__, __xor__

    def __rsub__(self, other: Iterable[Any]) -> set[Any]:
        return set(other).difference(self)

    def union(self, *others: Iterable[Any]) -> set[Any]:
        return set(self).union(*others)

    def intersection(self, *others: Iterable[Any]) -> set[Any]:
        return set(self).intersection(*others)

    def difference(self, *others: Iterable[Any]) -> set[Any]:
        return set(self).difference(*others)

    def symmetric_difference(self, other: Iterable[Any]) -> set[Any]:
        return set(self).symmetric_difference(other)

    def issubset(self, other: Iterable[Any]) -> bool:
        return set(self).issubset(other)

    def issuperset(self, other: Iterable[Any]) -> bool:
        return set(self).issuperset(other)

    def isdisjoint(self, other: Iterable[Any]) -> bool:
        return set(self).isdisjoint(other)


class Run040:
    """0.4.0's executor attributes of a :class:`~webber.Run`."""

    started: float
    duration: float

    if TYPE_CHECKING:  # (Run's own)
        @property
        def succeeded(self) -> IdList: ...

        @property
        def metrics(self) -> DAGMetrics: ...

    @property
    def completed(self) -> IdList:
        """webber 0.4.0's name for :attr:`succeeded` (its executor's ``completed``)."""
        return self.succeeded

    @property
    def task_durations(self) -> dict[str, float]:
        """0.4.0's: node id -> seconds it ran, for the nodes that ran (``metrics``')."""
        return self.metrics.task_durations

    @property
    def task_start_times(self) -> dict[str, float]:
        """0.4.0's: node id -> when it began, as ``time.time()`` (``metrics``')."""
        return self.metrics.task_start_times

    @property
    def dag_start_time(self) -> float:
        """0.4.0's: when the run began, as ``time.time()`` (0.4.0: ``perf_counter()``)."""
        return self.started

    @property
    def dag_end_time(self) -> float:
        """0.4.0's: when the run ended, on the clock of :attr:`dag_start_time`."""
        return self.started + self.duration
