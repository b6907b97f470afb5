"""The errors geodln raises for mathematical reasons (bad input stays ``ValueError``/``TypeError``).

Every domain error derives from :class:`GeodlnError`, so a script can catch
them all at once; each also derives from the builtin it refines, so existing
``except ValueError`` / ``except RuntimeError`` clauses keep working.
"""

from __future__ import annotations

__all__ = ["GeodlnError", "DivergenceError", "ClassificationError"]


class GeodlnError(Exception):
    """Base class of the errors geodln raises about the mathematics of a run."""


class DivergenceError(GeodlnError, ValueError):
    """Gradient descent blew up: the step size is too large for this start."""


class ClassificationError(GeodlnError, RuntimeError):
    """The path rule, the published theorem and the Hessian disagree about a critical point."""
