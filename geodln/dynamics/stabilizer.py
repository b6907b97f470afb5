"""The Hessian's spectrum block by block, from the orthogonal symmetry that fixes the point.

At a point of a fully connected layered network, let ``F_l`` be the directions of
level ``l`` the network does not use: for a hidden level ``F_l = (col W_l + row
W_{l+1})^perp`` (``W_l F_l``-rows and ``W_{l+1}``-columns vanish). Every orthogonal
``O`` acting on ``F_l`` alone (and as the identity on its complement) moves the
weights by ``W_l -> O W_l``, ``W_{l+1} -> W_{l+1} O^T`` and leaves them where they
are; the loss is invariant under it, hence ``g^T H g = H`` for the orthogonal map
``g`` it induces on the packed weights: ``H`` commutes with the stabiliser
``O(F_0) x ... x O(F_h)``. For the quadratic loss the input and output levels have
such directions too: ``F_h = (col W_h + col Syx)^perp`` (``O^T Syx = Syx``), and for
whitened data ``F_0 = (row W_1 + row Syx)^perp`` (``Sxx = I`` is kept by every ``O``).

With ``K_l`` an orthonormal basis of the used part ``F_l^perp`` (``k_l`` columns) and
``N_l`` one of ``F_l`` (``m_l = d_l - k_l``), the weights split into the group's
isotypic parts (Schur's lemma, the standard representation of ``O(m)`` being
absolutely irreducible), and ``H`` is block diagonal on them:

* the *core*: in each layer ``i`` the directions ``K_i X K_{i-1}^T``, dimension
  ``t = sum_i k_i k_{i-1}``: one dense ``t x t`` block;
* for each level with ``m_l > 0``: ``n (x)`` the directions ``n a^T`` in layer ``l``
  (``a`` in ``K_{l-1}``) and ``b n^T`` in layer ``l + 1`` (``b`` in ``K_{l+1}``), for
  every unit ``n`` in ``F_l``: ``H = I_{m_l} (x) M_l`` with ``M_l`` of size
  ``k_{l-1} + k_{l+1}``, computed at one ``n``, each eigenvalue ``m_l`` times;
* for each layer whose two levels both have free directions: ``n_i n_{i-1}^T``, a
  scalar ``c_i``, ``m_i m_{i-1}`` times.

The sizes add up to ``D``; the whole spectrum, multiplicities included, costs
``t + sum_l (k_{l-1} + k_{l+1}) + h`` Hessian products and eigenvalue problems of
those sizes: memory ``O(t^2 + D)``, no ``D x D`` and no ``D x rank H`` array. At a
critical point of a wide network the used parts are the few directions the learnt
modes and pieces occupy, so ``t`` is small (``~160`` for a 256-wide, 197k-weight
saddle); a network whose layers all have full rank has no free directions and
``t = D``, and the analysis states that it cannot be afforded
(:func:`block_memory`).

Each product is checked against the block structure it must respect: its part
outside its block (a *leak*) must be below :data:`LEAK_RTOL` of the largest product;
free directions are decided by the package's rank rule
(:func:`geodln.symmetry.range_basis`, ``max(d) 1e-12`` of the largest singular
value), which bounds the leak they can cause to that size. A leak above it returns
None (the caller then uses the range of ``H``, :func:`geodln.dynamics.hessian.low_rank_spectrum`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..network.losses import Quadratic
from ..symmetry import horizontal_basis, range_basis
from .hessian import RANGE_BLOCK, HessianOperator, hessian_rank_capacity, matrix_free

if TYPE_CHECKING:
    from .flow import GradientFlow

__all__ = ["Block", "stabilizer_blocks", "block_spectrum", "block_eigenpairs", "block_memory", "rank_memory", "analysis_memory", "LEAK_RTOL"]

LEAK_RTOL = 1e-9
"""The largest part of a product outside its block, relative to the largest product, that the block
spectrum accepts: a tenth of the inertia's zero band (``1e-8`` of the largest eigenvalue), far above the
rounding of the products (``~1e-16``) and above what the rank rule's free directions can leak."""
BATCH_BYTES = 256 * 2 ** 20
"""Memory for one batch of products and their passes (about 12 vectors of ``D`` per direction)."""


