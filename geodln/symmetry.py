"""The infinitesimal action of the hidden-layer group on the adjacency matrix.

The group ``G`` acts on a network by block-diagonal similarity
``A -> S A S^{-1}``, with ``S`` the identity on the input and output levels;
the similarity leaves ``sum_k A^k`` and hence the end-to-end map ``W`` (and
every loss of ``W``) unchanged. Its Lie algebra ``g`` is the set of matrices
``Xi`` supported on :func:`algebra_mask`: a full ``d_i x d_i`` block on every
hidden level all of whose incoming and outgoing blocks are fully connected
(``GL(d_i)``: for a layered network ``W_i -> G_i W_i G_{i-1}^{-1}``), and the
diagonal (node rescalings, the only similarities that keep a sparse mask)
on the other hidden levels.

At ``A`` the action's differential is ``Xi -> [Xi, A] = Xi A - A Xi``; its
image is the vertical space (the tangent space of the fiber through ``A``),
its orthogonal complement in the packed weights the horizontal space. With
``<V, [Xi, A]> = <V A^T - A^T V, Xi>``, the adjoint is
``V -> P_g(V A^T - A^T V)``. Orbit dimension = rank of ``Xi -> [Xi, A]``,
stabiliser dimension = ``dim g`` - orbit dimension.

Plain numpy/scipy, so that the landscape can use it; the geomstats layer is
:mod:`geodln.geometry`.
"""

from __future__ import annotations

import numpy as np

from .topology import Topology

__all__ = [
    "algebra_mask",
    "algebra_dim",
    "bracket",
    "bracket_adjoint",
    "vertical_matrix",
    "vertical_basis",
    "orbit_dim",
    "stabilizer_dim",
    "vertical_projection",
    "horizontal_projection",
]


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


def bracket(top: Topology, Xi, theta) -> np.ndarray:
    """The vertical vector ``[Xi, A]`` packed, shape=[n_params].

    Parameters
    ----------
    Xi : array-like, shape=[n, n]
        An element of ``g`` (entries off :func:`algebra_mask` are an error).
    theta : array-like, shape=[n_params]
        The point ``A``.
    """
    Xi = _check_algebra(top, Xi)
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


def _rank_tol(sv: np.ndarray, shape) -> float:
    """Singular values below ``max(shape) * 1e-12 * s_max`` count as zero."""
    return max(shape) * 1e-12 * (sv[0] if sv.size else 0.0)


def vertical_basis(top: Topology, theta) -> np.ndarray:
    """An orthonormal basis of the vertical space ``{[Xi, A]}`` (packed).

    Returns
    -------
    ndarray, shape=[n_params, orbit_dim]
    """
    L = vertical_matrix(top, theta)
    if L.size == 0:
        return np.zeros((top.n_params, 0))
    U, sv, _ = np.linalg.svd(L, full_matrices=False)
    return U[:, sv > _rank_tol(sv, L.shape)] if sv[0] > 0 else U[:, :0]


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


def _check_algebra(top: Topology, Xi) -> np.ndarray:
    Xi = np.asarray(Xi, dtype=float)
    if Xi.shape != (top.n, top.n):
        raise ValueError(f"Xi has shape {Xi.shape}; expected ({top.n}, {top.n})")
    if np.any(Xi[algebra_mask(top) == 0] != 0):
        raise ValueError("Xi has entries outside the Lie algebra: it must be block diagonal on the hidden levels")
    return Xi
