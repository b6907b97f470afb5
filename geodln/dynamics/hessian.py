"""Second order: the exact Hessian of the loss in the packed weights (:mod:`geodln.dynamics.hessian_product`), and its inertia.

Inertia: eigenvalues with ``|lambda| <= tol`` count as zero, where
``tol = rtol * max(max |lambda|, scale)`` (``rtol`` = ``Tolerances.inertia``, 1e-8 by default):
relative to the spectrum, floored by the problem's own scale (``s_1^{2-2/h}``
for data of scale ``s_1``) where the Hessian vanishes and only rounding is
left, so that the counts do not change when the data are scaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .flow import GradientFlow
from .hessian_product import hessian, hessian_vector_product
from ..symmetry import horizontal_basis, vertical_basis
from ..tolerances import DEFAULT_TOLERANCES

__all__ = ["hessian_vector_product", "hessian", "horizontal_hessian", "Inertia", "inertia", "lanczos_extremes"]


def horizontal_hessian(flow: GradientFlow, theta, H=None) -> tuple[np.ndarray, np.ndarray]:
    """The Hessian restricted to the horizontal space, the orthogonal complement of the fiber.

    The loss is constant on the orbit of the hidden-layer group, so the
    vertical space ``{[Xi, A]}`` lies in the Hessian's kernel at a critical
    point; what the Hessian says about the landscape lives on its complement.

    Parameters
    ----------
    theta : array-like, shape=[n_params]
    H : ndarray, shape=[n_params, n_params], optional
        The dense Hessian at ``theta``, if already computed.

    Returns
    -------
    H_h : ndarray, shape=[k, k]
        ``Q_h^T H Q_h``, with ``k = n_params - orbit_dim``.
    Q_h : ndarray, shape=[n_params, k]
        An orthonormal basis of the horizontal space.
    """
    Qh = horizontal_basis(vertical_basis(flow.top, theta))
    H = hessian(flow, theta) if H is None else H
    return Qh.T @ H @ Qh, Qh


@dataclass(frozen=True)
class Inertia:
    """Counts of negative, zero and positive eigenvalues, and the extremes.

    Attributes
    ----------
    negative, zero, positive : int
    min, max : float
        Smallest and largest eigenvalue.
    tol : float
        The threshold under which ``|lambda|`` counted as zero.
    """

    negative: int
    zero: int
    positive: int
    min: float
    max: float
    tol: float

    def as_dict(self) -> dict:
        return {"negative": self.negative, "zero": self.zero, "positive": self.positive,
                "min": self.min, "max": self.max}


def inertia(eigenvalues, rtol: float = DEFAULT_TOLERANCES.inertia, scale: float = 0.0) -> Inertia:
    """The inertia of a symmetric matrix from its eigenvalues (see the module notes on ``tol``).

    ``scale`` is the problem's natural size of a Hessian entry (for a depth-h
    network on data of scale ``s_1``, ``s_1^{2 - 2/h}``): it floors the
    threshold where the Hessian vanishes and only rounding is left.

    Examples
    --------
    >>> inertia([-2.0, 1e-12, 0.0, 3.0]).as_dict()
    {'negative': 1, 'zero': 2, 'positive': 1, 'min': -2.0, 'max': 3.0}
    """
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.size == 0:
        return Inertia(0, 0, 0, 0.0, 0.0, rtol)
    tol = rtol * max(float(np.abs(lam).max()), scale)
    return Inertia(int(np.sum(lam < -tol)), int(np.sum(np.abs(lam) <= tol)), int(np.sum(lam > tol)),
                   float(lam.min()), float(lam.max()), tol)


def lanczos_extremes(flow: GradientFlow, theta, k: int = 6, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest and ``k`` largest Hessian eigenvalues by Lanczos on the product.

    The smallest ones are found for ``H + sigma I`` with ``sigma`` the largest
    eigenvalue's size: ARPACK's relative tolerance cannot resolve eigenvalues
    at zero, and critical points have large kernels.

    Returns
    -------
    smallest, largest : ndarray, shape=[k] each, increasing
    """
    from scipy.sparse.linalg import LinearOperator, eigsh  # on first use, keeping `import geodln` fast

    n = flow.top.n_params
    k = min(k, n - 1)
    v0 = np.random.default_rng(seed).standard_normal(n)

    def operator(shift):
        return LinearOperator((n, n), dtype=float,
                              matvec=lambda x: hessian_vector_product(flow, theta, np.ravel(x)) + shift * np.ravel(x))

    if not np.any(operator(0.0).matvec(v0)):  # a vanishing Hessian (e.g. the origin of a deep net)
        return np.zeros(k), np.zeros(k)
    ncv = min(n, max(4 * k, 40))  # a wide Krylov space for clustered spectra
    largest = np.sort(eigsh(operator(0.0), k=k, which="LM", v0=v0, ncv=ncv, return_eigenvectors=False))
    sigma = float(np.abs(largest).max())
    shifted = eigsh(operator(sigma), k=k, which="SA", v0=v0, ncv=ncv, return_eigenvectors=False)
    largest = np.sort(eigsh(operator(sigma), k=k, which="LA", v0=v0, ncv=ncv, return_eigenvectors=False)) - sigma
    return np.sort(shifted) - sigma, largest
