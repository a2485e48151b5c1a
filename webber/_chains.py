"""A chain's links as the engine submits them with their head: jobs
(``Job.links``), or one chained Column (``Job.chain``).

A chain (``PlanNode.next_link``: each link its parent's only child, and that
parent its only parent) runs where its head ran, each link fed the one
before's result. An executor that takes columns gets the links of a chain
whose links all call one function with that result alone (the common long
chain) as one :class:`~webber.executors._base.Column`: no Job per link, and
the engine finishes its answers a span at a time. Any other chain's links
go as Jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from webber._gc import MANY, frozen
from webber._plan import PlanNode
from webber._refs import Ref
from webber.executors._base import Column, Job

if TYPE_CHECKING:
    from webber._cache_session import CacheSession
    from webber._limits import Limits

#: a task's key: ``(node, fan-out element or None)``
Key = tuple[str, "int | None"]

__all__ = ["drop_links", "link_column", "link_jobs"]


def link_column(nodes: Mapping[str, PlanNode], head: PlanNode) -> Column | None:
    """The links of the chain ``head`` heads as one chained Column, when each
    calls the first one's function, under its name, on the result of the one
    before alone; else None. (Their other options are read from the plan
    when one fails; a chain link has no timeout.)"""
    first = nodes[head.next_link]  # type: ignore[index]
    record = first.node
    func, name = record.func, record.options.name
    ids: list[str] = []
    args: list[tuple[Ref, ...]] = []
    previous, link = head.node.id, first
    while True:
        record = link.node
        arg = link.args
        if (record.func is not func or record.options.name != name or link.kwargs
                or len(arg) != 1 or arg[0].__class__ is not Ref or arg[0].id != previous):
            return None
        previous = record.id
        ids.append(previous)
        args.append(arg)
        n = link.next_link
        if n is None:
            return Column(func, name, ids, args, leaves=False, chained=True)
        link = nodes[n]


def link_jobs(nodes: Mapping[str, PlanNode], head: PlanNode, limits: Limits,
              session: CacheSession | None) -> tuple[Job, ...]:
    """The links of the chain ``head`` heads, as jobs fed by their predecessor;
    up to the first that waits for a concurrency slot or ends the chain in the
    cache (the engine decides that one when its parent is final)."""
    links: list[Job] = []
    n = _links(nodes, head.node.id, head.next_link, links, MANY, limits, session)
    if n is not None:  # a long chain: the rest frozen as it is made (see _gc)
        with frozen.adding():
            _links(nodes, links[-1].node, n, links, None, limits, session)
    return tuple(links)


def _links(nodes: Mapping[str, PlanNode], previous: str, n: str | None, links: list[Job],
           most: int | None, limits: Limits, session: CacheSession | None) -> str | None:
    """Add the chain's links from ``n`` on (``most`` at most); the next, if any."""
    caps = limits.caps
    while n is not None and len(links) != most:
        link = nodes[n]
        record = link.node
        options = record.options
        if caps and limits.limited(options.limit):
            return None  # it waits for a slot: the engine submits it
        if session is not None and session.ends_chain(n):
            return None  # decided when its parent is final: loaded, not run
        inputs = {previous: None} if link.deps else None  # filled in by the executor
        links.append(Job(n, None, 1, options.name, record.func, link.args, link.kwargs,
                         inputs, None))
        previous, n = n, link.next_link
    return n


def drop_links(chains: dict[Key, tuple[Job, ...]], ends: dict[Key, Key], running: dict[Key, Job],
               job: Job) -> None:
    """``job`` failed: if it is in a chain of Jobs (``chains``: head's key -> its
    links), the executor stopped the chain there, and the links after it are
    no longer ``running``: they are decided anew (when their parent is)."""
    for head, links in chains.items():
        if head == job.key:
            after = 0
        elif (after := next((i + 1 for i, link in enumerate(links) if link is job), 0)) == 0:
            continue
        for link in links[after:]:
            running.pop(link.key, None)
        del chains[head]
        ends.pop(links[-1].key, None)
        return
