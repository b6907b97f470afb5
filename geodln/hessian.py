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
``tol = rtol * max(1, max |lambda|)`` (``rtol = 1e-8`` by default): relative to
the spectrum's scale, with an absolute floor so that the origin's Hessian (all
zeros) has only zero eigenvalues.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from .flow import GradientFlow

__all__ = ["hessian_vector_product", "hessian", "Inertia", "inertia", "lanczos_extremes"]

RTOL = 1e-8


def hessian_vector_product(flow: GradientFlow, theta, v) -> np.ndarray:
    """``H(theta) v``, the Hessian of ``L`` applied to a packed direction, shape=[n_params].

    Parameters
    ----------
    flow : GradientFlow
    theta, v : array-like, shape=[n_params]
    """
    top, data, loss = flow.top, flow.data, flow.loss_fn
    theta, v = top.check_theta(theta), top.check_theta(v)
    L = top.depth
    maps, dmaps = [None] * (L + 1), [None] * (L + 1)
    for blk in top.blocks:  # forward pass with tangents
        Bt, dBt = blk.dense(theta).T, blk.dense(v).T
        f, df = (Bt, dBt) if blk.a == 0 else (Bt @ maps[blk.a], dBt @ maps[blk.a] + Bt @ dmaps[blk.a])
        maps[blk.b] = f if maps[blk.b] is None else maps[blk.b] + f
        dmaps[blk.b] = df if dmaps[blk.b] is None else dmaps[blk.b] + df
    W = maps[L] if maps[L] is not None else np.zeros((top.widths[-1], top.widths[0]))
    dW = dmaps[L] if dmaps[L] is not None else np.zeros_like(W)
    back, dback = [None] * (L + 1), [None] * (L + 1)
    back[L], dback[L] = -loss.gradient(W, data), -loss.curvature(W, dW, data)
    out = np.empty(top.n_params)
    for blk in reversed(top.blocks):
        bb, dbb = back[blk.b], dback[blk.b]
        if bb is None:  # nothing reaches the output from this level
            out[blk.segment] = 0.0
            continue
        if blk.a == 0:
            blk.gather(-dbb.T, out)
            continue
        blk.gather(-(dmaps[blk.a] @ bb.T + maps[blk.a] @ dbb.T), out)
        B, dB = blk.dense(theta), blk.dense(v)
        ba, dba = B @ bb, dB @ bb + B @ dbb
        back[blk.a] = ba if back[blk.a] is None else back[blk.a] + ba
        dback[blk.a] = dba if dback[blk.a] is None else dback[blk.a] + dba
    return out


def hessian(flow: GradientFlow, theta) -> np.ndarray:
    """The dense Hessian ``d^2 L / d theta^2``, shape=[n_params, n_params], symmetrised.

    Costs ``n_params`` Hessian-vector products: for small networks.
    """
    n = flow.top.n_params
    H = np.column_stack([hessian_vector_product(flow, theta, e) for e in np.eye(n)])
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


def inertia(eigenvalues, rtol: float = RTOL) -> Inertia:
    """The inertia of a symmetric matrix from its eigenvalues (see the module notes on ``tol``).

    Examples
    --------
    >>> inertia([-2.0, 1e-12, 0.0, 3.0]).as_dict()
    {'negative': 1, 'zero': 2, 'positive': 1, 'min': -2.0, 'max': 3.0}
    """
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.size == 0:
        return Inertia(0, 0, 0, 0.0, 0.0, rtol)
    tol = rtol * max(1.0, float(np.abs(lam).max()))
    return Inertia(int(np.sum(lam < -tol)), int(np.sum(np.abs(lam) <= tol)), int(np.sum(lam > tol)),
                   float(lam.min()), float(lam.max()), tol)


def lanczos_extremes(flow: GradientFlow, theta, k: int = 6, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest and ``k`` largest Hessian eigenvalues by Lanczos on the product.

    Returns
    -------
    smallest, largest : ndarray, shape=[k] each, increasing
    """
    n = flow.top.n_params
    k = min(k, n - 1)
    op = LinearOperator((n, n), matvec=lambda x: hessian_vector_product(flow, theta, np.ravel(x)), dtype=float)
    v0 = np.random.default_rng(seed).standard_normal(n)
    smallest = eigsh(op, k=k, which="SA", v0=v0, return_eigenvectors=False)
    largest = eigsh(op, k=k, which="LA", v0=v0, return_eigenvectors=False)
    return np.sort(smallest), np.sort(largest)
