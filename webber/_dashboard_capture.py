"""Printed lines and tracebacks of the runs a dashboard watches, from the
``"webber"`` logger (see ``_dashboard.py``)."""

from __future__ import annotations

import logging
import threading
import traceback
from typing import TYPE_CHECKING

from webber._output import Observer

if TYPE_CHECKING:
    from webber._dashboard_board import Board

__all__ = ["Capture", "traceback_of"]


class Capture(Observer):
    """Printed lines (records with ``stream``) and failures' tracebacks (records
    with ``exc_info``) from the ``"webber"`` logger, into the Boards of the
    runs going on. One for the process, on that logger from the first watched
    run until every dashboard stopped (a handler made, added and removed per
    run cost a short run about as much as the rest of its Board)."""

    _one: Capture | None = None
    _guard = threading.Lock()

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        #: the Boards collecting now (replaced, never changed: emit reads it from any thread)
        self.boards: tuple[Board, ...] = ()

    @classmethod
    def watch(cls, board: Board) -> Capture:
        """Collect for ``board`` from now on (until :meth:`forget`)."""
        with cls._guard:
            if cls._one is None:
                cls._one = cls()
                logging.getLogger("webber").addHandler(cls._one)
            cls._one.boards = (*cls._one.boards, board)
            return cls._one

    def forget(self, board: Board) -> None:
        with self._guard:
            self.boards = tuple(b for b in self.boards if b is not board)

    @classmethod
    def unhook(cls) -> None:
        """Off the logger, unless a run is being watched (every dashboard
        stopped). (Not ``release``: that is logging.Handler's, called after
        each record.)"""
        with cls._guard:
            if cls._one is not None and not cls._one.boards:
                logging.getLogger("webber").removeHandler(cls._one)
                cls._one = None

    def emit(self, record: logging.LogRecord) -> None:
        node = getattr(record, "node", "") or getattr(record, "task", "")
        run = getattr(record, "run", None)
        for board in self.boards:
            # Its run's, when the record says which (two runs of flows with the
            # same ids at once); else the first run watched that has the node.
            if board.plan is not None and node in board.plan.nodes and (
                    run is None or board.run is None or board.run == run):
                break
        else:
            return  # a run no dashboard watches
        stream = getattr(record, "stream", None)
        if stream is not None:
            board.line(node, stream, record.getMessage())
        elif record.exc_info and record.exc_info[1] is not None and node:
            board.tracebacks.append((node, traceback_of(record.exc_info[1])))


def traceback_of(error: BaseException | None) -> str:
    if error is None:
        return ""
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))
