"""The limits a store is pruned to: ``"5GB"``, ``"7d"`` or numbers, as the
CLI (``cache prune --max-size/--older-than``) and :meth:`Cache.prune
<webber.Cache.prune>` take them."""

from __future__ import annotations

import re
from collections.abc import Callable

from webber._errors import CacheError

__all__ = ["parse_age", "parse_size", "prune_limits"]

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
          "tib": 2**40}
_AGES = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_size(text: str) -> int:
    """``"5GB"`` -> 5_000_000_000 (also B, KB, MB, TB and KiB, MiB, GiB).

    >>> parse_size("5GB"), parse_size("512 MiB")
    (5000000000, 536870912)
    """
    match = re.fullmatch(r"\s*([0-9]+\.?[0-9]*|\.[0-9]+)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a size; write e.g. 500MB, 5GB or 1.5GiB")
    return int(float(match.group(1)) * _UNITS[unit])


def parse_age(text: str) -> float:
    """``"7d"`` -> seconds (units s, m, h, d, w); ``"0"``, the one age that
    needs no unit, is 0 (``--older-than 0``: every entry).

    >>> parse_age("7d"), parse_age("90m"), parse_age("0")
    (604800.0, 5400.0, 0.0)
    """
    match = re.fullmatch(r"\s*([0-9]+\.?[0-9]*|\.[0-9]+)\s*([smhdw]?)\s*", text)
    # (any other number without a unit is refused: is "7" seconds or days?)
    if match is None or not (match.group(2) or float(match.group(1)) == 0):
        raise ValueError(f"{text!r} is not an age; write e.g. 30m, 12h, 7d or 2w (or 0)")
    return float(match.group(1)) * _AGES.get(match.group(2), 1)


def prune_limits(max_size: float | str | None, older_than: float | str | None
                 ) -> tuple[float | None, float | None]:
    """``Cache.prune()``'s arguments as bytes and seconds; CacheError naming
    the one that is unusable.

    >>> prune_limits("5GB", 3600)
    (5000000000, 3600)
    """
    if max_size is None and older_than is None:
        raise CacheError(
            "Cache.prune() needs max_size and/or older_than (else it would remove "
            "nothing); e.g. prune(max_size=\"5GB\") or prune(older_than=\"7d\")"
        )
    return (_limit("max_size", max_size, parse_size, "bytes", "500MB or 5GB"),
            _limit("older_than", older_than, parse_age, "seconds", "12h or 7d"))


def _limit(name: str, value: float | str | None, parse: Callable[[str], float], unit: str,
           examples: str) -> float | None:
    if isinstance(value, str):
        try:
            return parse(value)
        except ValueError as e:
            raise CacheError(f"Cache.prune({name}={value!r}): {e}") from None
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)
                         and value >= 0):
        return value
    raise CacheError(
        f"Cache.prune({name}={value!r}): give a number of {unit} >= 0, or a text "
        f"such as {examples}"
    )
