"""The one-step methods of the ``auto`` integrator for ``dy/dt = f(y)``, and their contract.

Each ``*_step`` function advances one step of size ``dt`` from ``y`` (shape
``[n]``) with ``f0 = f(y)`` known and returns ``(y_new, f_new, err, nfev)``:
the new state, ``f(y_new)`` (reused as the next ``f0``: "first same as last"),
the error estimate (shape ``[n]``, to be scaled by ``atol + rtol |y|``) and the
number of evaluations of ``f`` spent.

- :func:`dop853_step`: Dormand-Prince 8(5,3), explicit, 12 evaluations; its
  real stability interval is about ``[-6.4, 0]``, so on a gradient flow with
  Hessian eigenvalues up to ``rho`` it needs ``dt <= 6.4 / rho``.
- :func:`rkc_step`: the damped second-order Runge-Kutta-Chebyshev method
  (Sommeijer, Shampine, Verwer 1997) with ``s`` stages, stable on
  ``[-0.65 s^2, 0]``: ``s ~ sqrt(dt rho / 0.65)`` evaluations per step instead
  of ``~ 2 dt rho``. The stages are the three-term Chebyshev recurrence.
- :func:`exprb43_step`: the exponential Rosenbrock method of order 4 with an
  embedded order-3 solution (Hochbruck, Ostermann, Schweitzer 2009), for a
  symmetric Jacobian ``J = -H``, whose phi-function products come from a
  dense eigendecomposition or from Lanczos (:mod:`geodln.integrate.krylov`).
  Exact for linear problems, so no step size limit from stiffness at all.

:class:`Stepper` is the contract the integrator's loop sees (a name, an
order, a step, an error norm and a cost); :class:`DOP853`, :class:`RKC`,
:class:`Exprb43Dense` and :class:`Exprb43Lanczos` are its instances, and
:data:`STEPPERS` names them for ``method_hint`` and the stepper test battery.
A new method is one more :class:`Stepper` and one more entry there.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .krylov import EigenPhi, KrylovLimit, LanczosPhi, difference_jv
from .stiffness import dense_jacobian

__all__ = ["dop853_step", "rkc_stages", "rkc_step", "exprb43_step", "DOP853_STABILITY", "RKC_BETA", "Trial",
           "Stepper", "DOP853", "RKC", "Exprb43Dense", "Exprb43Lanczos", "exprb43", "STEPPERS", "DENSE_LIMIT",
           "KRYLOV_FROM"]

DOP853_STABILITY = 6.4  # |dt lambda| at the edge of DOP853's real stability interval (measured)
RKC_BETA = 0.65  # the damped RKC2 with s stages is stable on [-RKC_BETA s^2, 0] (about 0.653 s^2 for eps = 2/13)
_RKC_DAMPING = 2.0 / 13.0


# ------------------------------------------------------------------ DOP853
def _dop853_tables():
    # The Butcher tableau of DOP853 (Hairer, Norsett, Wanner) as scipy ships it:
    # numbers, not code; scipy.integrate is imported on first use (it is slow to import).
    from scipy.integrate._ivp import dop853_coefficients as c

    n = c.N_STAGES
    return c.A[:n, :n].copy(), c.B.copy(), np.vstack([c.E5, c.E3])


_TABLES = None


def dop853_step(f, y, f0, dt, work):
    """One DOP853 step; ``work`` is a float array of shape ``[13, n]`` (the stages).

    The error is Hairer's blend of the order-5 and order-3 estimates,
    ``e5 |e5| / sqrt(|e5|^2 + 0.01 |e3|^2)`` in the scaled norm, returned
    as the pair ``(e5, e3)`` (shape ``[2, n]``): see :func:`dop853_error_norm`.
    """
    global _TABLES
    if _TABLES is None:
        _TABLES = _dop853_tables()
    A, B, E = _TABLES
    K = work
    K[0] = f0
    for s in range(1, 12):
        K[s] = f(y + dt * A[s, :s].dot(K[:s]))
    y_new = y + dt * B.dot(K[:12])
    K[12] = f(y_new)
    return y_new, K[12].copy(), dt * E.dot(K), 12


def dop853_error_norm(err, scale) -> float:
    """The scaled DOP853 error from :func:`dop853_step`'s pair ``(e5, e3)``."""
    e5 = np.dot(err[0] / scale, err[0] / scale)
    e3 = np.dot(err[1] / scale, err[1] / scale)
    if e5 == 0.0:
        return 0.0
    return float(e5 / np.sqrt((e5 + 0.01 * e3) * scale.size))


