"""One run's use of the result store: its ``cache=`` argument, keys, hits,
misses and what to store.

The engine holds a :class:`CacheSession` when ``run(cache=...)`` is given.
Keys are computed for every node before the first job, from functions,
arguments and parents' keys only (``_fingerprint``), so a hit needs no value
of its parents. A node is looked up, and stored, only when every parent
succeeded: the key describes its inputs then (a ``Failure`` or ``AnyCase``
child of a failed parent got an exception, which it does not describe).

A result is staged (pickled and written to a temporary file) as its task
returns, in the thread that reports it (see :meth:`CacheSession.staging`),
and renamed into place when the engine takes the outcome: a chain's next
link, which runs before that on the inline and threads executors, may
change the object in place, and the entry must hold what the task returned.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from webber._cache import Cache, CacheStats
from webber._errors import CacheError
from webber._plan import Plan, PlanNode
from webber.executors._base import Outcome, Remote, Report, fetch
from webber.executors._stored import Stored

__all__ = ["CacheSession", "resolve_cache"]

log = logging.getLogger("webber")


class CacheSession:
    """The store's side of one run (see the module doc)."""

    def __init__(self, cache: Cache, plan: Plan) -> None:
        self.cache = cache
        cache._told_unwritable = False  # a store that cannot be written: warned once a run
        self.plan = plan
        self.keys: dict[str, str] = {}
        #: nodes loaded from the store, in the order they were
        self.hits: dict[str, None] = {}
        self.misses = 0
        self.stored = 0
        #: (node, value) of results kept remote, stored at the end (see keep)
        self.remote: list[tuple[str, Any]] = []
        #: (node, attempt) -> its result's file staged as it returned (None: not storable)
        self.staged: dict[tuple[str, int], str | None] = {}
        self.closed = False  # the run is over: a late outcome stages nothing
        self._compute_keys()

    def _compute_keys(self) -> None:
        """A key for every node that may be cached: ``cache=True``, not skipped,
        and every parent keyed (a parent left out of the cache may compute
        something else next time, so what depends on it is left out too)."""
        from webber._fingerprint import Unkeyable, key_pickler, node_key

        keys = self.keys
        pickler = key_pickler(keys)
        for level in self.plan.levels:
            for n in level:
                node = self.plan.nodes[n]
                options = node.options
                if not options.cache or node.node.skip or not all(u in keys for u in node.parents):
                    continue
                try:
                    keys[n] = node_key(pickler, node.func, options.version, node.args,
                                       node.kwargs, node.node.fan_out, node.parents)
                except Unkeyable as e:
                    log.warning("task %r is not cached: %s; %s", n, e, e.hint,
                                extra={"task": node.name, "node": n})

    def _cacheable(self, node: PlanNode, states: Mapping[str, str]) -> bool:
        return node.id in self.keys and all(states[u] == "success" for u in node.parents)

    def load(self, node: PlanNode, states: Mapping[str, str]) -> tuple[bool, Any]:
        """``(True, value)`` for a hit; ``(False, None)`` when ``node`` must run.

        The value is a :class:`~webber.executors._stored.Stored`: the entry is
        checked here, and loaded where it is needed (a worker, or the caller
        when the user reads it)."""
        if not self._cacheable(node, states):
            return False, None
        found = self.cache.verify(self.keys[node.id], node.name)
        if found is None:
            self.misses += 1
            return False, None
        self.hits[node.id] = None
        return True, Stored(*found, node.id)

    def ends_chain(self, n: str) -> bool:
        """Whether chain link ``n`` has an entry (the engine then decides it
        when its parent is final: loaded, not run); counts a miss if not."""
        key = self.keys.get(n)
        if key is None:
            return False
        if self.cache.contains(key):
            return True
        self.misses += 1
        return False

    def staging(self, report: Report, states: Mapping[str, str]) -> Report:
        """``report`` for the executor, staging each cached task's result first
        (see the module doc); a value kept remote (dask) is left to :meth:`flush`."""
        keys, staged, stage = self.keys, self.staged, self.cache.stage

        def staging_report(message: Any) -> None:
            if type(message) is Outcome and message.ok and message.job.index is None:
                job = message.job
                if (job.node in keys and not self.closed and not _is_remote(message.value)
                        and (job.timeout is None or message.duration <= job.timeout)
                        # (a chain's link runs before the engine hears of its
                        # parent, which succeeded: else the link would not run)
                        and all(states.get(u, "success") == "success"
                                for u in self.plan.nodes[job.node].parents)):
                    staged[job.node, job.attempt] = stage(
                        keys[job.node], message.value, job.name, job.node)
            report(message)

        return staging_report

    def keep(self, n: str, value: Any, states: Mapping[str, str], attempt: int = 0,
             now: bool = False) -> None:
        """Store a successful node's value, when it is cached: the file staged
        for that ``attempt`` when there is one, else ``value`` now.

        A value kept remote (dask) is stored by :meth:`flush`, once the last
        task is final: fetching a chain link's result waits for the whole
        chain (one dask task), which would hold up the engine's thread meanwhile."""
        if (n, attempt) in self.staged:
            path = self.staged.pop((n, attempt))
            if path is not None and self.cache.commit(path, self.keys[n], self.plan.nodes[n].name):
                self.stored += 1
            return
        if not now and _is_remote(value):
            self.remote.append((n, value))
            return
        node = self.plan.nodes[n]
        if (n not in self.hits and self._cacheable(node, states)
                and self.cache.store(self.keys[n], fetch(value), node.name, n)):
            self.stored += 1

    def flush(self, states: Mapping[str, str]) -> None:
        """Store the results kept remote (the run is over)."""
        self.closed = True
        for n, value in self.remote:
            self.keep(n, value, states, now=True)
        self.remote = []
        self.discard()

    def salvage(self, states: Mapping[str, str]) -> None:
        """The run was stopped (Ctrl-C, an error in the engine): store the
        results kept remote whose tasks have ended, as the results of a local
        run are stored as they come, so the next run loads them instead of
        running them again. One whose dask task still runs (a chain's link
        before the links after it) is left out: fetching it would wait for
        them. One that cannot be fetched is left out too: the run is over."""
        remote, self.remote = self.remote, []
        for n, value in remote:
            if all(v.ready() for v in (value if type(value) is list else [value])
                   if isinstance(v, Remote)):
                try:
                    self.keep(n, value, states, now=True)
                except Exception as e:  # a worker gone: the stop goes on
                    log.debug("result of %r not stored: %r", n, e)

    def discard(self) -> None:
        """Drop what was staged and not stored (attempts that timed out, or a
        run stopped by Ctrl-C or an error)."""
        self.closed = True
        while self.staged:  # (popitem: a worker thread may still add one)
            path = self.staged.popitem()[1]
            if path is not None:
                self.cache.discard(path)

    def stats(self) -> CacheStats:
        return CacheStats(len(self.hits), self.misses, self.stored, self.cache.size())


