"""Log records of tasks in worker processes, handled by the caller's logging.

A task that logs (``logging.getLogger(__name__).info(...)``) in a worker
process would otherwise meet a logging with no configuration: INFO records
dropped, WARNING ones printed bare by logging's last resort. A worker's root
logger instead has one handler that sends each record, as JSON, along the
worker's output lines (so in order with what the task prints); the caller
hands it to its own logger of that name, as if the task had run there. The
worker's log levels are the caller's (the root's, and those of the loggers
given one of their own: ``executors/_caller``), so a record the caller would
drop is not sent, and one it would take is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from webber._output import current_task

__all__ = ["STREAM", "forward", "handle"]

#: the stream of a worker's output line that is a log record
STREAM = "log"

#: LogRecord attributes sent (the rest: made anew by the caller's makeLogRecord)
_FIELDS = ("name", "levelno", "levelname", "pathname", "filename", "module", "lineno",
           "funcName", "created", "msecs", "thread", "threadName", "process", "processName")


#: what webber's own records of task output carry (``_output.emit_line``)
_WEBBER = ("task", "node", "stream")


class _Forward(logging.Handler):
    def __init__(self, emit: Callable[[str, str, str, str], None]) -> None:
        super().__init__()
        self.send = emit
        self.exceptions = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Any] = {k: getattr(record, k, None) for k in _FIELDS}
            fields["msg"] = record.getMessage()
            # A line of a flow run inside this task (on processes of its own)
            # reaches this worker's logging as a record that names its task:
            # that name, not this task's, is the line's (it arrived on a pool
            # thread, outside any task, and was logged nameless).
            fields.update({k: v for k in _WEBBER if (v := getattr(record, k, None)) is not None})
            if record.exc_info:
                fields["exc_text"] = self.exceptions.formatException(record.exc_info)
            if record.stack_info:
                fields["stack_info"] = record.stack_info
            import json  # (here: a worker starts 3 ms sooner without it; records are rare)

            task, node = current_task()
            self.send(task, json.dumps(fields, default=str), STREAM, node)
        except Exception:
            self.handleError(record)


def forward(emit: Callable[[str, str, str, str], None]) -> None:
    """(In a worker) send every record that reaches the root logger to the caller."""
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    root.addHandler(_Forward(emit))


def handle(line: str, task: str, node: str) -> None:
    """(In the caller) a worker's record, to the caller's logger of its name."""
    import json

    fields = json.loads(line)
    target = logging.getLogger(fields["name"])
    if target.isEnabledFor(fields["levelno"]):
        fields["args"] = None
        fields.setdefault("task", task)
        fields.setdefault("node", node)
        target.handle(logging.makeLogRecord(fields))