# --------------------------------------------------------------------- RKC
def rkc_stages(dt: float, rho: float) -> int:
    """The number of stages that makes RKC2 stable for ``dt`` at spectral radius ``rho``."""
    return max(2, int(np.ceil(np.sqrt(1.0 + dt * rho / RKC_BETA))))


def _rkc_coefficients(s: int):
    """Recurrence coefficients ``(mu~_1, [(mu_j, nu_j, mu~_j, gamma~_j) for j = 2..s])``.

    With ``w0 = 1 + eps / s^2`` and Chebyshev polynomials ``T_j``, ``w1 =
    T_s'(w0) / T_s''(w0)``, ``b_j = T_j''(w0) / T_j'(w0)^2`` (``b_0 = b_1 =
    b_2``): ``mu_j = 2 b_j w0 / b_{j-1}``, ``nu_j = -b_j / b_{j-2}``,
    ``mu~_j = 2 b_j w1 / b_{j-1}``, ``gamma~_j = -(1 - b_{j-1} T_{j-1}(w0)) mu~_j``.
    """
    w0 = 1.0 + _RKC_DAMPING / s**2
    T, dT, ddT = np.zeros(s + 1), np.zeros(s + 1), np.zeros(s + 1)
    T[0], T[1], dT[1] = 1.0, w0, 1.0
    for j in range(2, s + 1):
        T[j] = 2 * w0 * T[j - 1] - T[j - 2]
        dT[j] = 2 * T[j - 1] + 2 * w0 * dT[j - 1] - dT[j - 2]
        ddT[j] = 4 * dT[j - 1] + 2 * w0 * ddT[j - 1] - ddT[j - 2]
    w1 = dT[s] / ddT[s]
    b = np.empty(s + 1)
    b[2:] = ddT[2:] / dT[2:] ** 2
    b[0] = b[1] = b[2]
    coeffs = []
    for j in range(2, s + 1):
        mu, nu, mut = 2 * b[j] * w0 / b[j - 1], -b[j] / b[j - 2], 2 * b[j] * w1 / b[j - 1]
        coeffs.append((mu, nu, mut, -(1.0 - b[j - 1] * T[j - 1]) * mut))
    return b[1] * w1, coeffs


_RKC_CACHE: dict = {}


def rkc_step(f, y, f0, dt, s: int):
    """One step of RKC2 with ``s`` stages (``s`` evaluations of ``f``).

    ``Y_0 = y``, ``Y_1 = y + mu~_1 dt f0``, ``Y_j = (1 - mu_j - nu_j) y + mu_j
    Y_{j-1} + nu_j Y_{j-2} + mu~_j dt f(Y_{j-1}) + gamma~_j dt f0``; the
    error estimate is ``(12 (y - y_new) + 6 dt (f0 + f_new)) / 15``.
    """
    if s not in _RKC_CACHE:
        _RKC_CACHE[s] = _rkc_coefficients(s)
    mut1, coeffs = _RKC_CACHE[s]
    prev2, prev = y, y + (mut1 * dt) * f0
    for mu, nu, mut, gat in coeffs:
        nxt = (1.0 - mu - nu) * y + mu * prev + nu * prev2 + (mut * dt) * f(prev) + (gat * dt) * f0
        prev2, prev = prev, nxt
    f_new = f(prev)
    err = (12.0 * (y - prev) + 6.0 * dt * (f0 + f_new)) / 15.0
    return prev, f_new, err, s


# ------------------------------------------------------------ exponential
# Krylov accuracy of the remainders' products, relative to f0's (``weight`` of ``phi.products``):
# measured on 32^5 to T = 3000 against DOP853 at rtol 1e-12, the end point is most sensitive to
# f0's products (the step itself at leading order); D(U2)'s at 3x and D(U3)'s at 10x the
# tolerance move it from 7.5e-10 to 1.3e-9, with 11% fewer Lanczos vectors.
_D2_WEIGHT, _D3_WEIGHT = 1 / 3, 1 / 10


