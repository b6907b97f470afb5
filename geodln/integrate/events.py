"""Events for :func:`~geodln.integrate.solve_auto`: where a scalar function of the state crosses zero.

An event is a callable ``g(t, y)`` with SciPy's optional attributes
``terminal`` (stop the integration at the first zero) and ``direction``
(``+1``: only zeros where ``g`` rises, ``-1``: where it falls, ``0``: both).
After every accepted step the events are evaluated; a sign change over the
step ``[t_a, t_b]`` is a zero inside it, which is then located by the
Illinois variant of regula falsi on ``tau -> g(tau, y(tau))``. The state
``y(tau)`` comes from integrating the flow again from the left end of the
current bracket, which moves right as the bracket shrinks, so every trial
integrates only across the bracket. The zero is found to ``4 eps |t|``
in time (or ``g`` to rounding), as SciPy's root finding on its dense output.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EventWatch"]

_MAX_TRIALS = 100  # Illinois steps per zero (it converges superlinearly: about ten are typical)


class EventWatch:
    """The events of one integration: their last values, and the zeros found so far.

    Parameters
    ----------
    events : list of callables
        ``g(t, y) -> float``, with optional ``terminal`` and ``direction``.
    t0 : float
    y0 : ndarray, shape=[n]
        The start, where each ``g`` is first evaluated.

    Attributes
    ----------
    t_events : list of list of float
        Per event, the times of its zeros.
    y_events : list of list of ndarray
        Per event, the states at those times.
    """

    def __init__(self, events, t0: float, y0: np.ndarray):
        self.events = list(events)
        for g in self.events:
            if not callable(g):
                raise TypeError(f"an event must be a callable g(t, y), got {type(g).__name__}")
        self.terminal = [bool(getattr(g, "terminal", False)) for g in self.events]
        self.direction = [float(getattr(g, "direction", 0.0)) for g in self.events]
        self.values = [float(g(t0, y0)) for g in self.events]
        self.t_events = [[] for _ in self.events]
        self.y_events = [[] for _ in self.events]

    def step(self, t_a: float, y_a: np.ndarray, t_b: float, y_b: np.ndarray, advance) -> tuple | None:
        """Record the zeros inside the accepted step ``[t_a, t_b]``.

        Parameters
        ----------
        advance : callable, ``advance(y, t, t_next) -> ndarray``
            The state at ``t_next`` of the flow started at ``(t, y)``.

        Returns
        -------
        (float, ndarray) or None
            The first terminal zero ``(t, y(t))``: the integration ends there.
        """
        new = [float(g(t_b, y_b)) for g in self.events]
        found = []
        for i, (before, after) in enumerate(zip(self.values, new)):
            up, down = before < 0 <= after, before > 0 >= after
            if (up and self.direction[i] >= 0) or (down and self.direction[i] <= 0):
                found.append((*self._locate(i, t_a, y_a, before, t_b, after, advance), i))
        self.values = new
        for t, y, i in sorted(found, key=lambda item: item[0]):
            self.t_events[i].append(t)
            self.y_events[i].append(y)
            if self.terminal[i]:
                return t, y
        return None

    def _locate(self, i, t_a, y_a, g_a, t_b, g_b, advance):
        """The zero of event ``i`` between ``t_a`` (value ``g_a``) and ``t_b`` (``g_b``), and the state there."""
        g = self.events[i]
        y_b, side = None, 0
        for _ in range(_MAX_TRIALS):
            if t_b - t_a <= 4 * np.finfo(float).eps * max(1.0, abs(t_b)):
                break
            tau = (t_a * g_b - t_b * g_a) / (g_b - g_a)
            tau = min(max(tau, t_a + 0.01 * (t_b - t_a)), t_b - 0.01 * (t_b - t_a))  # inside the bracket
            y_tau = advance(y_a, t_a, tau)
            g_tau = float(g(tau, y_tau))
            if g_tau == 0.0:
                return tau, y_tau
            if (g_tau > 0) == (g_a > 0):  # the zero lies in [tau, t_b]
                t_a, y_a, g_a = tau, y_tau, g_tau
                g_b, side = (0.5 * g_b, -1) if side == -1 else (g_b, -1)  # Illinois: halve a stuck end
            else:
                t_b, y_b, g_b = tau, y_tau, g_tau
                g_a, side = (0.5 * g_a, 1) if side == 1 else (g_a, 1)
        if y_b is None:
            y_b = advance(y_a, t_a, t_b)
        return t_b, y_b
