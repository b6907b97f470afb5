"""Which stepper takes the next step: one stepper throughout, or ``auto``'s switching between two.

``auto`` (:class:`Switching`) runs an explicit stepper (DOP853) while the
flow is not stiff and a stiff one (exprb43) once the explicit step is held
at its stability limit, ``h rho > 0.7 * stability``; it goes back to the
explicit stepper when the stiff one stops paying for itself, i.e. once its
step has settled (:data:`SETTLED` steps, no longer growing) and its
evaluations per unit time exceed the explicit stepper's ``12 rho / stability``
(or its step is within the explicit stability limit anyway), and then holds
the explicit stepper for :data:`HOLD` steps.
"""

from __future__ import annotations

from .steppers import Stepper

__all__ = ["Fixed", "Switching", "SETTLED", "HOLD"]

SETTLED = 4  # stiff steps before their cost is compared with the explicit stepper's (a failed try ends after 4)
HOLD = 200  # explicit steps before the stiff stepper may take over again after it gave up
_EXPLICIT_EVALS = 12.0  # evaluations per DOP853 step


class Fixed:
    """One stepper for the whole integration (``method_hint``; benchmarks and tests)."""

    def __init__(self, stepper: Stepper):
        self.first = stepper

    def watches(self, current: Stepper) -> bool:
        """Whether the stiffness estimate is to be refreshed while ``current`` runs: never, nothing reads it."""
        return False

    def before(self, current: Stepper, dt: float, rho: float) -> Stepper:
        """The stepper for the next attempt of size ``dt``."""
        return current

    def after(self, current: Stepper, dt: float, rho: float, factor: float) -> tuple[Stepper, float]:
        """The stepper and step size after an accepted step of ``current`` (``factor``: its step-size factor)."""
        return current, dt


class Switching:
    """``auto``: ``explicit`` while it is not held by stability, ``stiff`` (None: never) once it is.

    Parameters
    ----------
    explicit : Stepper
        With a finite ``stability``.
    stiff : Stepper or None
    """

    def __init__(self, explicit: Stepper, stiff: Stepper | None):
        self.first, self.explicit, self.stiff = explicit, explicit, stiff
        self.hold, self.stiff_steps = 0, 0

    def watches(self, current: Stepper) -> bool:
        """The stiffness estimate decides the switch: refreshed while the explicit stepper runs."""
        return current is self.explicit

    def before(self, current: Stepper, dt: float, rho: float) -> Stepper:
        limit = self.explicit.stability
        if self.stiff is not None and current is self.explicit and self.hold <= 0 and dt * rho > 0.7 * limit:
            return self.stiff  # the explicit step is held at its stability limit: stiff from here on
        return current

    def after(self, current: Stepper, dt: float, rho: float, factor: float) -> tuple[Stepper, float]:
        self.hold -= 1
        self.stiff_steps = self.stiff_steps + 1 if current is not self.explicit else 0
        limit = self.explicit.stability
        # the stiff step has settled when it is limited by accuracy (factor < 5), not still growing
        if current is not self.explicit and self.stiff_steps >= SETTLED and factor < 5.0:
            if current.cost(dt, rho) / dt > _EXPLICIT_EVALS * rho / limit or dt * rho < 0.5 * limit:
                self.hold = HOLD  # the explicit stepper is as cheap here: back to it for a while
                return self.explicit, min(dt, limit / max(rho, 1e-300))
        return current, dt
