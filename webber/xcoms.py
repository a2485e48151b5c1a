"""webber 0.4.0's import path for Promise: ``from webber.xcoms import Promise``."""

from webber._promise import Promise

__all__ = ["Promise"]
