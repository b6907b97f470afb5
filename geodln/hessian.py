"""Second order: the exact Hessian of the loss in the packed weights, and its inertia.

The Hessian-vector product is forward-over-reverse differentiation of the
block-wise gradient of :mod:`geodln.flow`: with forward maps ``f_l`` (input to
level ``l``), back-propagated errors ``b_l`` and their derivatives ``df_l``,
``db_l`` along a direction ``V``, the block ``(a, b)`` of ``H V`` is

    -(df_a b_b^T + f_a db_b^T),   df_b = sum_a (dB_ab^T f_a + B_ab^T df_a),
    db_h = -L''(W)[dW],           db_a = sum_b (dB_ab b_b + B_ab db_b),

exact (no finite differences). The dense Hessian stacks ``H e_j``; for large
parameter counts the extreme eigenvalues come from Lanczos
(``scipy.sparse.linalg.eigsh``) on the product.

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
from .symmetry import horizontal_basis, vertical_basis
from .tolerances import DEFAULT_TOLERANCES

__all__ = ["hessian_vector_product", "hessian", "horizontal_hessian", "Inertia", "inertia", "lanczos_extremes"]


def hessian_vector_product(flow: GradientFlow, theta, v) -> np.ndarray:
    """``H(theta) v``, the Hessian of ``L`` applied to packed directions.

    With weight decay ``lambda`` (:class:`GradientFlow`) it is the Hessian of
    ``L + lambda/2 ||theta||^2``: ``H v + lambda v``.

    Parameters
    ----------
    flow : GradientFlow
    theta : array-like, shape=[n_params]
    v : array-like, shape=[n_params] or [n_params, K]
        One direction, or ``K`` of them as columns (computed together).

    Returns
    -------
    ndarray, the shape of ``v``
    """
    top, data, loss = flow.top, flow.data, flow.loss_fn
    theta = top.check_theta(theta)
    v = np.asarray(v, dtype=float)
    if v.shape[0] != top.n_params or v.ndim not in (1, 2):
        raise ValueError(f"v has shape {v.shape}; expected ({top.n_params},) or ({top.n_params}, K)")
    V = np.atleast_2d(v.T)  # (K, n_params): a batch of directions
    h = top.depth
    maps, dmaps = [None] * (h + 1), [None] * (h + 1)
    for blk in top.blocks:  # forward pass with tangents; dmaps carry the batch axis
        Bt, dBt = blk.dense(theta).T, _batch_dense(blk, V).transpose(0, 2, 1)
        f, df = (Bt, dBt) if blk.a == 0 else (Bt @ maps[blk.a], dBt @ maps[blk.a] + Bt @ dmaps[blk.a])
        maps[blk.b] = f if maps[blk.b] is None else maps[blk.b] + f
        dmaps[blk.b] = df if dmaps[blk.b] is None else dmaps[blk.b] + df
    back, dback = [None] * (h + 1), [None] * (h + 1)
    back[h], dback[h] = -loss.gradient(maps[h], data), -loss.curvature(maps[h], dmaps[h], data)
    out = np.zeros_like(V)
    for blk in reversed(top.blocks):
        bb, dbb = back[blk.b], dback[blk.b]
        if bb is None:  # nothing from this level reaches the output
            continue
        if blk.a == 0:
            _batch_gather(blk, -dbb.transpose(0, 2, 1), out)
            continue
        _batch_gather(blk, -(dmaps[blk.a] @ bb.T + maps[blk.a] @ dbb.transpose(0, 2, 1)), out)
        B = blk.dense(theta)
        ba, dba = B @ bb, _batch_dense(blk, V) @ bb + B @ dbb
        back[blk.a] = ba if back[blk.a] is None else back[blk.a] + ba
        dback[blk.a] = dba if dback[blk.a] is None else dback[blk.a] + dba
    if flow.weight_decay:  # the Hessian of lambda/2 ||theta||^2 is lambda I
        out += flow.weight_decay * V
    return out[0] if v.ndim == 1 else out.T


def _batch_dense(blk, V: np.ndarray) -> np.ndarray:
    """The block of each direction in ``V`` (shape ``(K, n_params)``), shape ``(K, d_a, d_b)``."""
    if blk.full:
        return V[:, blk.segment].reshape(len(V), *blk.shape)
    out = np.zeros((len(V), *blk.shape))
    out[:, blk.r, blk.c] = V[:, blk.segment]
    return out


def _batch_gather(blk, dense: np.ndarray, out: np.ndarray) -> None:
    """Write the free entries of ``(K, d_a, d_b)`` blocks into ``out[:, segment]``."""
    out[:, blk.segment] = dense.reshape(len(dense), -1) if blk.full else dense[:, blk.r, blk.c]


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


def hessian(flow: GradientFlow, theta) -> np.ndarray:
    """The dense Hessian ``d^2 L / d theta^2``, shape=[n_params, n_params], symmetrised.

    All ``n_params`` Hessian-vector products are computed as one batch.
    """
    H = hessian_vector_product(flow, theta, np.eye(flow.top.n_params))
    return 0.5 * (H + H.T)


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
