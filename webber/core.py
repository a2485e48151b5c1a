"""webber 0.4.0's import path for the DAG: ``from webber.core import DAG, Condition``.

Only a path: the names are webber's own (``webber.DAG`` is ``webber.core.DAG``).
"""

from typing import Any

from webber._flow import DAG
from webber._graph import Condition

__all__ = ["Condition", "DAG"]

#: 0.4.0 names that webber provides at its top level when they exist there
#: (DAGCallbacks and DAGMetrics come with ``execute(callbacks=...)``; QueueDAG
#: with streaming)
_FORWARDED = ("DAGCallbacks", "DAGMetrics", "QueueDAG")


def __getattr__(name: str) -> Any:
    if name in _FORWARDED:
        import webber

        found = getattr(webber, name, None)
        if found is not None:
            return found
    raise AttributeError(f"module 'webber.core' has no attribute {name!r}")
