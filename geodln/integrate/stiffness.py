"""How stiff the flow is where it is: the spectral radius of ``J = f'(y)``, and ``J`` itself.

For a gradient flow ``J = -H`` is symmetric with real eigenvalues; the fast,
already-converged directions have ``H``-eigenvalues up to ``rho ~ h s_1^{2-2/h}``.
Directional derivatives are differences of the vector field,

    J v ~ (f(y + delta v) - f(y)) / delta,   delta = sqrt(eps) (1 + ||y||) / ||v||,

accurate to about ``1e-8`` relative, which is all a spectral radius (or the
Jacobian of an exponential method, whose remainder term absorbs the
difference) needs. One difference costs one evaluation of ``f``; the exact
Hessian-vector product of :mod:`geodln.dynamics.hessian` costs 3.7 (measured on widths
32^5) and lives above the flow, so the integrator does not use it.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["spectral_radius", "dense_jacobian", "StiffnessWatch"]

_SQRT_EPS = np.sqrt(np.finfo(float).eps)
# Real stability interval per evaluation (beta / stages) of SciPy's explicit methods.
EXPLICIT_STABILITY = {"DOP853": 6.4 / 12, "RK45": 3.3 / 6, "RK23": 2.5 / 3}


def spectral_radius(f, y, fy, v0=None, iters: int = 8, seed: int = 0):
    """Power iteration on ``v -> J v``: ``(rho, v, nfev)``.

    Parameters
    ----------
    f : callable, ``f(y) -> ndarray``, shape=[n]
    y, fy : ndarray, shape=[n]
        The point and ``f(y)``.
    v0 : ndarray, shape=[n], optional
        A warm start (the vector of the previous call): along a trajectory
        the top eigenvector moves slowly, so a few iterations suffice.
    iters : int
        Number of products ``J v``.

    Returns
    -------
    rho : float
        ``max |lambda(J)|`` from below (the Rayleigh ratio of the last iterate; callers add a margin).
    v : ndarray, shape=[n]
        The last unit iterate.
    nfev : int
    """
    if v0 is None or not np.all(np.isfinite(v0)) or not np.any(v0):
        v0 = np.random.default_rng(seed).standard_normal(y.size)
    v = v0 / np.linalg.norm(v0)
    delta = _SQRT_EPS * (1.0 + np.linalg.norm(y))
    rho = 0.0
    for _ in range(iters):
        Jv = (f(y + delta * v) - fy) / delta
        nrm = np.linalg.norm(Jv)
        if not np.isfinite(nrm) or nrm == 0.0:
            break
        rho, v = nrm, Jv / nrm
    return float(rho), v, iters


def dense_jacobian(f, y, fy):
    """The symmetric part of ``J = f'(y)`` by central differences, shape=[n, n], and ``2 n`` evaluations.

    Central differences, ``(f(y + d e_j) - f(y - d e_j)) / 2d`` with
    ``d = eps^(1/3) (1 + |y_j|)``, are accurate to about ``1e-10`` relative.
    """
    n = y.size
    J = np.empty((n, n))
    d = np.cbrt(np.finfo(float).eps) * (1.0 + np.abs(y))
    x = y.copy()
    for j in range(n):
        x[j] = y[j] + d[j]
        fp = f(x)
        x[j] = y[j] - d[j]
        J[:, j] = (fp - f(x)) / (2.0 * d[j])
        x[j] = y[j]
    return 0.5 * (J + J.T), 2 * n


class StiffnessWatch:
    """Watches an explicit solver from inside its right-hand side and says when the flow is stiff.

    Every ``every`` evaluations it estimates ``rho`` (a few differences of
    ``f``) and compares the time the solver advanced with what stability
    alone allows: an explicit method with real stability interval
    ``[-beta, 0]`` and ``k`` stages advances at most ``beta / rho`` per
    ``k`` evaluations. When the solver is within a factor 2 of that bound, the
    step is limited by stability, not accuracy: :attr:`stiff` becomes True
    (once; ``on_stiff(rho, t)`` is called).

    Parameters
    ----------
    f : callable, ``f(y) -> ndarray``
    beta_per_eval : float
        ``beta / k`` of the method (DOP853: 6.4 / 12; RK45: 3.3 / 6; RK23: 2.5 / 3).
    """

    def __init__(self, f, beta_per_eval: float, on_stiff, every: int = 3000):
        self.f, self.beta_per_eval, self.on_stiff, self.every = f, beta_per_eval, on_stiff, every
        self.count, self.t_last, self.v, self.rho, self.stiff = 0, None, None, 0.0, False

    @classmethod
    def for_method(cls, f, method):
        """A watch that warns (``RuntimeWarning``) when ``method``, a SciPy explicit method, meets a stiff flow.

        None for any other method (implicit ones are not limited by stiffness).
        """
        if not isinstance(method, str) or method not in EXPLICIT_STABILITY:
            return None

        def warn(rho, t):
            warnings.warn(f"the flow is stiff from t ~ {t:.4g} on (largest Hessian eigenvalue ~ {rho:.3g}): the "
                          f"explicit method {method} is held at its stability limit and crawls; method='auto' is not",
                          RuntimeWarning, stacklevel=4)

        return cls(f, EXPLICIT_STABILITY[method], warn)

    def see(self, t: float, y, fy) -> None:
        """Record one evaluation ``f(y) = fy`` at time ``t``."""
        self.count += 1
        if self.stiff or self.count % self.every:
            return
        if self.t_last is not None and t > self.t_last:
            rho, self.v, _ = spectral_radius(self.f, y, fy, self.v, iters=6)
            self.rho = rho
            bound = self.beta_per_eval / max(rho, 1e-300)  # time per evaluation that stability allows
            if (t - self.t_last) / self.every > 0.5 * bound and rho * bound < float("inf"):
                self.stiff = True
                self.on_stiff(rho, t)
        self.t_last = t
