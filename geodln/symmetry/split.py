"""The infinitesimal action ``Xi -> [Xi, A]``: vertical and horizontal spaces, orbit dimensions.

The vertical space at ``A`` is ``{[Xi, A] : Xi in g}`` (the tangent space of
the fiber), the horizontal space its orthogonal complement in the packed
weights; orbit dimension = rank of the bracket, stabiliser dimension =
``dim g`` - orbit dimension. :func:`range_basis` is the package's one
numerical rank rule.
"""

from __future__ import annotations

import numpy as np

from ..network.topology import Topology
from .group import algebra_dim, algebra_mask, check_algebra_element

__all__ = ["range_basis", "bracket", "bracket_adjoint", "vertical_matrix", "vertical_basis", "horizontal_basis",
           "orbit_dim", "stabilizer_dim", "vertical_projection", "horizontal_projection"]

RANK_RTOL = 1e-12
"""Relative rank threshold of :func:`range_basis`, times the larger dimension: about 4500 ulps (2.2e-16) of
the largest singular value, the rounding an SVD and the products feeding it leave in directions that are
exactly zero; a genuine singular value this small relative to the largest would be refused as zero
(the shipped catalogs' orbit and stabiliser dimensions are counted with it)."""


def range_basis(M) -> np.ndarray:
    """An orthonormal basis of the column space of ``M``: the package's one numerical rank rule.

    Singular values below ``max(shape) * RANK_RTOL * s_max`` count as zero (the
    rounding level of an SVD, :data:`RANK_RTOL`).

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
    return U[:, sv > max(M.shape) * RANK_RTOL * sv[0]] if sv[0] > 0 else U[:, :0]


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