def exprb43_step(f, y, f0, dt, phi):
    """One exprb43 step with the Jacobian ``J`` at ``y`` (3 evaluations of ``f`` plus ``phi``'s products).

    ``phi.products(v, [(tau, k), ...])`` returns ``[phi_k(tau J) v, ...]``
    (:class:`~geodln.integrate.krylov.EigenPhi` or
    :class:`~geodln.integrate.krylov.LanczosPhi`). With
    ``D(U) = f(U) - f0 - J (U - y)``::

        U2 = y + dt/2 phi_1(dt J / 2) f0
        U3 = y + dt phi_1(dt J) (f0 + D(U2))
        y1 = y + dt phi_1 f0 + dt (16 phi_3 - 48 phi_4) D(U2) + dt (12 phi_4 - 2 phi_3) D(U3)

    and the order-3 solution drops the ``phi_4`` terms (their difference is
    the error). ``J (U - y)`` is one Jacobian product (``phi.jacobian``):
    cheaper than the ``phi_0`` products that would give it too, which converge
    last in a Krylov space (measured: 12% fewer Lanczos vectors on 32^5).
    """
    p1_h, p1_f = phi.products(f0, [(0.5 * dt, 1), (dt, 1)])
    a2 = 0.5 * dt * p1_h
    d2 = f(y + a2) - f0 - phi.jacobian(a2)
    p1_2, p3_2, p4_2 = phi.products(d2, [(dt, 1), (dt, 3), (dt, 4)], weight=_D2_WEIGHT)
    a3 = dt * (p1_f + p1_2)
    d3 = f(y + a3) - f0 - phi.jacobian(a3)
    p3_3, p4_3 = phi.products(d3, [(dt, 3), (dt, 4)], weight=_D3_WEIGHT)
    err = dt * (12.0 * p4_3 - 48.0 * p4_2)
    y_new = y + dt * (p1_f + 16.0 * p3_2 - 2.0 * p3_3) + err
    return y_new, f(y_new), err, 3


# ------------------------------------------------------------- the contract
DENSE_LIMIT = 128  # parameters up to which exprb43 takes a dense Jacobian (exact phi functions), Lanczos above
KRYLOV_FROM = 512  # without exact products: Lanczos on differences pays from here (in between: DOP853 throughout)
MAX_RKC_STAGES = 400
_KRYLOV_TOL = 1e-4  # Krylov error of each product, relative to ||atol + rtol |y|||_2
_MAX_KRYLOV = 200  # largest Krylov space; beyond it the step fails and is shortened


class Trial(NamedTuple):
    """One attempted step from ``(t, y)``.

    ``h`` is the step taken (a stepper may shorten the one asked for),
    ``y`` and ``f`` the new state and ``f(y)`` there (shape ``[n]``),
    ``err`` the stepper's raw error estimate (see :meth:`Stepper.error_norm`),
    ``rho`` the spectral radius of the Jacobian at the start when the stepper computed it (else None).
    """

    h: float
    y: np.ndarray
    f: np.ndarray
    err: np.ndarray
    rho: float | None = None