def _is_remote(value: Any) -> bool:
    return isinstance(value, Remote) or (
        type(value) is list and bool(value) and isinstance(value[0], Remote)
    )


def resolve_cache(cache: object) -> Cache | None:
    """``run(cache=...)``'s argument as a Cache (None: no caching)."""
    if cache is None or isinstance(cache, Cache):
        return cache
    if isinstance(cache, (str, os.PathLike)):
        if not os.fspath(cache):  # Path("") is ".": the store's files among the user's
            raise CacheError(
                "cache='' is an empty path; name the store's directory, e.g. "
                "cache=\".webber-cache\" (cache=\".\" for the current one), or leave "
                "cache= out for no store")
        store = Cache(cache)
        try:
            is_file = store.path.exists() and not store.path.is_dir()
        except OSError as e:  # a folder on the way that this user may not enter
            raise CacheError(
                f"cache={str(cache)!r} cannot be reached ({type(e).__name__}: {e}); pass "
                f"a directory you may read and write (it is made if missing)"
            ) from e
        if is_file:
            raise CacheError(
                f"cache={str(cache)!r} is a file, not a directory; pass a directory "
                f"for the store (it is made if missing)"
            )
        return store
    raise CacheError(
        f"cache= takes a directory path or a webber.Cache, not {type(cache).__name__} "
        f"{cache!r}; e.g. run(cache=\".webber-cache\")"
    )
