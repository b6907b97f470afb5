"""The hidden-layer symmetry group of a network: its action, moment map and Lie algebra.

This is the one home of the group; every other module (flow, init,
landscape, saddles, geometry, figures) calls it.

The group ``G`` acts on a network by block-diagonal similarity
``A -> S A S^{-1}``, with ``S`` the identity on the input and output levels;
the similarity leaves ``sum_k A^k`` and hence the end-to-end map ``W`` (and
every loss of ``W``) unchanged. :func:`act` applies it block by block,
``(S A S^{-1})_ab = S_a A_ab S_b^{-1}`` (never a dense inverse), and
:func:`random_group_element` draws elements of ``G`` or of its orthogonal
subgroup ``K`` (Haar on every ``O(d_i)`` factor).

The moment map of ``K`` is the block-diagonal part of ``A^T A - A A^T`` on the
hidden levels (restricted to the Lie algebra); its level blocks are the
conserved layer balances ``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}`` and its
diagonal the node-wise balances (squared in-weights minus squared
out-weights): :func:`moment_map`, :func:`layer_balances`,
:func:`node_balances`. The gradient of any loss of ``W`` is orthogonal to
the orbit, so the flow conserves them (Noether). Its Lie algebra ``g`` is the set of matrices
``Xi`` supported on :func:`algebra_mask`: a full ``d_i x d_i`` block on every
hidden level all of whose incoming and outgoing blocks are fully connected
(``GL(d_i)``: for a layered network ``W_i -> G_i W_i G_{i-1}^{-1}``), and the
diagonal (node rescalings) on the other hidden levels.

For a fully connected layered network this is the whole symmetry group of the
survey. For a sparse mask or a DAG it is a subgroup: any ``E_jk`` between
hidden nodes with ``in(j) ⊆ in(k)`` and ``out(k) ⊆ out(j)`` also keeps the
mask and ``W`` (e.g. a node whose inputs are a subset of another's on the same
level, or a skip connection that reaches both levels), and those directions
are not modelled here: on such topologies the orbit and stabiliser
dimensions are those of the subgroup (the orbit dimension a lower bound),
and the "horizontal" space may still contain fiber directions of the larger
group.

At ``A`` the action's differential is ``Xi -> [Xi, A] = Xi A - A Xi``; its
image is the vertical space (the tangent space of the fiber through ``A``),
its orthogonal complement in the packed weights the horizontal space. With
``<V, [Xi, A]> = <V A^T - A^T V, Xi>``, the adjoint is
``V -> P_g(V A^T - A^T V)``. Orbit dimension = rank of ``Xi -> [Xi, A]``,
stabiliser dimension = ``dim g`` - orbit dimension.

For large networks the dense ``n_params x dim g`` matrix of the bracket is out
of reach; :func:`bracket_operator` applies ``Xi -> [Xi, A]`` and its adjoint
block by block, and :func:`solve_vertical` finds the vertical component of a
vector as a least-squares problem ``min_Xi ||[Xi, A] - V||`` with LSQR. Least
squares, not a linear solve: some widths (e.g. 3, 4, 5, 2) have a nontrivial
stabiliser at every point, so the bracket has a kernel and the normal
equations are singular. ``part`` restricts ``Xi`` to the symmetric or the
skew-symmetric matrices of ``g`` (the Lie algebra of the orthogonal subgroup).

Plain numpy/scipy, so that the landscape can use it; the geomstats layer is
:mod:`geodln.geometry`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.sparse.linalg import LinearOperator, lsqr

from .data import random_orthogonal
from .topology import Topology

__all__ = [
    "HiddenLevel",
    "hidden_levels",
    "act",
    "check_group_element",
    "random_group_element",
    "group_exp",
    "moment_map",
    "layer_balances",
    "node_balances",
    "range_basis",
    "check_algebra_element",
    "algebra_mask",
    "algebra_dim",
    "bracket",
    "bracket_adjoint",
    "vertical_matrix",
    "vertical_basis",
    "horizontal_basis",
    "orbit_dim",
    "stabilizer_dim",
    "vertical_projection",
    "horizontal_projection",
    "part_basis",
    "bracket_operator",
    "VerticalSolve",
    "solve_vertical",
]

_PARTS = ("all", "sym", "skew")


def algebra_mask(top: Topology) -> np.ndarray:
    """0/1 mask of the Lie algebra ``g`` inside ``(n, n)`` matrices.

    Returns
    -------
    ndarray, shape=[n, n]
        Block diagonal: a full block on hidden levels whose incident blocks are
        all fully connected, the identity pattern on the other hidden levels,
        zero on the input and output levels.

    Examples
    --------
    >>> from geodln import layered
    >>> int(algebra_mask(layered([2, 3, 2])).sum())  # gl(3)
    9
    """
    mask = np.zeros((top.n, top.n))
    slices = top.level_slices
    for level in range(1, top.depth):
        sl = slices[level]
        incident = [blk for blk in top.blocks if level in (blk.a, blk.b)]
        if all(blk.full for blk in incident):
            mask[sl, sl] = 1.0
        else:
            idx = np.arange(sl.start, sl.stop)
            mask[idx, idx] = 1.0
    return mask


def algebra_dim(top: Topology) -> int:
    """``dim g``: ``sum d_i^2`` over fully connected hidden levels, ``d_i`` over the others."""
    return int(algebra_mask(top).sum())


class HiddenLevel(NamedTuple):
    """A hidden level of a network, as the group sees it.

    Attributes
    ----------
    level : int
        Its index ``1 .. h-1``.
    sl : slice
        Its nodes in the node order.
    full : bool
        True when it carries ``GL(d)`` (every incident block fully connected),
        False when it carries node rescalings only.
    """

    level: int
    sl: slice
    full: bool


def hidden_levels(top: Topology) -> list[HiddenLevel]:
    """The hidden levels of ``top`` with the kind of group factor each carries."""
    mask = algebra_mask(top)
    return [HiddenLevel(level, sl, bool(mask[sl, sl].all())) for level, sl in enumerate(top.level_slices[1:-1], start=1)]


# ------------------------------------------------------------- the finite action


def act(top: Topology, S, A) -> np.ndarray:
    """The group action ``S . A = S A S^{-1}`` on an adjacency matrix, block by block.

    ``(S A S^{-1})_ab = S_a A_ab S_b^{-1}`` for every block ``(a, b)`` of the
    topology (in layers: ``W_i -> S_i^{-T} W_i S_{i-1}^T``); each ``S_b^{-1}``
    is a solve with a ``d_b x d_b`` block, never a dense ``n x n`` inverse.
    ``S`` is not checked here (see :func:`check_group_element`).

    Parameters
    ----------
    S : array-like, shape=[n, n]
        A group element: block diagonal on the hidden levels, the identity on
        the input and output levels.
    A : array-like, shape=[n, n]
        A point (or a tangent vector: the action is linear in ``A``).

    Returns
    -------
    ndarray, shape=[n, n]
        Zero off the topology's blocks.

    Examples
    --------
    >>> import numpy as np
    >>> from geodln import layered
    >>> top = layered([2, 3, 2])
    >>> A = top.adjacency(np.arange(1.0, 13.0))
    >>> B = act(top, random_group_element(top, seed=0), A)
    >>> bool(np.allclose(top.end_to_end(top.pack(B)), top.end_to_end(top.pack(A))))
    True
    """
    S, A = np.asarray(S, dtype=float), np.asarray(A, dtype=float)
    out = np.zeros_like(A)
    for blk in top.blocks:
        left = S[blk.rows, blk.rows] @ A[blk.rows, blk.cols]
        out[blk.rows, blk.cols] = np.linalg.solve(S[blk.cols, blk.cols].T, left.T).T
    return out * top.mask


def check_group_element(top: Topology, S, orthogonal: bool = False) -> np.ndarray:
    """``S`` as a float ``(n, n)`` array if it lies in the group, else a ``ValueError`` saying why.

    Parameters
    ----------
    S : array-like, shape=[n, n]
    orthogonal : bool
        Require the orthogonal subgroup ``K`` (every hidden block orthogonal).
    """
    S = np.asarray(S, dtype=float)
    n = top.n
    if S.shape != (n, n):
        raise ValueError(f"S has shape {S.shape}; expected ({n}, {n})")
    if not np.all(np.isfinite(S)):
        raise ValueError("S contains NaN or inf")
    pattern = algebra_mask(top).copy()
    ends = np.flatnonzero((top.layer == 0) | (top.layer == top.depth))
    pattern[ends, ends] = 1.0
    if np.any(S[pattern == 0] != 0):
        raise ValueError(
            "S is not in the group: it must be block diagonal on the hidden levels "
            "(diagonal on levels with sparse connections) and the identity on the input and output levels"
        )
    if not np.array_equal(S[ends, ends], np.ones(ends.size)):
        raise ValueError("S must be the identity on the input and output levels")
    for level, sl, _ in hidden_levels(top):
        block = S[sl, sl]
        sv = np.linalg.svd(block, compute_uv=False)
        if sv[0] == 0 or sv[-1] <= 1e-14 * sv[0]:
            raise ValueError(f"S is singular on hidden level {level}: a group element must be invertible")
        if orthogonal and np.abs(block.T @ block - np.eye(block.shape[0])).max() > 1e-10:
            raise ValueError(f"S is not orthogonal on hidden level {level}; use the full group for general S")
    return S


def random_group_element(top: Topology, seed=None, group: str = "GL", spread: float = 0.5) -> np.ndarray:
    """A random group element ``S``, shape=[n, n] (identity on the input and output levels).

    Parameters
    ----------
    seed : int or numpy.random.Generator, optional
    group : {"GL", "O"}
        ``"GL"``: each ``GL(d)`` block is ``Q_1 diag(exp(U(-spread, spread))) Q_2``
        with Haar ``Q_1, Q_2`` (condition number at most ``e^{2 spread}``,
        both connected components; orthogonal for ``spread = 0``), each
        node-rescaling level random signs times ``exp(U(-spread, spread))``.
        ``"O"``: Haar-distributed ``O(d)`` blocks, random signs on
        node-rescaling levels; ``spread`` is ignored.
    spread : float
        Log-range of the singular values of the ``GL`` blocks.
    """
    if group not in ("GL", "O"):
        raise ValueError(f"group must be 'GL' or 'O', got {group!r}")
    rng = np.random.default_rng(seed)
    S = np.eye(top.n)
    for _, sl, full in hidden_levels(top):
        d = sl.stop - sl.start
        if group == "O":
            S[sl, sl] = random_orthogonal(d, rng) if full else np.diag(rng.choice([-1.0, 1.0], size=d))
        elif full:
            S[sl, sl] = (random_orthogonal(d, rng) * np.exp(rng.uniform(-spread, spread, d))) @ random_orthogonal(d, rng)
        else:
            S[sl, sl] = np.diag(rng.choice([-1.0, 1.0], size=d) * np.exp(rng.uniform(-spread, spread, d)))
    return S


def group_exp(top: Topology, Xi) -> np.ndarray:
    """The group element ``exp(Xi)``, shape=[n, n], by ``scipy.linalg.expm`` on each hidden level.

    (:meth:`geodln.geometry.NetworkBundle.exp` computes the same with
    geomstats' Lie groups; this one serves the modules below geomstats.)

    Parameters
    ----------
    Xi : array-like, shape=[n, n]
        An element of the Lie algebra (entries off :func:`algebra_mask` are an error).
    """
    from scipy.linalg import expm

    Xi = check_algebra_element(top, Xi)
    S = np.eye(top.n)
    for _, sl, _ in hidden_levels(top):
        S[sl, sl] = expm(Xi[sl, sl])
    return S


# -------------------------------------------------------------- the moment map


def _level_grams(top: Topology, theta) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per hidden level ``l``: ``(N_l, M_l)``, each of shape ``(d_l, d_l)``.

    ``N_l = sum_a A_al^T A_al`` over the blocks entering ``l`` and
    ``M_l = sum_b A_lb A_lb^T`` over the blocks leaving it: the level blocks
    of ``A^T A`` and ``A A^T``. The moment map is ``N_l - M_l``.
    """
    theta = top.check_theta(theta)
    grams = {level: (np.zeros((d, d)), np.zeros((d, d))) for level, d in enumerate(top.widths) if 0 < level < top.depth}
    for blk in top.blocks:
        Ab = blk.dense(theta)
        if blk.b in grams:
            grams[blk.b][0][...] += Ab.T @ Ab
        if blk.a in grams:
            grams[blk.a][1][...] += Ab @ Ab.T
    return [grams[level] for level in range(1, top.depth)]


def moment_map(top: Topology, theta) -> np.ndarray:
    """The moment map ``C(A) = P_g(A^T A - A A^T)``, shape=[n, n].

    Its diagonal block on a fully connected hidden level ``i`` is
    ``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}``; on a node-rescaling level it is
    the diagonal of node balances. It is the moment map of the orthogonal
    action and is conserved by the gradient flow of any loss of ``W``.

    Parameters
    ----------
    theta : array-like, shape=[n_params]

    Examples
    --------
    >>> from geodln import layered
    >>> float(moment_map(layered([1, 1, 1]), [3.0, 2.0])[1, 1])  # w1^2 - w2^2
    5.0
    """
    C = np.zeros((top.n, top.n))
    for (_, sl, _), (N, M) in zip(hidden_levels(top), _level_grams(top, theta)):
        C[sl, sl] = N - M
    return C * algebra_mask(top)


def layer_balances(top: Topology, theta) -> list[np.ndarray]:
    """``[C_1, ..., C_{h-1}]``, the level blocks of ``A^T A - A A^T``, shape ``(d_i, d_i)`` each.

    For a layered network ``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}``: conserved by
    the flow of a fully connected one (the blocks of :func:`moment_map`);
    computed, but not conserved, for sparse masks.
    """
    return [N - M for N, M in _level_grams(top, theta)]


def node_balances(top: Topology, theta) -> np.ndarray:
    """``||in-weights of v||^2 - ||out-weights of v||^2`` over the hidden nodes, shape=[n_hidden].

    The diagonal of :func:`moment_map`, conserved for every mask.
    """
    theta = top.check_theta(theta)
    src, tgt = top.edge_index
    sq = theta**2
    return (np.bincount(tgt, sq, top.n) - np.bincount(src, sq, top.n))[top.hidden]


# ---------------------------------------------------------------- the rank rule


def range_basis(M) -> np.ndarray:
    """An orthonormal basis of the column space of ``M``: the package's one numerical rank rule.

    Singular values below ``max(shape) * 1e-12 * s_max`` count as zero (the
    rounding level of an SVD).

    Parameters
    ----------
    M : array-like, shape=[p, q]

    Returns
    -------
    ndarray, shape=[p, rank]
    """
    M = np.asarray(M, dtype=float)
    if M.size == 0:
        return np.zeros((M.shape[0], 0))
    U, sv, _ = np.linalg.svd(M, full_matrices=False)
    return U[:, sv > max(M.shape) * 1e-12 * sv[0]] if sv[0] > 0 else U[:, :0]


def bracket(top: Topology, Xi, theta) -> np.ndarray:
    """The vertical vector ``[Xi, A]`` packed, shape=[n_params].

    Parameters
    ----------
    Xi : array-like, shape=[n, n]
        An element of ``g`` (entries off :func:`algebra_mask` are an error).
    theta : array-like, shape=[n_params]
        The point ``A``.
    """
    Xi = check_algebra_element(top, Xi)
    A = top.adjacency(theta)
    return top.pack(Xi @ A - A @ Xi)


def bracket_adjoint(top: Topology, v, theta) -> np.ndarray:
    """The adjoint of ``Xi -> [Xi, A]``: ``P_g(V A^T - A^T V)``, shape=[n, n].

    Parameters
    ----------
    v : array-like, shape=[n_params]
        A tangent vector (packed).
    theta : array-like, shape=[n_params]
        The point ``A``.
    """
    A, V = top.adjacency(theta), top.adjacency(v)
    return algebra_mask(top) * (V @ A.T - A.T @ V)


def vertical_matrix(top: Topology, theta) -> np.ndarray:
    """The matrix of ``Xi -> pack([Xi, A])`` in the basis ``E_jk`` of ``g``.

    Entry ``(e, (j, k))`` for the edge ``e = s -> t`` is
    ``[s = j] A[k, t] - A[s, j] [t = k]``.

    Returns
    -------
    ndarray, shape=[n_params, dim g]
        Columns ordered as ``numpy.nonzero(algebra_mask(top))``.
    """
    A = top.adjacency(theta)
    J, K = np.nonzero(algebra_mask(top))
    s, t = top.edge_index
    return (s[:, None] == J) * A[K[None, :], t[:, None]] - A[s[:, None], J[None, :]] * (t[:, None] == K)


def vertical_basis(top: Topology, theta) -> np.ndarray:
    """An orthonormal basis of the vertical space ``{[Xi, A]}`` (packed).

    Returns
    -------
    ndarray, shape=[n_params, orbit_dim]
    """
    return range_basis(vertical_matrix(top, theta))


def horizontal_basis(vertical: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the orthogonal complement of an orthonormal vertical basis.

    Parameters
    ----------
    vertical : ndarray, shape=[n_params, k]
        Orthonormal columns, e.g. from :func:`vertical_basis`.

    Returns
    -------
    ndarray, shape=[n_params, n_params - k]
    """
    n, k = vertical.shape
    Q, _ = np.linalg.qr(np.hstack([vertical, np.eye(n)]))
    return Q[:, k:n]


def orbit_dim(top: Topology, theta) -> int:
    """Dimension of the group orbit (fiber) through ``A``: the rank of ``Xi -> [Xi, A]``.

    Examples
    --------
    >>> import numpy as np
    >>> from geodln import layered
    >>> top = layered([2, 2, 2])
    >>> orbit_dim(top, np.zeros(top.n_params)), orbit_dim(top, np.arange(1.0, 9.0))
    (0, 4)
    """
    return vertical_basis(top, theta).shape[1]


def stabilizer_dim(top: Topology, theta) -> int:
    """Dimension of the stabiliser of ``A``: ``dim g`` - :func:`orbit_dim`."""
    return algebra_dim(top) - orbit_dim(top, theta)


def vertical_projection(top: Topology, theta, v) -> np.ndarray:
    """Orthogonal projection of a packed tangent vector onto the vertical space.

    Parameters
    ----------
    theta : array-like, shape=[n_params]
        The point ``A``.
    v : array-like, shape=[n_params] or [n_params, k]
        Tangent vector(s).
    """
    Q = vertical_basis(top, theta)
    v = np.asarray(v, dtype=float)
    return Q @ (Q.T @ v)


def horizontal_projection(top: Topology, theta, v) -> np.ndarray:
    """``v`` minus its vertical part: the component orthogonal to the fiber."""
    v = np.asarray(v, dtype=float)
    return v - vertical_projection(top, theta, v)


def check_algebra_element(top: Topology, Xi) -> np.ndarray:
    """``Xi`` as a float ``(n, n)`` array if it lies in the Lie algebra ``g``, else a ``ValueError``."""
    Xi = np.asarray(Xi, dtype=float)
    if Xi.shape != (top.n, top.n):
        raise ValueError(f"Xi has shape {Xi.shape}; expected ({top.n}, {top.n})")
    if not np.all(np.isfinite(Xi)):
        raise ValueError("Xi contains NaN or inf")
    if np.any(Xi[algebra_mask(top) == 0] != 0):
        raise ValueError("Xi has entries outside the Lie algebra: it must be block diagonal on the hidden levels")
    return Xi


# --------------------------------------------------------------- matrix-free


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
