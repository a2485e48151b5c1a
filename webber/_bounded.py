"""A bound on the caches of what is costly to work out again (per class, per
function, per task name): :func:`remember`.

Their keys are what programs make, some of them on the fly (a class per
call), so each cache is bounded: full, it forgets all it holds and fills
again with the few keys in use. A bound, not a cache policy: no order is
kept, and a hit stays a plain ``dict.get``.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["remember"]

_K = TypeVar("_K")
_V = TypeVar("_V")


def remember(cache: dict[_K, _V], key: _K, value: _V, limit: int) -> _V:
    """``cache[key] = value``, emptying ``cache`` first if ``key`` is new and
    it holds ``limit`` entries already; returns ``value``."""
    if len(cache) >= limit and key not in cache:
        cache.clear()
    cache[key] = value
    return value
