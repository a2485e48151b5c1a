"""A keyword a function does not take (a misspelled option), told with the
closest one it takes.

``flow.run(exector="threads")`` or ``@task(retires=2)`` raised Python's
``TypeError: got an unexpected keyword argument``, which names neither the
option meant nor the ones there are. :func:`tells_keywords` wraps a function
so that such a call raises :class:`~webber.OptionError` (still a
``TypeError``) saying both. A call that binds costs one more frame; the
signature is read only for a call that does not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from webber._errors import OptionError

__all__ = ["tells_keywords"]

F = TypeVar("F", bound=Callable[..., Any])


def tells_keywords(kind: str) -> Callable[[F], F]:
    """A decorator: a keyword the function does not take raises OptionError,
    naming it as one of its ``kind`` ("option", "setting")."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except TypeError as error:
                trace = error.__traceback__
                if not kwargs or trace is None or trace.tb_next is not None:
                    raise  # raised inside the function, not by the call's binding
                told = _told(func, args, kwargs, kind)
                if told is None:
                    raise
                raise OptionError(told) from None

        return call  # type: ignore[return-value]

    return decorate


def _told(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
          kind: str) -> str | None:
    import difflib
    import inspect

    parameters = inspect.signature(func).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return None
    names = [name for name, p in parameters.items()
             if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and name != "self"]
    unknown = [key for key in kwargs if key not in names]
    if not unknown:
        return None
    key = unknown[0]
    close = difflib.get_close_matches(key, names, n=1)
    owner = args[0] if args and hasattr(args[0], "name") and hasattr(args[0], "run") else None
    where = "" if owner is None else f"{type(owner).__name__} {owner.name!r}: "
    meant = f"did you mean {close[0]}=? " if close else ""
    return (f"{where}{func.__name__}() takes no {key}=; {meant}its {kind}s: "
            f"{', '.join(f'{name}=' for name in names)}")
