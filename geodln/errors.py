"""The errors geodln raises for mathematical reasons (bad input stays ``ValueError``/``TypeError``).

Every domain error derives from :class:`GeodlnError`, so a script can catch
them all at once; each also derives from the builtin it refines, so existing
``except ValueError`` / ``except RuntimeError`` clauses keep working.
"""

from __future__ import annotations

__all__ = ["GeodlnError", "DivergenceError", "ClassificationError", "NotCriticalError"]


class GeodlnError(Exception):
    """Base class of the errors geodln raises about the mathematics of a run."""


class DivergenceError(GeodlnError, ValueError):
    """Gradient descent blew up: the step size is too large for this start."""


class ClassificationError(GeodlnError, RuntimeError):
    """The path rule, the published theorem and the Hessian disagree about a critical point."""


class NotCriticalError(GeodlnError, ValueError):
    """A point handed in as critical is not: its gradient is above the tolerance.

    Attributes
    ----------
    grad_norm : float
        ``||dL/dtheta||`` at the point.
    nearest_value : float
        The critical value ``L_J`` of the learnt set ``J`` whose end-to-end map
        ``W_J`` is nearest the point's.
    """

    def __init__(self, message: str, grad_norm: float = float("nan"), nearest_value: float = float("nan")):
        super().__init__(message)
        self.grad_norm, self.nearest_value = grad_norm, nearest_value