class Stepper:
    """A one-step method with an error estimate: what the integrator's loop needs to know of it.

    Parameters
    ----------
    f : callable, ``f(y) -> ndarray``, shape=[n]
        The vector field (the loop hands a counted one).
    rtol : float
    atol : float or ndarray, shape=[n]
        The tolerances of the scaled error norm (``auto`` hands a per-component
        ``atol``, :func:`geodln.integrate.auto.component_atol`).

    Attributes
    ----------
    name : str
        The key of its accepted steps (``Solution.steps``).
    order : float
        The order of the method (global error ``O(h^order)``); step sizes scale by ``enorm^(-1/order)``.
    estimate_order : float
        The power of ``h`` that its error norm scales with at small ``h``.
    max_growth : float
        The largest factor the step may grow by after an accepted step.
    project_every : int
        Accepted steps between two checks of the conserved level (errors that drift it grow per step).
    stability : float
        ``|h lambda|`` at the edge of the real stability interval (``inf``: none).
    njev : int
        Jacobians computed so far.
    dims : list of int
        Krylov dimensions of its phi products so far.
    """

    name = ""
    order = 1.0
    estimate_order = 2.0
    max_growth = 5.0
    project_every = 1
    stability = float("inf")

    def __init__(self, f, rtol: float, atol: float):
        self.f, self.rtol, self.atol = f, rtol, atol
        self.njev, self.dims = 0, []

    def step(self, y, f0, h: float, rho: float) -> Trial:
        """One step of size ``h`` from ``y`` (with ``f0 = f(y)``; ``rho`` the current stiffness estimate)."""
        raise NotImplementedError

    def error_norm(self, trial: Trial, y) -> float:
        """The scaled RMS norm of ``trial.err`` with the weights ``atol + rtol max(|y|, |y_new|)``; inf off the reals."""
        if not np.all(np.isfinite(trial.y)):
            return np.inf
        scale = self.atol + self.rtol * np.maximum(np.abs(y), np.abs(trial.y))
        return float(np.sqrt(np.mean((trial.err / scale) ** 2)))

    def cost(self, h: float, rho: float) -> float:
        """Evaluations of ``f`` (or their equivalent) per step of size ``h`` at stiffness ``rho``."""
        raise NotImplementedError

    def moved(self) -> None:
        """A step was accepted: drop what was computed at the old state."""


class DOP853(Stepper):
    """Dormand-Prince 8(5,3) (:func:`dop853_step`), explicit: stable for ``h rho <= 6.4``."""

    name, order, max_growth, project_every, stability = "dop853", 8.0, 10.0, 8, DOP853_STABILITY
    # Hairer's blend e5^2 / sqrt(e5^2 + 0.01 e3^2) of local estimates O(h^6) and O(h^4) scales like h^8
    estimate_order = 8.0
    _work = None  # the stages, shape=[13, n], allocated at the first step

    def step(self, y, f0, h, rho):
        if self._work is None or self._work.shape[1] != y.size:
            self._work = np.empty((13, y.size))
        y_new, f_new, err, _ = dop853_step(self.f, y, f0, h, self._work)
        return Trial(h, y_new, f_new, err)

    def error_norm(self, trial, y):
        """Hairer's blend of the order-5 and order-3 estimates (:func:`dop853_error_norm`)."""
        scale = self.atol + self.rtol * np.maximum(np.abs(y), np.abs(trial.y))
        return dop853_error_norm(trial.err, scale) if np.all(np.isfinite(trial.y)) else np.inf

    def cost(self, h, rho):
        return 12.0


class RKC(Stepper):
    """Damped RKC2 (:func:`rkc_step`) with as many stages as stability needs, at most :data:`MAX_RKC_STAGES`.

    With the stages capped the step is shortened to what ``MAX_RKC_STAGES`` stages keep stable (5% margin).
    """

    name, order = "rkc", 2.0
    estimate_order = 3.0  # the local error of a second-order method (the step control's 1/2 is cautious)

    def step(self, y, f0, h, rho):
        s = min(rkc_stages(h, rho), MAX_RKC_STAGES)
        if s == MAX_RKC_STAGES:
            h = min(h, MAX_RKC_STAGES**2 * RKC_BETA / max(rho, 1e-300) * 0.95)
        y_new, f_new, err, _ = rkc_step(self.f, y, f0, h, s)
        return Trial(h, y_new, f_new, err)

    def cost(self, h, rho):
        return float(rkc_stages(h, rho))


