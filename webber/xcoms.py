"""The seed's import path: ``from webber.xcoms import Promise, IterPromise``."""

from webber._promise import IterPromise, Promise

__all__ = ["IterPromise", "Promise"]
