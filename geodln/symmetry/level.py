"""Back onto a level set of the conserved balances, along the hidden-layer group orbit.

The flow conserves the balances (:mod:`geodln.symmetry.moment`). A numerical
method drifts off their level set; :class:`ConservedLevel` moves the state back by a
small group element ``S = I + Y`` (``Y_l`` symmetric on a hidden level that
carries ``GL(d_l)``, diagonal on a node-rescaling level), every block ``W``
from level ``a`` to level ``b`` (``W``-orientation, shape ``(d_b, d_a)``) going to
``(I + Y_b) W (I + Y_a)^{-1}``. The move keeps the end-to-end map ``W`` and so
the loss exactly; it is chosen by linearising the balances in ``Y``. The
balance ``C_l = sum_in W W^T - sum_out W^T W`` of level ``l`` changes by

    M(Y)_l = P_l(Y_l S_l + S_l Y_l - 2 sum_{in, a hidden} W Y_a W^T - 2 sum_{out, b hidden} W^T Y_b W),

``S_l = sum_in W W^T + sum_out W^T W``, ``P_l`` the identity on a ``GL``
level and the diagonal on the others: a symmetric positive semidefinite
operator (for a chain ``<Y, M(Y)> = 2 sum_i ||Y_i W_i - W_i Y_{i-1}||^2``),
solved by conjugate gradients for ``M(Y) = C0 - C``. When every level is
diagonal (node balances only) ``M`` is ``2 L`` with ``L`` the graph Laplacian
weighted by the squared edge weights, restricted to the hidden nodes, and is
solved directly.

The residual after one move is quadratic in the drift (``~1e-18`` for a drift
of ``1e-9``): one move is what the integrator makes; repeated, it is
Newton's method onto any level set of the moment map (``project(newton=True)``,
which :func:`geodln.geometry.balance.to_conserved_level` calls). The level
set meets the orbit in a manifold of the dimension of ``K`` (a ``K``-orbit only
when ``C0 = 0``), so the point reached depends on the path: it is one of them.
"""

from __future__ import annotations

import numpy as np

from ..network.topology import Topology
from .group import hidden_levels
from .moment import layer_balances, moment_map, node_balances

__all__ = ["ConservedLevel"]

_TRUST = 0.5  # largest spectral norm of a Newton move's Y (damped Newton keeps I + Y positive definite)
_SMALL_MOVE = 1e-3  # largest |Y| entry of a move: beyond it the orbit is degenerate here and the state is left alone


