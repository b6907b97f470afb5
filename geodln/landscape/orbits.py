"""Critical points of any network up to its symmetry group: orbit invariants, remnants, balanced representatives.

The group ``G`` of a topology (:mod:`geodln.symmetry`: ``GL(d)`` on fully
connected hidden levels, node rescalings elsewhere) acts level by level,
``A -> S A S^{-1}`` with ``S`` block diagonal. The level transfer maps

    T_ab = P_a^T (sum_{k>=1} A^k) P_b,   shape (d_a, d_b),

(the sum of the products of the weights along every path from level ``a`` to
level ``b``) move as ``T_ab -> S_a T_ab S_b^{-1}``, so their ranks are orbit
invariants, and so are, for each data mode ``k``, whether the input vector
``x_k`` reaches level ``b`` (``T_0b^T x_k != 0``) and whether level ``a``
reaches the output vector ``u_k`` (``T_ah u_k != 0``); the ranks of ``T_0b^T X``
and ``T_ah U`` are used. For a fully connected
layered network these are the ranks of the partial products and the reaches
that fix a stratum (:mod:`geodln.landscape.readout`). Together with the
critical value and the Hessian's inertia (a congruence invariant at a critical
point, Sylvester) they make the signature two points of one orbit share.

A numerically refined point carries small remnants (weights Newton is still
shrinking at a degenerate saddle): :func:`drop_remnants` zeroes the block
singular values (entries, for sparse blocks) below the widest gap of the
ladder, so that rank decisions are made on a gap, not on a threshold, and
only where the cut leaves every transfer rank as it was.
:func:`balanced_point` is the canonical representative: the point of the
orbit on the zero level of the moment map (the minimiser of ``||A||_F`` on a
closed orbit), when the orbit reaches it.
"""

from __future__ import annotations

import numpy as np

from ..network.topology import Topology
from ..symmetry import ConservedLevel

__all__ = ["level_transfers", "transfer_ranks", "drop_remnants", "orbit_invariants", "balanced_point"]

RANK_RTOL = 1e-3
"""A singular value of ``T_ab`` counts as nonzero above ``RANK_RTOL * unit^(b-a)``, ``unit = s_1^(1/h)`` the
weight scale of a learnt mode's link. Not at rounding level: where the Hessian is small across the critical
set (``lambda ~ 1e-5`` at a weakly coupled dangling weight of a sparse mask) a point certified to a gradient
``g`` is only ``g / lambda ~ 1e-6`` from the set, and a rank-deficient ``T_ab`` shows singular values that size (measured: up to 1.5e-5)."""


def level_transfers(top: Topology, theta) -> dict:
    """``{(a, b): T_ab}`` for every pair of levels ``a < b``, each of shape ``(d_a, d_b)`` (module notes).

    Computed block by block, ``T_ab = sum_{c} T_ac A_cb`` over the blocks ``(c, b)`` with
    ``a <= c`` (``T_aa = I``): no power of the ``n x n`` matrix is formed.

    Examples
    --------
    >>> from geodln import layered
    >>> top = layered([1, 1, 1])
    >>> float(level_transfers(top, [2.0, 3.0])[(0, 2)][0, 0])  # w2 w1
    6.0
    """
    theta = top.check_theta(theta)
    dense = [(blk, blk.dense(theta)) for blk in top.blocks]
    out = {}
    for a in range(top.depth):
        reach = {a: np.eye(top.widths[a])}
        for b in range(a + 1, top.depth + 1):
            T = np.zeros((top.widths[a], top.widths[b]))
            for blk, B in dense:
                if blk.b == b and blk.a in reach:
                    T += reach[blk.a] @ B
            reach[b] = out[(a, b)] = T
    return out


