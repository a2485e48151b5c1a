"""``remember``: the one bound on webber's caches keyed by what programs make."""

from __future__ import annotations

from webber import _hidden
from webber._bounded import remember
from webber.executors import _picklable, _pickling
from webber.executors._sending import took


def test_remember_stores_and_returns_the_value() -> None:
    cache: dict[str, int] = {}
    assert remember(cache, "a", 1, 4) == 1
    assert cache == {"a": 1}


def test_a_full_cache_forgets_all_it_holds_before_a_new_key() -> None:
    cache = {n: n for n in range(3)}
    remember(cache, 1, 10, 3)  # a key it holds: updated, nothing forgotten
    assert cache == {0: 0, 1: 10, 2: 2}
    remember(cache, 3, 3, 3)
    assert cache == {3: 3}


def test_classes_made_on_the_fly_do_not_grow_the_caches_of_classes() -> None:
    for n in range(5000):
        kind = type(f"Made{n}", (), {})
        assert _hidden.looked_into(kind) is False
        assert _picklable._as_dict(kind) is True
        assert _hidden.looked_into(kind) is False  # (read back from the cache)
    assert 0 < len(_hidden.LOOKED) <= 4096 and 0 < len(_hidden._SHAPES) <= 4096
    assert 0 < len(_picklable._AS_DICT) <= 1024
    for n in range(300):
        _pickling._class_of(*_pickling._by_digest(type(f"Sent{n}", (), {}))[1])
    assert len(_pickling._SENT) <= 256 and len(_pickling._RECEIVED) <= 256


def test_the_durations_of_task_names_are_averaged_and_bounded() -> None:
    seconds: dict[str, float] = {}
    took(seconds, "a", 1.0)
    took(seconds, "a", 3.0)
    assert seconds == {"a": 2.0}
    for n in range(5000):
        took(seconds, f"task{n}", 0.5)
    assert len(seconds) <= 4096 and seconds["task4999"] == 0.5
