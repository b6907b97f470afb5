"""Matrix-free vertical projections for large networks (LSQR on the bracket).

:func:`bracket_operator` applies ``Xi -> [Xi, A]`` and its adjoint block by
block; :func:`solve_vertical` finds the vertical component of a vector as the
least-squares problem ``min_Xi ||[Xi, A] - V||`` (least squares, not a
linear solve: some widths, e.g. 3, 4, 5, 2, have a nontrivial stabiliser at
every point, so the bracket has a kernel). ``part`` restricts ``Xi`` to the
symmetric or skew-symmetric matrices of ``g``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..network.topology import Topology
from .group import algebra_mask, hidden_levels
from .moment import _level_grams

if TYPE_CHECKING:
    from scipy.sparse.linalg import LinearOperator

__all__ = ["part_basis", "bracket_operator", "VerticalSolve", "solve_vertical"]

_PARTS = ("all", "sym", "skew")


def _check_part(part: str) -> str:
    if part not in _PARTS:
        raise ValueError(f"part must be one of {', '.join(map(repr, _PARTS))}, got {part!r}")
    return part


def _restrict(X: np.ndarray, part: str) -> np.ndarray:
    """The symmetric or skew part of an ``(n, n)`` matrix (``X`` itself for ``"all"``)."""
    if part == "sym":
        return 0.5 * (X + X.T)
    if part == "skew":
        return 0.5 * (X - X.T)
    return X


def part_basis(top: Topology, part: str = "all") -> np.ndarray:
    """An orthonormal basis of a part of ``g`` in the coordinates of :func:`vertical_matrix`.

    Parameters
    ----------
    part : {"all", "sym", "skew"}
        The whole algebra, its symmetric matrices, or its skew-symmetric
        matrices (the Lie algebra of the orthogonal subgroup, zero on levels
        that only rescale nodes).

    Returns
    -------
    ndarray, shape=[dim g, dim part]
        Columns are orthonormal elements of ``g`` written in the basis ``E_jk``
        ordered as ``numpy.nonzero(algebra_mask(top))``.

    Examples
    --------
    >>> from geodln import layered
    >>> part_basis(layered([2, 3, 2]), "skew").shape  # so(3)
    (9, 3)
    """
    _check_part(part)
    J, K = np.nonzero(algebra_mask(top))
    if part == "all":
        return np.eye(J.size)
    where = {(j, k): c for c, (j, k) in enumerate(zip(J.tolist(), K.tolist()))}
    cols = []
    for c, (j, k) in enumerate(zip(J.tolist(), K.tolist())):
        if part == "sym" and j == k:
            col = np.zeros(J.size)
            col[c] = 1.0
            cols.append(col)
        elif j < k:
            col = np.zeros(J.size)
            col[c], col[where[k, j]] = 1.0, (1.0 if part == "sym" else -1.0)
            cols.append(col / np.sqrt(2.0))
    return np.array(cols).T.reshape(J.size, len(cols))


def bracket_operator(top: Topology, theta, part: str = "all") -> LinearOperator:
    """``Xi -> pack([Xi, A])`` as a matrix-free ``scipy.sparse.linalg.LinearOperator``.

    The operator takes the full coordinate vector of ``Xi`` on
    :func:`algebra_mask` (ordered as ``numpy.nonzero``) and first replaces
    ``Xi`` by its ``part``; its range is the vertical space of that part. It
    works block by block: the block ``(a, b)`` of ``[Xi, A]`` is
    ``Xi_a A_ab - A_ab Xi_b``, and the adjoint at a hidden level ``l`` is
    ``sum_b V_lb A_lb^T - sum_a A_al^T V_al``, masked.

    Returns
    -------
    LinearOperator, shape=[n_params, dim g]
        Equal to ``vertical_matrix(top, theta) @ P`` with ``P`` the orthogonal
        projector onto ``part``.
    """
    _check_part(part)
    theta = top.check_theta(theta)
    mask = algebra_mask(top)
    J, K = np.nonzero(mask)
    blocks = [(blk, blk.dense(theta)) for blk in top.blocks]

    def matvec(x):
        Xi = np.zeros((top.n, top.n))
        Xi[J, K] = np.ravel(x)
        Xi = _restrict(Xi, part)
        out = np.empty(top.n_params)
        for blk, Ab in blocks:
            term = np.zeros(Ab.shape)
            if 0 < blk.a:
                term += Xi[blk.rows, blk.rows] @ Ab
            if blk.b < top.depth:
                term -= Ab @ Xi[blk.cols, blk.cols]
            blk.gather(term, out)
        return out

    def rmatvec(v):
        R = np.zeros((top.n, top.n))
        v = np.ravel(v)
        for blk, Ab in blocks:
            Vb = blk.dense(v)
            if 0 < blk.a:
                R[blk.rows, blk.rows] += Vb @ Ab.T
            if blk.b < top.depth:
                R[blk.cols, blk.cols] -= Ab.T @ Vb
        return _restrict(R * mask, part)[J, K]

    from scipy.sparse.linalg import LinearOperator  # on first use: scipy.sparse costs ~0.3 s at import

    return LinearOperator((top.n_params, J.size), matvec=matvec, rmatvec=rmatvec, dtype=float)


def _preconditioner(top: Topology, theta):
    """A right preconditioner for :func:`bracket_operator` (an invertible map of ``g``).

    At a fully connected hidden level the diagonal block of ``L^T L`` is the
    Sylvester map ``X -> N X + X M`` (``N`` = sum of ``A_al^T A_al`` over the
    incoming blocks, ``M`` = sum of ``A_lb A_lb^T`` over the outgoing ones);
    in the eigenbases of ``N`` and ``M`` its inverse square root is a division
    by ``sqrt(nu_a + mu_b)``. On node-rescaling levels that block is diagonal.
    Directions with ``D_ab ~ 0`` lie in the kernel of the bracket and are
    dropped; on the rest the map is invertible, so it changes the iterates of
    LSQR but not the range of the operator, hence not the vertical projection.
    """
    J, K = np.nonzero(algebra_mask(top))
    factors = []
    for (_, sl, full), (N, M) in zip(hidden_levels(top), _level_grams(top, theta)):
        if full or sl.stop - sl.start == 1:
            nu, UN = np.linalg.eigh(N)
            mu, UM = np.linalg.eigh(M)
            D = nu[:, None] + mu[None, :]
        else:
            UN = UM = None
            D = np.diag(N)[:, None] + np.diag(M)[None, :]
        factors.append((sl, UN, UM, D))
    # D_ab = ||[X_ab, A]||^2 for the unit eigen-direction X_ab, so D_ab ~ 0 marks a direction of the
    # kernel (a stabiliser): weight it 0 rather than amplify rounding noise; the range is unchanged
    scale = max((D.max() for *_, D in factors), default=1.0) or 1.0
    cut = 1e-13 * scale
    factors = [(sl, UN, UM, np.where(D > cut, 1.0 / np.sqrt(np.maximum(D, cut)), 0.0)) for sl, UN, UM, D in factors]

    def apply(x):
        Z = np.zeros((top.n, top.n))
        Z[J, K] = np.ravel(x)
        for sl, UN, UM, s in factors:
            if UN is None:
                Z[sl, sl] *= s
            else:
                Z[sl, sl] = UN @ ((UN.T @ Z[sl, sl] @ UM) * s) @ UM.T
        return Z[J, K]

    return apply


class VerticalSolve(NamedTuple):
    """Result of :func:`solve_vertical`.

    Attributes
    ----------
    xi : ndarray, shape=[n, n]
        An element of ``g`` (of the requested part) with ``[xi, A]`` the
        vertical component.
    vertical : ndarray, shape=[n_params]
        The vertical component ``pack([xi, A])``.
    n_iter : int
        LSQR iterations.
    optimality : float
        ``||L^T (v - vertical)|| / (||L||_est ||v - vertical||)``, LSQR's own
        stopping measure (0 when ``v`` is vertical).
    """

    xi: np.ndarray
    vertical: np.ndarray
    n_iter: int
    optimality: float


def solve_vertical(top: Topology, theta, v, part: str = "all", rtol: float = 1e-12, maxiter: int | None = None) -> VerticalSolve:
    """Vertical component of ``v`` by matrix-free least squares (LSQR), for large networks.

    Solves ``min_Xi ||pack([Xi, A]) - v||`` over ``Xi`` in ``part`` of ``g``
    with preconditioned LSQR. The residual ``v - [Xi, A]`` is the horizontal
    component whatever the kernel of the bracket (a stabiliser only makes
    ``Xi`` non-unique), so this agrees with :func:`vertical_projection` (for
    ``part="all"``) to about ``rtol``.

    Parameters
    ----------
    theta : array-like, shape=[n_params]
        The point ``A``.
    v : array-like, shape=[n_params]
        A tangent vector.
    part : {"all", "sym", "skew"}
        Restrict ``Xi`` to the symmetric or skew-symmetric part of ``g``.
    rtol : float
        LSQR's ``atol`` and ``btol``.
    maxiter : int, optional
        Iteration cap (default ``10 * dim g``).

    Returns
    -------
    VerticalSolve

    Examples
    --------
    >>> import numpy as np
    >>> from geodln import layered
    >>> from geodln.symmetry import vertical_projection
    >>> top = layered([3, 4, 5, 2])  # a 5-dimensional stabiliser at every point
    >>> rng = np.random.default_rng(0)
    >>> theta, v = rng.standard_normal((2, top.n_params))
    >>> res = solve_vertical(top, theta, v)
    >>> bool(np.allclose(res.vertical, vertical_projection(top, theta, v), atol=1e-9))
    True
    """
    theta = top.check_theta(theta)
    v = np.asarray(v, dtype=float)
    if v.shape != (top.n_params,):
        raise ValueError(f"v has shape {v.shape}; expected ({top.n_params},)")
    L = bracket_operator(top, theta, part)
    J, K = np.nonzero(algebra_mask(top))
    if J.size == 0 or not np.any(v):
        return VerticalSolve(np.zeros((top.n, top.n)), np.zeros(top.n_params), 0, 0.0)
    from scipy.sparse.linalg import LinearOperator, lsqr

    P = _preconditioner(top, theta)
    LP = LinearOperator(L.shape, matvec=lambda z: L.matvec(P(z)), rmatvec=lambda y: P(L.rmatvec(y)), dtype=float)
    # conlim=0: a stabiliser makes the operator singular, which must not stop LSQR early
    z, _, n_iter, _, _, anorm, _, _, _, _ = lsqr(LP, v, atol=rtol, btol=rtol, conlim=0, iter_lim=maxiter or 10 * J.size)
    x = P(z)
    Xi = np.zeros((top.n, top.n))
    Xi[J, K] = x
    Xi = _restrict(Xi, part)
    vertical = L.matvec(x)
    resid = v - vertical
    denom = anorm * np.linalg.norm(resid)
    optimality = float(np.linalg.norm(LP.rmatvec(resid)) / denom) if denom > 0 else 0.0
    return VerticalSolve(Xi, vertical, int(n_iter), optimality)
