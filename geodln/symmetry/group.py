"""The hidden-layer group ``G`` and its Lie algebra ``g`` as sets, and the finite action.

``g`` is supported on :func:`algebra_mask` (a full block on hidden levels
that carry ``GL(d)``, the diagonal on levels with sparse connections);
:func:`act` applies ``S . A = S A S^{-1}`` block by block,
``(S A S^{-1})_ab = S_a A_ab S_b^{-1}``, never with a dense inverse.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..network.data import random_orthogonal
from ..network.topology import Topology

__all__ = ["algebra_mask", "algebra_dim", "HiddenLevel", "hidden_levels", "check_algebra_element", "act",
           "check_group_element", "random_group_element", "group_exp"]


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


def act(top: Topology, S, A) -> np.ndarray:
    """The group action ``A -> S A S^{-1}`` on an adjacency matrix, block by block.

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
