"""Products ``phi_k(tau J) v`` for the exponential method, with a dense or a Krylov Jacobian.

The exponential Rosenbrock step (:func:`~geodln.integrate.steppers.exprb43_step`)
needs a few products ``phi_k(tau J) v`` of the phi functions
(``phi_0(z) = e^z``, ``phi_k(z) = sum_j z^j / (j + k)!``) of the symmetric
Jacobian ``J = -H``. Two ways to get them, behind one call
``products(v, pairs) -> [phi_k(tau J) v for (tau, k) in pairs]``:

- :class:`EigenPhi`: ``J = -Q diag(lam) Q^T`` known densely (small networks);
- :class:`LanczosPhi`: only products ``J u``, exact
  (:class:`geodln.dynamics.hessian.HessianOperator`, what the flow hands the
  integrator) or central differences of ``f``.
  Lanczos builds an orthonormal basis ``V_m`` of the Krylov space
  ``span{v, Jv, ..., J^{m-1} v}`` with ``V_m^T J V_m = T_m`` tridiagonal, and
  ``phi_k(tau J) v ~ ||v|| V_m phi_k(tau T_m) e_1`` (Hochbruck, Lubich,
  Selhofer 1998). The error is estimated as ``||v|| beta_{m+1} tau |e_m^T
  phi_{k+1}(tau T_m) e_1|`` (Saad 1992), checked at ``m = 4, 6, 8, 10, 12,
  15, ...`` (from 0.9 times the previous step's dimension on); the space
  grows until every requested product is within the tolerance. Measured on 32^5 at ``tau ||J|| ~ 2600``: the estimate is within
  a factor 2-4 of the true error, and ``m ~ 50-80`` vectors are needed (of
  the order of ``sqrt(tau ||J||)``). Near convergence ``v`` (a gradient or a
  remainder of the step) is tiny and one or two vectors suffice: an
  absolute tolerance makes the converged phase of a flow nearly free.
"""

from __future__ import annotations

import numpy as np

__all__ = ["phi_values", "EigenPhi", "LanczosPhi", "KrylovLimit"]

MAX_DIM = 120
"""The largest Krylov space of a phi product (the basis of ``MAX_DIM`` vectors of ``n`` is the stiff method's
largest array)."""


class KrylovLimit(ArithmeticError):
    """The Krylov space reached its largest allowed dimension before the products were accurate."""


def phi_values(z, kmax: int):
    """``[phi_0(z), ..., phi_kmax(z)]`` elementwise (``phi_0 = exp``).

    A Taylor series for ``|z| < 1`` (no cancellation; 18 terms, one matrix
    product for every ``k``), else the recurrence ``phi_k(z) = (phi_{k-1}(z) - 1/(k-1)!) / z``.
    """
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 1.0
    series = np.where(small, z, 0.0)[..., None] ** np.arange(_TERMS) @ _series_table(kmax)
    zl = np.where(small, 1.0, z)
    out = [np.exp(np.minimum(z, 700.0))]
    fact = 1.0  # (k - 1)!
    for k in range(1, kmax + 1):
        out.append(np.where(small, series[..., k], (out[-1] - 1.0 / fact) / zl))
        fact *= k
    return out


_TERMS = 18
_TABLES: dict = {}


def _series_table(kmax: int):
    """``C[j, k] = 1 / (j + k)!``, shape=[_TERMS, kmax + 1]: ``phi_k(z) = sum_j z^j C[j, k]``."""
    if kmax not in _TABLES:
        fact = np.cumprod(np.concatenate([[1.0], np.arange(1.0, _TERMS + kmax + 1)]))
        _TABLES[kmax] = 1.0 / fact[np.add.outer(np.arange(_TERMS), np.arange(kmax + 1))]
    return _TABLES[kmax]


class EigenPhi:
    """``phi_k(tau J) v = Q phi_k(-tau lam) Q^T v`` for ``J = -Q diag(lam) Q^T``.

    Parameters
    ----------
    lam : ndarray, shape=[n]
        Eigenvalues of ``-J`` (the Hessian).
    Q : ndarray, shape=[n, n]
        Orthonormal eigenvectors.
    """

    def __init__(self, lam, Q):
        self.lam, self.Q = lam, Q
        self.dims = []

    def jacobian(self, v):
        """``J v``."""
        return -self.Q.dot(self.lam * self.Q.T.dot(v))

    def products(self, v, pairs, weight: float = 1.0):
        """``[phi_k(tau J) v for (tau, k) in pairs]``, exact to rounding (``weight`` is for :class:`LanczosPhi`)."""
        w = self.Q.T.dot(v)
        cache = {}
        out = []
        for tau, k in pairs:
            if tau not in cache:
                cache[tau] = phi_values(-tau * self.lam, 4)
            out.append(self.Q.dot(cache[tau][k] * w))
        return out


