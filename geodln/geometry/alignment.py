"""Alignment in the quotient by the orthogonal group: block Procrustes and the quotient distance.

``||A||_F`` is invariant under ``K = O(d_1) x ... x O(d_{h-1})`` only (not
under GL), so the orbit space of ``K`` carries the distance

    d([A], [B]) = min_{k in K} ||A - k B k^T||_F,
    ||A - k B k^T||^2 = ||A||^2 + ||B||^2 - 2 <A, k B k^T>.

:func:`align` maximises ``<A, k B k^T>`` by block coordinate ascent: with the
other blocks fixed, hidden level ``l`` solves the Procrustes problem
``max <k_l, M_l>``, ``M_l = sum_b A_lb k_b B_lb^T + sum_a A_al^T k_a B_al``, in
closed form (``k_l = U V^T`` from the SVD of ``M_l``; a sign per node on
node-rescaling levels). Written by hand: geomstats' own aligner needs an
autodiff backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import symmetry as sy
from ..network.topology import Topology

__all__ = ["Alignment", "align"]


@dataclass(frozen=True)
class Alignment:
    """Result of :meth:`NetworkBundle.align`: the point ``k B k^T`` of the orbit of ``B`` nearest to ``A``.

    Attributes
    ----------
    aligned : ndarray, shape=[n, n]
        ``k B k^T``.
    k : ndarray, shape=[n, n]
        The orthogonal block-diagonal group element.
    distance : float
        ``||A - k B k^T||_F``, the quotient distance found.
    gradient_norm : float
        Norm of the Riemannian gradient of ``||A - k B k^T||^2`` over ``K`` at
        ``k`` (``sqrt(sum_l ||k_l^T M_l - M_l^T k_l||^2)``): 0 at a critical
        point, the residual to check.
    restart_distances : ndarray, shape=[n_starts]
        The distance reached from each start (greedy forward, greedy
        backward, then random): how nonconvex the problem was.
    """

    aligned: np.ndarray
    k: np.ndarray
    distance: float
    gradient_norm: float
    restart_distances: np.ndarray = field(repr=False)


def align(top: Topology, A: np.ndarray, B: np.ndarray, n_restarts: int = 8, seed=0, tol: float = 1e-14,
          max_sweeps: int = 2000) -> Alignment:
    """Move ``B`` along its ``K``-orbit to the point nearest to ``A`` (block Procrustes).

    The problem is nonconvex, so the coordinate ascent starts from a greedy
    forward sweep (each level's Procrustes step using only the levels already
    fixed), a greedy backward sweep and ``n_restarts`` Haar-random points,
    and the best result is kept.

    Parameters
    ----------
    top : Topology
    A, B : ndarray, shape=[n, n]
        Points of ``top``, not checked here.
    n_restarts, seed, tol, max_sweeps
        As in :meth:`NetworkBundle.align`, the checked entry point.

    Returns
    -------
    Alignment

    Examples
    --------
    >>> import numpy as np
    >>> from geodln import layered, symmetry
    >>> top = layered([2, 3, 2])
    >>> A = top.adjacency(np.arange(1.0, 13.0))
    >>> B = symmetry.act(top, symmetry.random_group_element(top, seed=0, group="O"), A)
    >>> bool(align(top, A, B).distance < 1e-10)
    True
    """
    levels = sy.hidden_levels(top)
    rng = np.random.default_rng(seed)
    scale = float(np.sum(A * A) + np.sum(B * B)) or 1.0
    best, dists = None, []
    for start in ["forward", "backward"] + [None] * int(n_restarts):
        if start is None:
            k = sy.random_group_element(top, rng, "O")
        else:
            k = _greedy_start(top, levels, A, B, backward=start == "backward")
        k = _coordinate_ascent(top, levels, A, B, k, tol * scale, max_sweeps)
        aligned = sy.act(top, k, B)
        dist = float(np.linalg.norm(A - aligned))
        dists.append(dist)
        if best is None or dist < best[0]:
            best = (dist, k, aligned)
    dist, k, aligned = best
    return Alignment(aligned, k, dist, _gradient_norm(top, levels, A, B, k), np.array(dists))


def _procrustes_target(top: Topology, A, B, k, lv: sy.HiddenLevel, known=None) -> np.ndarray:
    """``M_l``, shape=[d_l, d_l], using only neighbours in ``known`` (levels 0 and h are always known)."""
    M = np.zeros((lv.sl.stop - lv.sl.start,) * 2)
    for blk in top.blocks:
        if blk.a == lv.level and (known is None or blk.b in known or blk.b == top.depth):
            M += A[blk.rows, blk.cols] @ k[blk.cols, blk.cols] @ B[blk.rows, blk.cols].T
        elif blk.b == lv.level and (known is None or blk.a in known or blk.a == 0):
            M += A[blk.rows, blk.cols].T @ k[blk.rows, blk.rows] @ B[blk.rows, blk.cols]
    return M


def _best_block(M: np.ndarray, full: bool) -> np.ndarray:
    """``argmax <k_l, M>`` over ``O(d)`` (``full``) or over diagonal sign matrices."""
    if full:
        U, _, Vt = np.linalg.svd(M)
        return U @ Vt
    return np.diag(np.where(np.diag(M) < 0, -1.0, 1.0))


def _greedy_start(top: Topology, levels: list[sy.HiddenLevel], A, B, backward: bool) -> np.ndarray:
    k = np.eye(top.n)
    known: set[int] = set()
    for lv in levels[::-1] if backward else levels:
        k[lv.sl, lv.sl] = _best_block(_procrustes_target(top, A, B, k, lv, known), lv.full)
        known.add(lv.level)
    return k


def _coordinate_ascent(top: Topology, levels: list[sy.HiddenLevel], A, B, k, tol: float, max_sweeps: int) -> np.ndarray:
    """Forward-then-backward sweeps of exact block steps until ``<A, k B k^T>`` gains less than ``tol``."""
    value = float(np.sum(A * sy.act(top, k, B)))
    for _ in range(max_sweeps):
        for lv in levels + levels[-2::-1]:
            k[lv.sl, lv.sl] = _best_block(_procrustes_target(top, A, B, k, lv), lv.full)
        new = float(np.sum(A * sy.act(top, k, B)))
        if new - value <= tol:
            break
        value = new
    return k


def _gradient_norm(top: Topology, levels: list[sy.HiddenLevel], A, B, k) -> float:
    """``sqrt(sum_l ||k_l^T M_l - M_l^T k_l||^2)`` over the ``O(d)`` levels (sign levels are discrete)."""
    total = 0.0
    for lv in levels:
        if lv.full:
            KM = k[lv.sl, lv.sl].T @ _procrustes_target(top, A, B, k, lv)
            total += float(np.sum((KM - KM.T) ** 2))
    return float(np.sqrt(total))