@dataclass(frozen=True)
class Block:
    """One isotypic part of the weights under the stabiliser, and how often its spectrum repeats.

    Attributes
    ----------
    spans : tuple of (int, ndarray, ndarray)
        ``(i, L, R)``: the directions ``L[:, p] R[:, q]^T`` of layer ``i`` (1-based), ``L`` of shape
        ``[d_i, a]``, ``R`` of shape ``[d_{i-1}, b]``, orthonormal columns; at most one span per layer.
    multiplicity : int
        How many orthogonal copies of the block the group moves it to (each eigenvalue's multiplicity).
    name : str
        ``"core"``, ``"level l"`` or ``"layer i"``.
    """

    spans: tuple
    multiplicity: int
    name: str

    @property
    def size(self) -> int:
        """The block's dimension: the order of its eigenvalue problem."""
        return sum(L.shape[1] * R.shape[1] for _, L, R in self.spans)


def _used(parts) -> np.ndarray:
    """An orthonormal basis of the sum of the column spaces of ``parts``, each by its own rank rule."""
    bases = [range_basis(P) for P in parts]
    return range_basis(np.hstack(bases)) if sum(B.shape[1] for B in bases) else bases[0]


def _level_splits(flow: GradientFlow, theta) -> list:
    """``(K_l, N_l)`` for each level: orthonormal bases of the used directions and of the free ones."""
    top, data = flow.top, flow.data
    Ws, h = top.layer_weights(theta), top.depth
    quadratic = isinstance(flow.loss_fn, Quadratic)
    splits = []
    for level, d in enumerate(top.widths):
        if 0 < level < h:
            K = _used([Ws[level - 1], Ws[level].T])
        elif level == h and quadratic:
            K = _used([Ws[h - 1], data.Syx])
        elif level == 0 and quadratic and data.whitened:
            K = _used([Ws[0].T, data.Syx.T])
        else:  # no orthogonal symmetry of the loss at this end
            K = np.eye(d)
        splits.append((K, horizontal_basis(K) if K.shape[1] < d else np.zeros((d, 0))))
    return splits


def stabilizer_blocks(flow: GradientFlow, theta) -> list[Block]:
    """The isotypic blocks of the weights at ``theta`` (module notes), empty blocks left out.

    Parameters
    ----------
    flow : geodln.GradientFlow
        A fully connected layered network.
    theta : array-like, shape=[n_params]

    Returns
    -------
    list of Block
        ``sum(b.size * b.multiplicity) == n_params``.
    """
    top = flow.top
    if not top.is_fully_connected:
        raise ValueError(f"the stabiliser blocks need a fully connected layered network, got {top!r}")
    theta = top.check_theta(theta)
    splits, h = _level_splits(flow, theta), top.depth
    blocks = [Block(tuple((i, splits[i][0], splits[i - 1][0]) for i in range(1, h + 1)), 1, "core")]
    for level, (_, N) in enumerate(splits):
        if N.shape[1]:
            n = N[:, :1]
            spans = ((level, n, splits[level - 1][0]),) if level >= 1 else ()
            spans += ((level + 1, splits[level + 1][0], n),) if level < h else ()
            blocks.append(Block(spans, N.shape[1], f"level {level}"))
    for i in range(1, h + 1):
        (_, Ni), (_, Nj) = splits[i], splits[i - 1]
        if Ni.shape[1] and Nj.shape[1]:
            blocks.append(Block(((i, Ni[:, :1], Nj[:, :1]),), Ni.shape[1] * Nj.shape[1], f"layer {i}"))
    return [b for b in blocks if b.size]


def _segments(top) -> dict:
    """Layer ``i`` -> its packed slice; the slice holds ``W_i^T`` row-major (shape ``(d_{i-1}, d_i)``)."""
    return {blk.b: blk.segment for blk in top.blocks}


