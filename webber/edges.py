"""webber 0.4.0's import path for edge conditions: ``from webber.edges import Condition``."""

from webber._graph import Condition

__all__ = ["Condition"]
