"""Back onto the conserved level set, along the hidden-layer group orbit.

The flow conserves the balances (:mod:`geodln.symmetry.moment`). A numerical
method drifts off their level set; this module moves the state back by a
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

from ..symmetry import layer_balances, node_balances
from ..network.topology import Topology

__all__ = ["Conservation"]


class Conservation:
    """The conserved balances of ``top`` at ``theta0`` and the projection back onto them.

    Parameters
    ----------
    top : Topology
    theta0 : ndarray, shape=[n_params]
        The start; its balances are the level to keep.
    tol : float
        Relative drift allowed before :meth:`restore` moves the state: the
        drift ``max |Q(theta) - Q(theta0)|`` is compared with
        ``tol * max(1, max |Q(theta0)|)``.
    """

    def __init__(self, top: Topology, theta0, tol: float = 1e-10):
        self.top, self.tol = top, tol
        self.matrix = top.is_fully_connected and top.depth >= 2
        self.q0 = self.quantities(theta0)
        flat = np.concatenate([q.ravel() for q in self.q0]) if self.matrix else self.q0
        self.scale = max(1.0, float(np.max(np.abs(flat), initial=0.0)))
        self.n_moves = 0

    def quantities(self, theta):
        """The balances: ``[C_1, ..., C_{h-1}]`` (matrix law) or the node vector."""
        return layer_balances(self.top, theta) if self.matrix else node_balances(self.top, theta)

    def drift(self, theta) -> float:
        """``max |Q(theta) - Q(theta0)|`` relative to the scale of ``Q(theta0)``."""
        q = self.quantities(theta)
        if self.matrix:
            d = max((float(np.max(np.abs(a - b))) for a, b in zip(q, self.q0)), default=0.0)
        else:
            d = float(np.max(np.abs(q - self.q0), initial=0.0))
        return d / self.scale

    def restore(self, theta, force: bool = False):
        """``theta`` moved back onto the level set when its drift exceeds ``tol`` (a new array), else ``theta``."""
        if not force and self.drift(theta) <= self.tol:
            return theta
        moved = self._move_matrix(theta) if self.matrix else self._move_nodes(theta)
        if moved is None:
            return theta
        self.n_moves += 1
        return moved

    # -------------------------------------------------------------- matrix
    def _move_matrix(self, theta):
        top = self.top
        Ws = top.layer_weights(theta)
        h = len(Ws)
        rhs = [c0 - c for c0, c in zip(self.q0, self.quantities(theta))]
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
        if Y is None or max(float(np.max(np.abs(y))) for y in Y) > 1e-3:
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
        if not np.all(np.isfinite(y)) or np.max(np.abs(y), initial=0.0) > 1e-3:
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
