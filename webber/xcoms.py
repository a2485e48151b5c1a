"""webber 0.4.0's import paths for Promises: ``from webber.xcoms import Promise, IterPromise``.

``InvalidCallable`` is the error a Promise argument that names no node of the
graph raises (:class:`webber.InvalidPromiseError`, a ``webber.GraphError``).
"""

from webber._errors import InvalidPromiseError as InvalidCallable
from webber._promise import IterPromise, Promise

__all__ = ["InvalidCallable", "IterPromise", "Promise"]
