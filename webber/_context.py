"""The flow that task calls record into: one context variable.

A context variable (not a global, not a thread-local) so that flows nest --
the innermost ``with Flow()`` records -- and every thread or asyncio task sees
only the flows it entered itself.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from webber._flow import DAG

active_flow: ContextVar[DAG | None] = ContextVar("webber_active_flow", default=None)