class ConservedLevel:
    """A level set of the balances of ``top``, and the move along the group orbit onto it.

    Two kinds of level set, one move:

    - ``ConservedLevel(top, theta0)``: the level through ``theta0`` of the
      flow's strongest law, the matrix balances ``C_i`` for a fully connected
      layered network of depth ``>= 2``, the node balances otherwise (what
      the integrator keeps; :meth:`quantities` and :meth:`project` are the
      contract of :class:`geodln.integrate.Conservation`);
    - :meth:`of_moment`: ``{C = C0}`` for the moment map on the whole Lie
      algebra (full blocks on ``GL`` levels, the diagonal elsewhere), which
      :func:`geodln.geometry.balance.to_conserved_level` reaches.

    The move is the linearised one of the module docstring; :meth:`project`
    makes one (the integrator: a drift of ``1e-10`` leaves ``1e-20``) or, with
    ``newton=True``, repeats it to convergence (Newton's method on the group
    element ``S = I + Y``).

    Parameters
    ----------
    top : Topology
    theta0 : ndarray, shape=[n_params]
        A point of the level set.
    """

    def __init__(self, top: Topology, theta0, _law: str | None = None, _target=None):
        self.top = top
        self.law = _law or ("matrix" if top.is_fully_connected and top.depth >= 2 else "node")
        levels = hidden_levels(top)
        self.full = [self.law == "matrix" or (self.law == "algebra" and lv.full) for lv in levels]
        self.slices = [lv.sl for lv in levels]
        self.q0 = self.balances(theta0) if _target is None else _target
        self.q0_flat = self._flatten(self.q0)

    @classmethod
    def of_moment(cls, top: Topology, C0) -> "ConservedLevel":
        """The level set ``{C = C0}`` of the moment map, ``C0`` of shape [n, n] (not checked here)."""
        C0 = np.asarray(C0, dtype=float)
        blocks = [C0[lv.sl, lv.sl] for lv in hidden_levels(top)]
        return cls(top, None, "algebra", [c if lv.full else np.diag(np.diag(c)) for c, lv in zip(blocks, hidden_levels(top))])

    def balances(self, theta):
        """Per law: ``[C_1, ..., C_{h-1}]`` (matrix), the node vector of shape [n_hidden] (node), or the
        level blocks of the moment map, diagonal ones as diagonal matrices (algebra)."""
        if self.law == "matrix":
            return layer_balances(self.top, theta)
        if self.law == "node":
            return node_balances(self.top, theta)
        C = moment_map(self.top, theta)
        return [C[sl, sl] if full else np.diag(np.diag(C[sl, sl])) for sl, full in zip(self.slices, self.full)]

    def _flatten(self, q) -> np.ndarray:
        if self.law == "node":
            return np.ravel(q)
        parts = [c.ravel() if full else np.diag(c) for c, full in zip(q, self.full)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def quantities(self, theta) -> np.ndarray:
        """The balances flattened into one vector (a diagonal level: its diagonal)."""
        return self._flatten(self.balances(theta))

    def project(self, theta, newton: bool = False, tol: float = 1e-12, max_iter: int = 50):
        """``theta`` moved along its orbit onto the level set.

        Parameters
        ----------
        theta : ndarray, shape=[n_params]
        newton : bool
            False: one linearised move, None when it is not small (entries of
            ``Y`` above ``1e-3``: the orbit is degenerate here) or the linear
            system breaks down. True: moves repeated until
            ``max |Q - Q0| <= tol max(||theta||^2, max |Q0|)``.
        tol, max_iter : float, int
            For ``newton=True``.

        Returns
        -------
        ndarray, shape=[n_params], or None (one move)

        Raises
        ------
        ValueError
            With ``newton=True``, when the level set is not reached in ``max_iter`` moves.
        """
        if not newton:
            return self._move(theta, _SMALL_MOVE)
        scale = max(float(np.dot(theta, theta)), float(np.max(np.abs(self.q0_flat), initial=0.0)), 1e-300)
        for _ in range(max_iter):
            gap = float(np.max(np.abs(self.quantities(theta) - self.q0_flat), initial=0.0))
            if gap <= tol * scale:
                return theta
            moved = self._move(theta, np.inf, _TRUST)
            if moved is None:
                break
            theta = moved
        raise ValueError(f"could not reach the level set along the orbit in {max_iter} Newton steps "
                         f"(max |C - C0| = {gap:.3g}); start closer to it")

    def _move(self, theta, cap: float, trust: float = np.inf):
        """One linearised move; None when ``max |Y| > cap`` or the solve breaks down.

        A move whose ``Y`` has a spectral norm above ``trust`` is scaled down to
        it (damped Newton: ``I + Y`` stays positive definite, and far from the
        level set the linearisation is not to be followed all the way).
        """
        move = self._move_blocks if any(self.full) else self._move_nodes
        return move(theta, cap, trust)

    # ------------------------------------------------------------- blocks
    def _move_blocks(self, theta, cap, trust):
        """The move with ``Y_l`` symmetric on full levels and diagonal on the others, by conjugate gradients."""
        top = self.top
        index = {sl.start: k for k, sl in enumerate(self.slices)}
        level_of = lambda lvl: index.get(top.level_slices[lvl].start)  # noqa: E731  hidden position or None
        Ws = [blk.dense(theta).T for blk in top.blocks]  # W-orientation (d_b, d_a), as Topology.layer_weights
        entering = [[] for _ in self.slices]
        leaving = [[] for _ in self.slices]
        for blk, W in zip(top.blocks, Ws):
            ka, kb = level_of(blk.a), level_of(blk.b)
            if kb is not None:
                entering[kb].append((W, ka))
            if ka is not None:
                leaving[ka].append((W, kb))
        rhs = [c0 - c for c0, c in zip(self.q0, self.balances(theta))]
        S = [sum([W @ W.T for W, _ in entering[k]] + [W.T @ W for W, _ in leaving[k]]) for k in range(len(rhs))]

        def op(Y):
            out = []
            for k, full in enumerate(self.full):
                m = Y[k] @ S[k]
                m = m + m.T
                for W, ka in entering[k]:
                    if ka is not None:
                        m -= 2.0 * W @ Y[ka] @ W.T
                for W, kb in leaving[k]:
                    if kb is not None:
                        m -= 2.0 * W.T @ Y[kb] @ W
                out.append(m if full else np.diag(np.diag(m)))
            return out

        Y = _cg(op, rhs, lambda X, Z: sum(float(np.vdot(x, z)) for x, z in zip(X, Z)))
        if Y is None or max(float(np.max(np.abs(y))) for y in Y) > cap:
            return None  # not a small move: the orbit is degenerate here; leave the state alone
        Y = _damped(Y, trust)
        eye = [np.eye(y.shape[0]) + y for y in Y]
        out = np.empty_like(theta)
        for blk, W in zip(top.blocks, Ws):
            ka, kb = level_of(blk.a), level_of(blk.b)
            Wn = eye[kb] @ W if kb is not None else W.copy()
            if ka is not None:
                Wn = np.linalg.solve(eye[ka].T, Wn.T).T  # W (I + Y_a)^{-1}
            blk.gather(Wn.T, out)
        return out

    # ---------------------------------------------------------------- node
    def _move_nodes(self, theta, cap, trust):
        """The move by node rescalings alone: a direct solve with the weighted graph Laplacian."""
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
        delta = self.quantities(theta) - self.q0_flat
        try:
            y = np.linalg.solve(2.0 * L, delta)
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(y)) or np.max(np.abs(y), initial=0.0) > cap:
            return None
        full = np.zeros(top.n)
        full[hidden] = _damped([y], trust)[0]
        return theta * (1.0 + full[src]) / (1.0 + full[tgt])


def _damped(Y, trust: float):
    """``Y`` (a list of symmetric matrices or of diagonals) scaled so that its largest spectral norm is ``trust``."""
    if not np.isfinite(trust):
        return Y
    big = max((float(np.max(np.abs(y))) if y.ndim == 1 else float(np.linalg.norm(y, 2)) for y in Y), default=0.0)
    return Y if big <= trust else [y * (trust / big) for y in Y]


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
