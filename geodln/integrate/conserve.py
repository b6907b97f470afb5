"""Keeping conserved quantities along an integration: a generic contract.

A flow may conserve quantities ``Q(y)`` (a vector) that a numerical method
lets drift. :class:`Conservation` holds their start value and, when the drift
exceeds ``tol``, moves the state back with a projection the caller hands in.
The drift is ``max |Q(y) - Q(y0)|`` relative to ``max(1, max |Q(y0)|)``, or,
when the caller says how large the terms of each quantity are
(``magnitudes``: ``|Q_i| <= m_i(y)``, the size its rounding and its
integration errors scale with), componentwise, ``max_i |Q_i(y) - Q_i(y0)| / m_i(y)``:
quantities of size 1e-32 (a network started at 1e-16) are then kept to
``tol`` of themselves, not to ``tol`` absolute, which leaves them free. What ``Q`` is and how to move
onto its level set is the caller's mathematics (for a network: the balances
and the move along the hidden-layer group orbit, :mod:`geodln.symmetry.level`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Conservation", "DRIFT_TOL"]

# The conserved balances are kept to 1e-9 relative along every integration (the design's promise); a move
# is made once the drift passes a tenth of that, so that the drift between two checks (8 explicit steps at
# most) cannot reach the promise. A move costs a few CG iterations and keeps W, so the margin is cheap.
DRIFT_TOL = 1e-10


class Conservation:
    """Conserved quantities of a flow at its start, and the projection back onto their level set.

    Parameters
    ----------
    quantities : callable, ``quantities(y) -> ndarray``, shape=[m]
        The conserved quantities ``Q`` (flattened).
    project : callable, ``project(y) -> ndarray or None``, shape=[n]
        A state near ``y`` with ``Q`` back at ``Q(y0)``: a new array, or None when no such move is found.
    y0 : ndarray, shape=[n]
        The start; its quantities are the level to keep.
    tol : float
        Relative drift allowed before :meth:`restore` moves the state (default :data:`DRIFT_TOL`).
    magnitudes : callable, ``magnitudes(y) -> ndarray``, shape=[m], optional
        Nonnegative bounds ``m_i(y) >= |Q_i(y)|`` by the size of the terms of
        each quantity: the drift is then measured componentwise against them.

    Attributes
    ----------
    n_moves : int
        Projections made so far.
    """

    def __init__(self, quantities, project, y0, tol: float = DRIFT_TOL, magnitudes=None):
        self.quantities, self.project, self.tol, self.magnitudes = quantities, project, tol, magnitudes
        self.q0 = np.asarray(quantities(y0), dtype=float)
        self.scale = max(1.0, float(np.max(np.abs(self.q0), initial=0.0)))
        self.n_moves = 0

    def drift(self, y) -> float:
        """``max |Q(y) - Q(y0)|`` relative to the scale of ``Q(y0)``, or componentwise to ``magnitudes(y)``."""
        gap = np.abs(self.quantities(y) - self.q0)
        if self.magnitudes is None:
            return float(np.max(gap, initial=0.0)) / self.scale
        # a quantity whose terms all vanish has no drift to measure (0 / tiny = 0)
        return float(np.max(gap / np.maximum(self.magnitudes(y), np.finfo(float).tiny), initial=0.0))

    def restore(self, y, force: bool = False):
        """``y`` moved back onto the level set when its drift exceeds ``tol`` (a new array), else ``y`` itself."""
        if not force and self.drift(y) <= self.tol:
            return y
        moved = self.project(y)
        if moved is None:
            return y
        self.n_moves += 1
        return moved