def _batch(n_params: int) -> int:
    """Directions per batch of products: :data:`BATCH_BYTES` over ~12 vectors of ``D`` each."""
    return int(np.clip(BATCH_BYTES // (12 * 8 * max(n_params, 1)), 1, 64))


def _block_matrix(op, top, block: Block) -> tuple[np.ndarray, float, float]:
    """``M = B^T H B`` on the block's orthonormal directions ``B``, the largest leak and product norm."""
    seg = _segments(top)
    directions = [(i, p, q) for i, L, R in block.spans for p in range(L.shape[1]) for q in range(R.shape[1])]
    spans = {i: (L, R) for i, L, R in block.spans}
    M, leak, size, step = np.empty((block.size, block.size)), 0.0, 0.0, _batch(top.n_params)
    for start in range(0, len(directions), step):
        chunk = directions[start:start + step]
        V = np.zeros((top.n_params, len(chunk)))
        for j, (i, p, q) in enumerate(chunk):  # the direction L_p R_q^T, stored transposed
            L, R = spans[i]
            V[seg[i], j] = np.outer(R[:, q], L[:, p]).ravel()
        Y = op(V)
        size = max(size, float(np.linalg.norm(Y, axis=0).max()))
        rows, outside = [], np.zeros(len(chunk))
        for i in range(1, top.depth + 1):
            d_in, d_out = top.widths[i - 1], top.widths[i]
            Wy = Y[seg[i]].T.reshape(len(chunk), d_in, d_out).transpose(0, 2, 1)  # (K, d_i, d_{i-1})
            if i not in spans:
                outside += np.einsum("kab,kab->k", Wy, Wy)
                continue
            L, R = spans[i]
            C = L.T @ Wy @ R  # (K, a, b): the coordinates in this span
            rest = Wy - L @ C @ R.T
            outside += np.einsum("kab,kab->k", rest, rest)
            rows.append(C.reshape(len(chunk), -1))
        M[:, start:start + len(chunk)] = np.hstack(rows).T
        leak = max(leak, float(np.sqrt(outside.max())))
    return M, leak, size


def block_spectrum(flow: GradientFlow, theta, scale: float = 0.0) -> np.ndarray | None:
    """The Hessian's whole spectrum from its stabiliser blocks (module notes), or None on a leak.

    Parameters
    ----------
    flow : geodln.GradientFlow
        A fully connected layered network (with or without weight decay: ``lambda I`` commutes with the group).
    theta : array-like, shape=[n_params]
    scale : float, optional
        The problem's natural size of a Hessian entry (``Tolerances.hessian_scale``): it floors the size the
        leaks are compared with, where the Hessian vanishes and only rounding is left (as the inertia's
        threshold is floored).

    Returns
    -------
    ndarray, shape=[n_params], or None
        The eigenvalues of ``H``, increasing, each block's as often as its multiplicity; None when a product
        leaves its block by more than :data:`LEAK_RTOL` of the largest product (the free directions were
        not exactly free).
    """
    parts = _decompose(flow, theta, scale, vectors=False)
    if parts is None:
        return None
    return np.sort(np.concatenate([np.repeat(lam, block.multiplicity) for block, lam, _ in parts]))


def _decompose(flow: GradientFlow, theta, scale: float, vectors: bool) -> list | None:
    """``(block, eigenvalues, eigenvectors in the block's coordinates or None)`` for every block, or None
    on a leak (:func:`block_spectrum`)."""
    top = flow.top
    theta = top.check_theta(theta)
    op = HessianOperator(flow, theta)
    parts, leak, size = [], 0.0, 0.0
    for block in stabilizer_blocks(flow, theta):
        M, block_leak, block_size = _block_matrix(op, top, block)
        leak, size = max(leak, block_leak), max(size, block_size)
        M = 0.5 * (M + M.T)
        parts.append((block, *np.linalg.eigh(M)) if vectors else (block, np.linalg.eigvalsh(M), None))
    return None if leak > LEAK_RTOL * max(size, scale) else parts


def block_eigenpairs(flow: GradientFlow, theta, rtol: float, scale: float = 0.0):
    """The Hessian's eigenvalues outside the zero band, each with one eigenvector and its multiplicity.

    The stabiliser maps a block's eigenvector to ``multiplicity`` orthonormal eigenvectors of the same
    eigenvalue (the block's copies): one of them stands for all, so the eigenvectors kept cost memory
    ``O(D p)`` for ``p`` distinct block eigenvalues, not ``O(D r)`` for ``r = rank H``.

    Parameters
    ----------
    flow : geodln.GradientFlow
    theta : array-like, shape=[n_params]
    rtol, scale : float
        The zero band ``|lambda| <= rtol * max(max |lambda|, scale)`` (:func:`geodln.dynamics.hessian.inertia`).

    Returns
    -------
    (eigenvalues, multiplicities, vectors) or None
        Shapes ``[p]``, ``[p]``, ``[n_params, p]`` (unit columns, ``H v = lambda v``), increasing; None on a
        leak (:func:`block_spectrum`).
    """
    parts = _decompose(flow, theta, scale, vectors=True)
    if parts is None:
        return None
    top, seg = flow.top, _segments(flow.top)
    tol = rtol * max(max((float(np.abs(lam).max()) for _, lam, _ in parts), default=0.0), scale)
    values, counts, columns = [], [], []
    for block, lam, X in parts:
        for j in np.flatnonzero(np.abs(lam) > tol):
            v, offset = np.zeros(top.n_params), 0
            for i, L, R in block.spans:  # the coordinates of span (i, L, R) are C in L C R^T
                C = X[offset:offset + L.shape[1] * R.shape[1], j].reshape(L.shape[1], R.shape[1])
                v[seg[i]] = (R @ C.T @ L.T).ravel()
                offset += C.size
            values.append(float(lam[j]))
            counts.append(block.multiplicity)
            columns.append(v)
    order = np.argsort(values, kind="stable")
    vectors = np.array(columns).T[:, order] if columns else np.zeros((top.n_params, 0))
    return np.asarray(values)[order], np.asarray(counts, dtype=int)[order], vectors


def block_memory(flow: GradientFlow, theta) -> int:
    """The bytes the analysis of a point needs with :func:`block_spectrum`: the largest block's matrix and
    ``eigvalsh`` workspace (``~3 s^2`` doubles), one batch of products and passes, the spectrum, the level
    bases, and the point's own arrays (the network's ``n x n`` mask, ~8 vectors of ``D``: weights, their
    projection, gradients, Newton's step)."""
    return _block_bytes(flow.top, max((b.size for b in stabilizer_blocks(flow, theta)), default=0))


def rank_memory(top, rank: int) -> int:
    """:func:`block_memory` at any point of ``top`` (fully connected, layered) whose layers have rank at most
    ``rank``: each level then uses at most ``min(d_l, 2 rank)`` directions (``col W_l + row W_{l+1}``), so the
    core block has at most ``sum_i min(d_i, 2 rank) min(d_{i-1}, 2 rank)`` weights. For a statement made
    before the points are known (the itinerary's visits, near critical points of rank at most the data's)."""
    k = [min(int(d), 2 * int(rank)) for d in top.widths]
    return _block_bytes(top, sum(a * b for a, b in zip(k, k[1:])))


def _block_bytes(top, largest: int) -> int:
    bases = sum(int(d) ** 2 for d in top.widths)
    D = top.n_params
    return 8 * (3 * largest ** 2 + 12 * _batch(D) * D + 11 * D + 2 * bases + top.n ** 2)


def analysis_memory(flow: GradientFlow, theta) -> int:
    """The bytes the analysis of a point needs (its Hessian spectrum): the package's one estimate.

    Dense (at most :data:`geodln.dynamics.hessian.MATRIX_FREE_ABOVE` weights): ``H``, its batch of products
    and ``eigvalsh``'s workspace, ``~4 D^2`` doubles. Matrix-free on a fully connected layered network:
    :func:`block_memory`. On other topologies (:func:`geodln.dynamics.hessian.low_rank_spectrum`): the range
    basis of ``D x r`` with ``r`` at most :func:`geodln.dynamics.hessian.hessian_rank_bound`, ``Q^T H Q``
    and its eigenvalues (``2 r^2``), a block of products and its passes (``~8 RANGE_BLOCK`` vectors of
    ``D``). An upper bound, not a measurement.
    """
    n = flow.top.n_params
    if not matrix_free(n):
        return 8 * 4 * n * n
    if flow.top.is_fully_connected:
        return block_memory(flow, theta)
    r = hessian_rank_capacity(flow, theta)
    return 8 * (n * (r + 8 * RANGE_BLOCK) + 2 * r * r)
