"""Back onto a level set of the conserved balances, along the hidden-layer group orbit.

The flow conserves the balances (:mod:`geodln.symmetry.moment`). A numerical
method drifts off their level set; :class:`ConservedLevel` moves the state back by a
small group element ``S = I + Y`` (``Y`` symmetric on each fully connected
hidden level, diagonal on node-rescaling levels), ``A -> S A S^{-1}``. The
move keeps the end-to-end map ``W`` and so the loss exactly; it is chosen by
linearising the balances in ``Y``:

- matrix law (fully connected layered networks), ``W_i -> (I + Y_i) W_i (I + Y_{i-1})^{-1}``
  changes ``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}`` by
  ``M(Y)_i = Y_i S_i + S_i Y_i - 2 W_i Y_{i-1} W_i^T - 2 W_{i+1}^T Y_{i+1} W_{i+1}``
  (``S_i = W_i W_i^T + W_{i+1}^T W_{i+1}``), a symmetric positive semidefinite
  operator (``<Y, M(Y)> = 2 sum_i ||Y_i W_i - W_i Y_{i-1}||^2``): solved by
  conjugate gradients for ``M(Y) = C0 - C``;
- node law (any mask), an edge ``u -> v`` scales by ``(1 + y_u) / (1 + y_v)``
  and the node balances change by ``-2 L y`` with ``L`` the graph Laplacian
  weighted by the squared edge weights, restricted to the hidden nodes.

The residual after one move is quadratic in the drift (``~1e-18`` for a drift of ``1e-9``).
"""

from __future__ import annotations

import numpy as np

from ..network.topology import Topology
from .moment import layer_balances, node_balances

__all__ = ["ConservedLevel"]

_SMALL_MOVE = 1e-3  # largest |Y| entry of a move: beyond it the orbit is degenerate here and the state is left alone


class ConservedLevel:
    """The level set of the balances of ``top`` through ``theta0``, and the move back onto it.

    The strongest law of the topology: the matrix balances ``C_i`` for a
    fully connected layered network of depth ``>= 2``, the node balances otherwise.
    :meth:`quantities` and :meth:`project` are the contract of
    :class:`geodln.integrate.Conservation`.

    Parameters
    ----------
    top : Topology
    theta0 : ndarray, shape=[n_params]
        A point of the level set.
    """

    def __init__(self, top: Topology, theta0):
        self.top = top
        self.matrix = top.is_fully_connected and top.depth >= 2
        self.q0 = self.balances(theta0)

    def balances(self, theta):
        """The balances: ``[C_1, ..., C_{h-1}]`` (matrix law) or the node vector, shape=[n_hidden]."""
        return layer_balances(self.top, theta) if self.matrix else node_balances(self.top, theta)

    def quantities(self, theta) -> np.ndarray:
        """The balances flattened into one vector."""
        q = self.balances(theta)
        return np.concatenate([c.ravel() for c in q]) if self.matrix and q else np.ravel(q)

    def project(self, theta):
        """``theta`` moved along its orbit onto the level set (one linearised move), or None.

        None when the move is not small (entries of ``Y`` above ``1e-3``: the
        orbit is degenerate here) or the linear system breaks down.

        Parameters
        ----------
        theta : ndarray, shape=[n_params]

        Returns
        -------
        ndarray, shape=[n_params], or None
        """
        return self._move_matrix(theta) if self.matrix else self._move_nodes(theta)

    # -------------------------------------------------------------- matrix
    def _move_matrix(self, theta):
        top = self.top
        Ws = top.layer_weights(theta)
        h = len(Ws)
        rhs = [c0 - c for c0, c in zip(self.q0, self.balances(theta))]
        S = [Ws[i - 1] @ Ws[i - 1].T + Ws[i].T @ Ws[i] for i in range(1, h)]

        def op(Y):  # Y[k] on hidden level k + 1
            out = []
            for k in range(h - 1):
                m = Y[k] @ S[k]
                m = m + m.T
                if k > 0:
                    m -= 2.0 * Ws[k] @ Y[k - 1] @ Ws[k].T
                if k < h - 2:
                    m -= 2.0 * Ws[k + 1].T @ Y[k + 1] @ Ws[k + 1]
                out.append(m)
            return out

        Y = _cg(op, rhs, lambda X, Z: sum(float(np.vdot(x, z)) for x, z in zip(X, Z)))
        if Y is None or max(float(np.max(np.abs(y))) for y in Y) > _SMALL_MOVE:
            return None  # not a small move: the orbit is degenerate here; leave the state alone
        eye = [np.eye(y.shape[0]) + y for y in Y]
        new = []
        for i, W in enumerate(Ws, start=1):
            Wn = eye[i - 1] @ W if i < h else W.copy()
            if i > 1:
                Wn = np.linalg.solve(eye[i - 2].T, Wn.T).T  # W (I + Y_{i-1})^{-1}
            new.append(Wn)
        return top.from_layer_weights(new)

    # ---------------------------------------------------------------- node
    def _move_nodes(self, theta):
        top = self.top
        src, tgt = top.edge_index
        hidden = top.hidden
        pos = np.full(top.n, -1)
        pos[hidden] = np.arange(hidden.size)
        w = theta**2
        L = np.zeros((hidden.size, hidden.size))
        ps, pt = pos[src], pos[tgt]
        for a, b, we in zip(ps, pt, w):  # Laplacian of (e_src - e_tgt), hidden part only
            if a >= 0:
                L[a, a] += we
            if b >= 0:
                L[b, b] += we
            if a >= 0 and b >= 0:
                L[a, b] -= we
                L[b, a] -= we
        delta = node_balances(top, theta) - self.q0
        try:
            y = np.linalg.solve(2.0 * L, delta)
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(y)) or np.max(np.abs(y), initial=0.0) > _SMALL_MOVE:
            return None
        full = np.zeros(top.n)
        full[hidden] = y
        return theta * (1.0 + full[src]) / (1.0 + full[tgt])


def _cg(op, b, dot, rtol: float = 1e-6, maxiter: int = 60):
    """Conjugate gradients for ``op(x) = b`` on lists of arrays; None when it breaks down."""
    x = [np.zeros_like(bi) for bi in b]
    r = [bi.copy() for bi in b]
    p = [ri.copy() for ri in r]
    rr = dot(r, r)
    stop = (rtol**2) * rr
    for _ in range(maxiter):
        if rr <= stop or rr == 0.0:
            break
        Ap = op(p)
        pAp = dot(p, Ap)
        if not pAp > 0.0:
            return None if _ == 0 else x
        alpha = rr / pAp
        x = [xi + alpha * pi for xi, pi in zip(x, p)]
        r = [ri - alpha * api for ri, api in zip(r, Ap)]
        rr_new = dot(r, r)
        p = [ri + (rr_new / rr) * pi for ri, pi in zip(r, p)]
        rr = rr_new
    return x
