"""A result that cannot leave its worker: the one error every executor that
runs tasks in other processes fails the task with, and the check dask needs.

Webber's pool pickles each result to send it back, so it learns at once that
one cannot be pickled (``_worker.py``). A dask worker keeps a result where it
is and serializes it only when it moves (to a child on another worker, to the
caller): too late to fail the task, and dask says so with pages of
tracebacks. So the dask task checks its results before it reports them
(:func:`unsendable`).
"""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator, Iterator
from types import AsyncGeneratorType, GeneratorType
from typing import Any

from webber._task_errors import ResultSendError

__all__ = ["ONE_SHOT", "one_shot_error", "result_send_error", "unsendable"]


def result_send_error(node: str, value: Any, cause: BaseException) -> ResultSendError:
    """The error of task ``node``, whose result ``value`` failed to pickle with ``cause``."""
    if isinstance(value, (Iterator, AsyncIterator)):
        # Not "use threads": there, each child that reads it would take items
        # the others then miss (a generator is read once).
        fix = (f"return the items instead (list(...)): a {type(value).__name__} is read once, "
               f"so children could not each read it")
    else:
        fix = "return plain data, or run it with executor='threads'"
    error = ResultSendError(
        f"task {node!r} returned a {type(value).__name__} that cannot be "
        f"pickled to send back ({type(cause).__name__}: {cause}); {fix}",
        node,
    )
    error.__cause__ = cause
    return error


#: results read once: children sharing one in the caller's process (inline,
#: threads) would each take items the others then miss (silently: a second
#: child of a generator found it empty); a worker process cannot pickle them
ONE_SHOT = frozenset((GeneratorType, AsyncGeneratorType))


def one_shot_error(node: str, value: Any) -> ResultSendError:
    """The error of task ``node``, whose result ``value`` (of :data:`ONE_SHOT`)
    two or more children would share (one child reads it as in plain Python)."""
    return ResultSendError(
        f"task {node!r} returned a {type(value).__name__}, which is read once, and "
        f"its children could not each read it; return the items instead (list(...))",
        node,
    )


class _Nowhere:
    """A file that keeps nothing: the check needs the pickling, not the pickle."""

    __slots__ = ()

    def write(self, data: Any) -> int:
        return len(data)


def _out_of_band(buffer: pickle.PickleBuffer) -> bool:
    return False  # every buffer out of band: an array's data is not copied


#: what pickles for sure, unchecked (most results)
_SURE = frozenset((type(None), bool, int, float, complex, str, bytes))


def unsendable(node: str, value: Any) -> ResultSendError | None:
    """The error of task ``node`` if its result ``value`` cannot be pickled, else None.

    Pickles into nothing, every buffer out of band, as dask would: by the C
    pickler, then by cloudpickle if that fails. A large array costs
    microseconds; a large graph of Python objects one more pickling (about
    0.1 s for 300,000 small dicts) besides dask's own when the result moves."""
    if type(value) in _SURE:
        return None
    try:
        pickle.Pickler(_Nowhere(), protocol=5, buffer_callback=_out_of_band).dump(value)
    except Exception:
        import cloudpickle  # (a function, a class of __main__: what pickle refuses)

        try:
            cloudpickle.Pickler(_Nowhere(), protocol=5, buffer_callback=_out_of_band).dump(value)
        except BaseException as e:  # (pickling runs the value's own code: anything may come)
            return result_send_error(node, value, e)
    return None