class _Exprb43(Stepper):
    """exprb43 (:func:`exprb43_step`) with the phi products of :meth:`_phi` at the step's start."""

    name, order = "exprb43", 4.0
    estimate_order = 4.0  # the local error of the embedded third-order solution

    def __init__(self, f, rtol, atol, jvp=None):
        super().__init__(f, rtol, atol)
        self.jvp = jvp  # jvp(y) -> (u -> J u) exact, or None: differences of f
        self._cost = 0.0
        self._eigen = self._rho = None

    def step(self, y, f0, h, rho):
        try:
            phi, rho_here = self._phi(y, f0, self.atol + self.rtol * np.abs(y))
        except np.linalg.LinAlgError:  # a Jacobian that is not finite: the field overflows near y
            nan = np.full(y.size, np.nan)
            return Trial(h, nan, nan, nan)
        try:
            y_new, f_new, err, _ = exprb43_step(self.f, y, f0, h, phi)
        except KrylovLimit:
            y_new = err = f_new = np.full(y.size, np.nan)
        self.dims.extend(phi.dims)
        self._cost = 3 + 2 * self._products(y.size, phi)
        return Trial(h, y_new, f_new, err, rho_here)

    def cost(self, h, rho):
        """The last step's: 3 evaluations and two Jacobian products per vector of its Jacobian or Krylov spaces."""
        return self._cost


class Exprb43Dense(_Exprb43):
    """exprb43 with the symmetric Jacobian's eigendecomposition: phi functions exact to rounding.

    The Jacobian is ``jvp(y)`` applied to the identity (symmetrised) or ``2 n``
    central differences of ``f``; it is kept across rejected steps and dropped by :meth:`moved`.
    """

    def _phi(self, y, f0, scale):
        if self._eigen is None:
            J = dense_jacobian(self.f, y, f0)[0] if self.jvp is None else _dense(self.jvp(y), y.size)
            lam, Q = np.linalg.eigh(-J)
            self.njev += 1
            self._eigen = EigenPhi(lam, Q)
            self._rho = float(np.max(np.abs(lam))) if lam.size else 0.0
        return self._eigen, self._rho

    def _products(self, n, phi):
        # a batch of n exact products costs about n / 8 evaluations (BLAS-3); differences cost n
        return n if self.jvp is None else max(1, n // 8)

    def moved(self):
        self._eigen = None


class Exprb43Lanczos(_Exprb43):
    """exprb43 with Lanczos phi products (:class:`~geodln.integrate.krylov.LanczosPhi`).

    Each call of a step guesses its Krylov dimension from the same call of
    the last step. ``reorthogonalize`` as in :class:`LanczosPhi` (needed with differences).
    """

    def __init__(self, f, rtol, atol, jvp=None, reorthogonalize: bool = True):
        super().__init__(f, rtol, atol, jvp)
        self.reorthogonalize, self._last_dims = reorthogonalize, []

    def _phi(self, y, f0, scale):
        jv = difference_jv(self.f, y) if self.jvp is None else self.jvp(y)
        phi = LanczosPhi(jv, _KRYLOV_TOL * float(np.linalg.norm(scale)), _MAX_KRYLOV, guesses=self._last_dims,
                         reorthogonalize=self.reorthogonalize)
        self._last_dims = phi.dims  # filled by the step's calls
        return phi, None

    def _products(self, n, phi):
        return sum(phi.dims) + 2


def _dense(jv, n: int) -> np.ndarray:
    """The symmetric Jacobian ``[J e_1, ..., J e_n]`` from one batch of exact products, shape=[n, n]."""
    J = jv(np.eye(n))
    return 0.5 * (J + J.T)


def exprb43(f, n: int, rtol: float, atol: float, jvp=None) -> _Exprb43:
    """exprb43 for ``n`` unknowns: dense up to :data:`DENSE_LIMIT`, Lanczos above.

    Lanczos reorthogonalises below :data:`KRYLOV_FROM` and on differences
    (cheap there, and differences need it), not on exact products above.
    """
    if n <= DENSE_LIMIT:
        return Exprb43Dense(f, rtol, atol, jvp)
    return Exprb43Lanczos(f, rtol, atol, jvp, reorthogonalize=jvp is None or n < KRYLOV_FROM)


# The geodln steppers by name: factories ``(f, n, rtol, atol, jvp) -> Stepper``.
STEPPERS = {
    "dop853": lambda f, n, rtol, atol, jvp=None: DOP853(f, rtol, atol),
    "rkc": lambda f, n, rtol, atol, jvp=None: RKC(f, rtol, atol),
    "exprb43": exprb43,
}