class LanczosPhi:
    """Krylov products ``phi_k(tau J) v`` from Jacobian-vector products alone.

    Parameters
    ----------
    jv : callable, ``jv(u) -> J u``, shape=[n]
        The Jacobian (symmetric) applied to a unit vector.
    tol : float
        Absolute 2-norm accuracy of each product ``tau phi_k(tau J) v``
        (the step multiplies the products by ``tau``).
    max_dim : int
        Largest Krylov dimension; beyond it :class:`KrylovLimit` is raised (the caller shortens the step).
    guesses : sequence of int, optional
        The dimensions the previous step's calls needed, in call order: call
        ``k`` checks its error first at ``0.9 guesses[k]`` (each check costs an
        eigendecomposition of the tridiagonal matrix; a step needs about what the last one did).
    reorthogonalize : bool
        Orthogonalize each new vector against the whole basis (``O(m n)``
        each): needed when ``jv`` is a finite difference, whose ~1e-10 noise
        spoils the basis within tens of vectors. With exact products the plain
        three-term recurrence is kept: its loss of orthogonality only delays
        convergence of ``phi(tau T) e_1`` (Druskin, Greenbaum, Knizhnerman
        1998), measured: the same dimensions and end points to 2e-12 on 32^5.
        Where a call's plain recurrence fills its largest space unconverged
        (the delay depends on the rounding, so on the BLAS build), the call is
        redone with reorthogonalisation.

    Attributes
    ----------
    dims : list of int
        The dimension each call needed (for the step-size choice and for reports).
    """

    def __init__(self, jv, tol: float, max_dim: int = MAX_DIM, guesses=(), reorthogonalize: bool = True):
        self.jv, self.tol, self.max_dim, self.guesses = jv, tol, max_dim, list(guesses)
        self.reorthogonalize = reorthogonalize
        self.dims = []

    def jacobian(self, v):
        """``J v``."""
        return self.jv(v)

    def products(self, v, pairs, weight: float = 1.0):
        """``[phi_k(tau J) v for (tau, k) in pairs]``, each ``tau phi_k(tau J) v`` to ``tol / weight``."""
        beta0 = float(np.linalg.norm(v))
        taus = max(tau for tau, _ in pairs)
        tol = self.tol / weight
        if beta0 * taus <= tol or not np.isfinite(beta0):
            self.dims.append(0)
            # phi_k(tau J) v = v / k! + O(tau ||J|| ||v||): below the tolerance either way
            return [v * (1.0 if k == 0 else 1.0 / _factorial(k)) for _, k in pairs]
        call = len(self.dims)
        guess = self.guesses[call] if call < len(self.guesses) else None
        found = self._lanczos(v, beta0, pairs, tol, guess, self.reorthogonalize)
        if found is None and not self.reorthogonalize:
            # the plain recurrence lost orthogonality before its estimate passed (at the size of the whole
            # space, where it cannot grow: seen under one BLAS build and not another): redo this call with
            # the basis kept orthogonal, which converges wherever the exact Lanczos process does
            found = self._lanczos(v, beta0, pairs, tol, guess, True)
        if found is None:
            self.dims.append(min(self.max_dim, v.size))
            raise KrylovLimit(f"the Krylov space reached {min(self.max_dim, v.size)} vectors before phi(tau J) v "
                              "was accurate")
        m, products = found
        self.dims.append(m)
        return products

    def _lanczos(self, v, beta0, pairs, tol, guess, reorthogonalize):
        """``(dimension, products)`` of one Lanczos run, or None when it reached its largest space unconverged."""
        n = v.size
        size = min(self.max_dim, n)
        V = np.empty((size + 1, n))
        V[0] = v / beta0
        alpha, beta = [], []
        check = max(4, int(0.9 * guess)) if guess else 4
        for j in range(size):
            w = self.jv(V[j])
            a = float(w.dot(V[j]))
            w = w - a * V[j] - (beta[-1] * V[j - 1] if j else 0.0)
            # once Ritz values converge, the noise of difference products makes the basis lose
            # orthogonality (ghost eigenvalues, a space that never closes): one more Gram-Schmidt pass
            # against the whole basis keeps it
            if reorthogonalize:
                w -= (V[: j + 1] @ w) @ V[: j + 1]
            b = float(np.linalg.norm(w))
            alpha.append(a)
            beta.append(b)
            m = j + 1
            happy = b <= 1e-12 * max(1.0, abs(a))
            if m >= check or happy or m == size:
                coeffs, err = _tridiagonal_phi(alpha, beta, pairs)
                if happy or beta0 * err <= tol:
                    return m, [beta0 * c.dot(V[:m]) for c in coeffs]
                check = m + max(2, m // 4)
            V[j + 1] = w / b
        return None


def _factorial(k: int) -> float:
    return float(np.prod(np.arange(1, k + 1))) if k else 1.0


def _tridiagonal_phi(alpha, beta, pairs):
    """``phi_k(tau T) e_1`` for the Lanczos matrix ``T`` and the largest error estimate (relative to ``||v||``).

    The estimate of ``tau phi_k(tau J) v`` is ``beta_m tau^2 |e_m^T phi_{k+1}(tau T) e_1|``.
    """
    from scipy.linalg import eigh_tridiagonal  # on first use (scipy.linalg is slow to import)

    m = len(alpha)
    mu, S = eigh_tridiagonal(np.asarray(alpha), np.asarray(beta[: m - 1])) if m > 1 else (np.array(alpha), np.ones((1, 1)))
    cache, kmax = {}, max(k for _, k in pairs) + 1  # the error estimate of phi_k needs phi_{k+1}
    coeffs, err = [], 0.0
    for tau, k in pairs:
        if tau not in cache:
            cache[tau] = phi_values(tau * mu, kmax)
        ph = cache[tau]
        coeffs.append(S.dot(ph[k] * S[0]))
        err = max(err, beta[m - 1] * tau * tau * abs(S[-1].dot(ph[k + 1] * S[0])))
    return coeffs, err


def difference_jv(f, y):
    """``u -> (f(y + d u) - f(y - d u)) / 2d``, ``d = eps^(1/3) (1 + ||y||) / ||u||``: ``J u`` to about 1e-10 relative.

    Central differences (2 evaluations): the one-sided difference, accurate to
    only ~1e-8, leaves a noise in the step's error estimate that holds long steps back.
    """
    scale = np.cbrt(np.finfo(float).eps) * (1.0 + float(np.linalg.norm(y)))

    def jv(u):
        d = scale / max(float(np.linalg.norm(u)), 1e-300)
        return (f(y + d * u) - f(y - d * u)) / (2.0 * d)

    return jv
