"""The moment map of the orthogonal action: the conserved balances of the flow.

``C(A) = P_g(A^T A - A A^T)``; its level blocks are the layer balances
``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}``, its diagonal the node balances
(squared in-weights minus squared out-weights). The gradient of a loss of
``W`` is orthogonal to every orbit, so the flow conserves them (Noether).
"""

from __future__ import annotations

import numpy as np

from ..network.topology import Topology
from .group import algebra_mask, hidden_levels

__all__ = ["moment_map", "layer_balances", "node_balances"]


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
