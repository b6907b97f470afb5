"""The exact Hessian of the loss in the packed weights: Hessian-vector products and the dense Hessian.

The Hessian-vector product is forward-over-reverse differentiation of the
block-wise gradient of :mod:`geodln.flow`: with forward maps ``f_l`` (input to
level ``l``), back-propagated errors ``b_l`` and their derivatives ``df_l``,
``db_l`` along a direction ``V``, the block ``(a, b)`` of ``H V`` is

    -(df_a b_b^T + f_a db_b^T),   df_b = sum_a (dB_ab^T f_a + B_ab^T df_a),
    db_h = -L''(W)[dW],           db_a = sum_b (dB_ab b_b + B_ab db_b),

exact (no finite differences). The dense Hessian stacks ``H e_j``; it is
minus the Jacobian of the gradient flow, which the integrator's exponential
method uses (so this module sits on the flow's floor and imports nothing of it).
The inertia and the horizontal Hessian are in :mod:`geodln.hessian`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["hessian_vector_product", "hessian"]


def hessian_vector_product(flow, theta, v) -> np.ndarray:
    """``H(theta) v``, the Hessian of ``L`` applied to packed directions.

    With weight decay ``lambda`` (:class:`geodln.GradientFlow`) it is the Hessian of
    ``L + lambda/2 ||theta||^2``: ``H v + lambda v``.

    Parameters
    ----------
    flow : geodln.GradientFlow
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


def hessian(flow, theta) -> np.ndarray:
    """The dense Hessian ``d^2 L / d theta^2``, shape=[n_params, n_params], symmetrised.

    All ``n_params`` Hessian-vector products are computed as one batch.
    """
    H = hessian_vector_product(flow, theta, np.eye(flow.top.n_params))
    return 0.5 * (H + H.T)