def drop_remnants(top: Topology, theta, unit: float, gap: float) -> np.ndarray:
    """``theta`` with the weights below the widest gap of its ladder set to zero.

    The ladder is the singular values of the fully connected blocks and the
    absolute entries of the sparse ones, over ``unit``, that are at most 1 (and
    1 itself); if its widest ratio between neighbours is at least ``gap`` the
    values below it are zeroed (truncated SVDs for full blocks). Otherwise
    ``theta`` is returned unchanged. A cut is refused when it changes the rank
    of any level transfer map ``T_ab`` (:func:`transfer_ranks`): the weights
    it drops must already be invisible to the orbit invariants, so that the
    decision is the group's, not the representative's. (A single dangling
    weight is a rank-one ``T_ab`` wherever the group moves it; a cut by
    magnitude alone sent it to the origin from one place of its orbit only.)

    Parameters
    ----------
    theta : array-like, shape=[n_params]
    unit : float
        The weight scale, ``s_1^(1/h)``.
    gap : float
        ``Tolerances.plateau_gap``.

    Returns
    -------
    ndarray, shape=[n_params]
    """
    theta = top.check_theta(theta).copy()
    svds = [np.linalg.svd(blk.dense(theta), full_matrices=False) if blk.full else None for blk in top.blocks]
    values = np.concatenate([sv[1] if sv is not None else np.abs(theta[blk.segment])
                             for blk, sv in zip(top.blocks, svds)]) / unit
    ladder = np.sort(np.concatenate([[1.0], values[(values > 0) & (values <= 1.0)]]))[::-1]
    if ladder.size < 2:
        return theta
    ratios = ladder[:-1] / np.maximum(ladder[1:], 1e-300)
    j = int(np.argmax(ratios))
    if ratios[j] < gap:
        return theta
    cut = np.sqrt(ladder[j] * ladder[j + 1]) * unit  # the middle of the gap, away from both sides
    clean = theta.copy()
    for blk, sv in zip(top.blocks, svds):
        if sv is None:
            seg = clean[blk.segment]
            seg[np.abs(seg) < cut] = 0.0
        else:
            U, s, Vt = sv
            blk.gather((U * np.where(s > cut, s, 0.0)) @ Vt, clean)
    return clean if transfer_ranks(top, clean, unit) == transfer_ranks(top, theta, unit) else theta


def transfer_ranks(top: Topology, theta, unit: float) -> tuple:
    """``((a, b), rank T_ab)`` for every pair of levels ``a < b``, sorted: ranks counted above
    :data:`RANK_RTOL` ``* unit^(b - a)`` (orbit invariants: ``T_ab -> S_a T_ab S_b^{-1}``).

    Examples
    --------
    >>> from geodln import layered
    >>> transfer_ranks(layered([1, 1, 1]), [2.0, 0.0], 1.0)
    (((0, 1), 1), ((0, 2), 0), ((1, 2), 0))
    """
    return tuple(sorted((ab, _rank(M, RANK_RTOL * unit ** (ab[1] - ab[0])))
                        for ab, M in level_transfers(top, theta).items()))


def _rank(M: np.ndarray, threshold: float) -> int:
    return 0 if M.size == 0 else int(np.sum(np.linalg.svd(M, compute_uv=False) > threshold))


def orbit_invariants(top: Topology, theta, inputs, outputs, unit: float) -> tuple:
    """The ranks the group cannot change: of every ``T_ab``, of ``T_0b^T X`` and ``T_ah U`` per level.

    Parameters
    ----------
    theta : array-like, shape=[n_params]
    inputs : ndarray, shape=[d_0, m]
        The modes' input vectors ``x_k`` (:attr:`geodln.Data.input_modes`).
    outputs : ndarray, shape=[d_h, m]
        The modes' output vectors ``u_k``.
    unit : float
        The weight scale ``s_1^(1/h)`` (see :data:`RANK_RTOL`).

    Returns
    -------
    tuple
        ``(ranks, reach_in, reach_out)``: ``ranks[(a, b)]`` as a sorted tuple of pairs, and per level the
        rank of the modes' images there (``T_0b^T X``, ``T_ah U``). Which modes reach a level is not part
        of it: on weakly coupled dangling weights that decision sits at the noise (the stratum label of a
        fully connected network, read with its own ambiguity checks, tells those strata apart).
    """
    T = level_transfers(top, theta)
    h = top.depth
    reach_in = tuple((b, _rank(T[(0, b)].T @ inputs, RANK_RTOL * unit ** b)) for b in range(1, h + 1))
    reach_out = tuple((a, _rank(T[(a, h)] @ outputs, RANK_RTOL * unit ** (h - a))) for a in range(h))
    return transfer_ranks(top, theta, unit), reach_in, reach_out


def balanced_point(top: Topology, theta) -> np.ndarray | None:
    """The point of the orbit of ``theta`` where the moment map vanishes (``C = 0``), or None.

    Newton's method along the orbit onto the zero level
    (:meth:`geodln.symmetry.ConservedLevel.project`); None when it is not
    reached, as for an orbit that is not closed (a dangling piece can be
    scaled towards zero, never balanced).

    Examples
    --------
    >>> from geodln import layered
    >>> np.round(np.abs(balanced_point(layered([1, 1, 1]), [4.0, 1.0])), 9).tolist()  # |w1| = |w2| = 2
    [2.0, 2.0]
    """
    level = ConservedLevel.of_moment(top, np.zeros((top.n, top.n)))
    try:
        return level.project(np.asarray(theta, dtype=float), newton=True)
    except ValueError:
        return None
