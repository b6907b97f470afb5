"""Second order: the exact Hessian of the loss in the packed weights, its products, and its inertia.

The Hessian-vector product is forward-over-reverse differentiation of the
block-wise gradient of :mod:`geodln.dynamics.flow`: with forward maps ``f_l`` (input to
level ``l``), back-propagated errors ``b_l`` and their derivatives ``df_l``,
``db_l`` along a direction ``V``, the block ``(a, b)`` of ``H V`` is

    -(df_a b_b^T + f_a db_b^T),   df_b = sum_a (dB_ab^T f_a + B_ab^T df_a),
    db_h = -L''(W)[dW],           db_a = sum_b (dB_ab b_b + B_ab db_b),

exact (no finite differences). The dense Hessian stacks ``H e_j``; it is
minus the Jacobian of the gradient flow, which the integrator's exponential
method uses (:func:`flow_jacobian_product`, imported by the flow on first
use), so this module imports nothing of the flow at run time.

Inertia: eigenvalues with ``|lambda| <= tol`` count as zero, where
``tol = rtol * max(max |lambda|, scale)`` (``rtol`` = ``Tolerances.inertia``, 1e-8 by default):
relative to the spectrum, floored by the problem's own scale (``s_1^{2-2/h}``
for data of scale ``s_1``) where the Hessian vanishes and only rounding is
left, so that the counts do not change when the data are scaled.

Matrix-free spectrum (above :data:`MATRIX_FREE_ABOVE` weights): on a fully connected layered network, block
by block from the symmetry that fixes the point (:mod:`geodln.dynamics.stabilizer`); otherwise at a critical
point of a deep linear network on low-rank data the Hessian has low rank ``r``
(most directions are flat), so its range is found exactly by products alone:
blocks of ``H omega`` for Gaussian ``omega``, orthogonalised against the basis
``Q`` found so far, until a block of ``b`` adds fewer than ``b`` new directions
(with probability one the range is then complete). The nonzero eigenvalues are
those of ``Q^T H Q`` (``range(H)`` is invariant), the other ``D - r`` are zero:
the whole spectrum, hence the same inertia as the dense path, in memory
``O(D r)`` and time ``O(D r^2)``, never ``O(D^2)``. Directions whose curvature is
below :data:`RANGE_RTOL` of the products' size are counted as zero, far under
the inertia's own threshold ``1e-8``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..symmetry import horizontal_basis, vertical_basis
from ..symmetry.split import RANK_RTOL
from ..tolerances import DEFAULT_TOLERANCES

if TYPE_CHECKING:  # the flow imports this module when it integrates: no import back at run time
    from .flow import GradientFlow

__all__ = ["hessian_vector_product", "hessian", "HessianOperator", "flow_jacobian_product", "horizontal_hessian",
           "Inertia", "inertia", "lanczos_extremes", "MATRIX_FREE_ABOVE", "matrix_free", "operator_range",
           "low_rank_spectrum", "partial_ranks", "hessian_rank_bound", "hessian_rank_capacity"]

MATRIX_FREE_ABOVE = 3000
"""Above this many weights the analysis of a point forms no ``D x D`` matrix (:func:`low_rank_spectrum`,
the tangent solves of :func:`geodln.nearest_critical_point`); at and below it the dense Hessian is faster
(one batch of ``D`` products and a LAPACK ``eigvalsh``, ~1 s at 3000) and is what the shipped catalogs hold."""
RANGE_RTOL = 1e-12
"""A new direction of a range joins it when its part orthogonal to the range found so far is above this
fraction of the largest product's norm: rounding of the products is ~1e-16 of it, the inertia's zero
band starts at 1e-8 of the largest eigenvalue."""
RANGE_BLOCK = 32
LANCZOS_RTOL = 1e-12
"""ARPACK's relative tolerance in :func:`lanczos_extremes` (its default, machine precision, costs about twice
the products at width 256 for digits no threshold reads)."""


def hessian_vector_product(flow, theta, v) -> np.ndarray:
    """``H(theta) v``, the Hessian of ``L`` applied to packed directions.

    With weight decay ``lambda`` (:class:`geodln.GradientFlow`) it is the Hessian of
    ``L + lambda/2 ||theta||^2``: ``H v + lambda v``. For many products at one
    point, :class:`HessianOperator` does the point's own passes once.

    Parameters
    ----------
    flow : geodln.GradientFlow
    theta : array-like, shape=[n_params]
    v : array-like, shape=[n_params] or [n_params, K]
        One direction, or ``K`` of them as columns (computed together).

    Returns
    -------
    ndarray, the shape of ``v``
    """
    return HessianOperator(flow, theta)(v)


class HessianOperator:
    """``v -> H(theta) v`` at one point, its forward maps and errors computed once.

    Each product then costs only the tangent passes (``df_l``, ``db_l`` of the
    module's formulas): about as much as two evaluations of the vector field,
    exactly, where a central difference costs two and is accurate to ~1e-10.
    Lanczos on the Hessian (the integrator's Krylov products) applies it tens
    of times at the same point.

    Parameters
    ----------
    flow : geodln.GradientFlow
    theta : array-like, shape=[n_params]
    """

    def __init__(self, flow, theta):
        top = flow.top
        theta = top.check_theta(theta)
        self.flow, self.dense = flow, [blk.dense(theta) for blk in top.blocks]
        h = top.depth
        maps = [None] * (h + 1)
        for blk, B in zip(top.blocks, self.dense):  # the forward pass: maps[l] of shape (d_l, d_0)
            f = B.T if blk.a == 0 else B.T @ maps[blk.a]
            maps[blk.b] = f if maps[blk.b] is None else maps[blk.b] + f
        back = [None] * (h + 1)
        back[h] = -flow.loss_fn.gradient(maps[h], flow.data)
        for blk, B in zip(reversed(top.blocks), reversed(self.dense)):  # the errors carried back
            if back[blk.b] is not None and blk.a != 0:
                ba = B @ back[blk.b]
                back[blk.a] = ba if back[blk.a] is None else back[blk.a] + ba
        self.maps, self.back = maps, back
        if flow._chain:  # what the one-direction fast path reuses: block slices and product buffers
            self._slices = [(blk.segment, blk.shape) for blk in top.blocks]
            self._buffers = [(np.empty(m.shape), np.empty(m.shape)) for m in maps[1:]]

    def __call__(self, v) -> np.ndarray:
        """``H v`` for ``v`` of shape ``[n_params]`` or ``[n_params, K]`` (the shape of ``v`` is returned)."""
        out = self.field_tangent(v)
        return np.negative(out, out=out)

    def field_tangent(self, v) -> np.ndarray:
        """``-H v``: the derivative of the vector field ``-grad L`` along ``v`` (the gradient flow's Jacobian).

        One direction is carried through 2-d blocks (the integrator's hot
        path), ``K`` of them through stacks of shape ``(K, d_a, d_b)``.
        """
        flow, maps, back = self.flow, self.maps, self.back
        top = flow.top
        v = np.asarray(v, dtype=float)
        if v.shape[0] != top.n_params or v.ndim not in (1, 2):
            raise ValueError(f"v has shape {v.shape}; expected ({top.n_params},) or ({top.n_params}, K)")
        one = v.ndim == 1
        V = np.ascontiguousarray(v) if one else np.ascontiguousarray(v.T)  # (n_params,) or (K, n_params)
        if one and flow._chain:
            return self._chain_tangent(V)
        h = top.depth
        dblocks = [blk.dense(V) if one else _batch_dense(blk, V) for blk in top.blocks]
        mul = np.dot if one else np.matmul  # ndarray.dot: BLAS straight on transposed 2-d views (matmul copies them)
        dmaps = [None] * (h + 1)
        for blk, B, dB in zip(top.blocks, self.dense, dblocks):  # tangents of the forward maps
            df = _t(dB) if blk.a == 0 else mul(_t(dB), maps[blk.a]) + mul(B.T, dmaps[blk.a])
            dmaps[blk.b] = df if dmaps[blk.b] is None else dmaps[blk.b] + df
        dback = [None] * (h + 1)
        dback[h] = -flow.loss_fn.curvature(maps[h], dmaps[h], flow.data)
        out = np.zeros_like(V)
        gather = (lambda blk, x: blk.gather(x, out)) if one else (lambda blk, x: _batch_gather(blk, x, out))
        for blk, B, dB in zip(reversed(top.blocks), reversed(self.dense), reversed(dblocks)):
            bb, dbb = back[blk.b], dback[blk.b]
            if bb is None:  # nothing from this level reaches the output
                continue
            if blk.a == 0:
                gather(blk, _t(dbb))
                continue
            gather(blk, mul(dmaps[blk.a], bb.T) + mul(maps[blk.a], _t(dbb)))
            dba = mul(dB, bb) + mul(B, dbb)
            dback[blk.a] = dba if dback[blk.a] is None else dback[blk.a] + dba
        if flow.weight_decay:  # the Hessian of lambda/2 ||theta||^2 is lambda I
            out -= flow.weight_decay * V
        return out if one else out.T

    def _chain_tangent(self, v: np.ndarray) -> np.ndarray:
        """:meth:`field_tangent` of one direction for a fully connected layered network.

        The same passes along the chain of blocks ``(i, i + 1)``, without the
        per-block bookkeeping, with block slices and product buffers made once
        per point and each output block written in place (measured at width
        32: 83 us per product against 103 us for the general path).
        """
        flow, maps, back, dense, buffers = self.flow, self.maps, self.back, self.dense, self._buffers
        out = np.empty_like(v)
        dv = [v[seg].reshape(shape) for seg, shape in self._slices]
        dout = [out[seg].reshape(shape) for seg, shape in self._slices]  # views: out is contiguous
        dmaps = [None, dv[0].T]
        for i in range(1, len(dv)):  # dmaps[i + 1] = dB_i^T maps[i] + B_i^T dmaps[i], in buffers
            first, second = buffers[i]
            np.add(dv[i].T.dot(maps[i], out=first), dense[i].T.dot(dmaps[i], out=second), out=first)
            dmaps.append(first)
        dback = flow.loss_fn.curvature(maps[-1], dmaps[-1], flow.data)
        np.negative(dback, out=dback)
        for i in range(len(dv) - 1, 0, -1):
            first, second = buffers[i - 1]
            np.add(dmaps[i].dot(back[i + 1].T), maps[i].dot(dback.T), out=dout[i])  # before dmaps[i]'s buffer is reused
            dback = np.add(dv[i].dot(back[i + 1], out=first), dense[i].dot(dback, out=second), out=first)
        np.copyto(dout[0], dback.T)
        if flow.weight_decay:
            out -= flow.weight_decay * v
        return out


def _t(x: np.ndarray) -> np.ndarray:
    """The transpose of a block or of each block in a stack."""
    return x.swapaxes(-1, -2)


def _batch_dense(blk, V: np.ndarray) -> np.ndarray:
    """The block of each direction in ``V`` (shape ``(K, n_params)``), shape ``(K, d_a, d_b)``."""
    if blk.full:
        return V[:, blk.segment].reshape(len(V), *blk.shape)
    out = np.zeros((len(V), *blk.shape))
    out[:, blk.r, blk.c] = V[:, blk.segment]
    return out


def _batch_gather(blk, dense: np.ndarray, out: np.ndarray) -> None:
    """Write the free entries of ``(K, d_a, d_b)`` blocks into ``out[:, segment]``."""
    out[:, blk.segment] = dense.reshape(len(dense), -1) if blk.full else dense[:, blk.r, blk.c]


def hessian(flow, theta) -> np.ndarray:
    """The dense Hessian ``d^2 L / d theta^2``, shape=[n_params, n_params], symmetrised.

    All ``n_params`` Hessian-vector products are computed as one batch.
    """
    H = hessian_vector_product(flow, theta, np.eye(flow.top.n_params))
    return 0.5 * (H + H.T)


def flow_jacobian_product(flow):
    """``y -> (u -> -H(y) u)``: the gradient flow's exact Jacobian-vector products at a point (for Lanczos)."""
    return lambda theta: HessianOperator(flow, theta).field_tangent



def horizontal_hessian(flow: GradientFlow, theta, H=None) -> tuple[np.ndarray, np.ndarray]:
    """The Hessian restricted to the horizontal space, the orthogonal complement of the fiber.

    The loss is constant on the orbit of the hidden-layer group, so the
    vertical space ``{[Xi, A]}`` lies in the Hessian's kernel at a critical
    point; what the Hessian says about the landscape lives on its complement.

    Parameters
    ----------
    theta : array-like, shape=[n_params]
    H : ndarray, shape=[n_params, n_params], optional
        The dense Hessian at ``theta``, if already computed.

    Returns
    -------
    H_h : ndarray, shape=[k, k]
        ``Q_h^T H Q_h``, with ``k = n_params - orbit_dim``.
    Q_h : ndarray, shape=[n_params, k]
        An orthonormal basis of the horizontal space.
    """
    Qh = horizontal_basis(vertical_basis(flow.top, theta))
    H = hessian(flow, theta) if H is None else H
    return Qh.T @ H @ Qh, Qh


@dataclass(frozen=True)
class Inertia:
    """Counts of negative, zero and positive eigenvalues, and the extremes.

    Attributes
    ----------
    negative, zero, positive : int
    min, max : float
        Smallest and largest eigenvalue.
    tol : float
        The threshold under which ``|lambda|`` counted as zero.
    """

    negative: int
    zero: int
    positive: int
    min: float
    max: float
    tol: float

    def as_dict(self) -> dict:
        return {"negative": self.negative, "zero": self.zero, "positive": self.positive,
                "min": self.min, "max": self.max}


def inertia(eigenvalues, rtol: float = DEFAULT_TOLERANCES.inertia, scale: float = 0.0) -> Inertia:
    """The inertia of a symmetric matrix from its eigenvalues (see the module notes on ``tol``).

    ``scale`` is the problem's natural size of a Hessian entry (for a depth-h
    network on data of scale ``s_1``, ``s_1^{2 - 2/h}``): it floors the
    threshold where the Hessian vanishes and only rounding is left.

    Examples
    --------
    >>> inertia([-2.0, 1e-12, 0.0, 3.0]).as_dict()
    {'negative': 1, 'zero': 2, 'positive': 1, 'min': -2.0, 'max': 3.0}
    """
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.size == 0:
        return Inertia(0, 0, 0, 0.0, 0.0, rtol)
    tol = rtol * max(float(np.abs(lam).max()), scale)
    return Inertia(int(np.sum(lam < -tol)), int(np.sum(np.abs(lam) <= tol)), int(np.sum(lam > tol)),
                   float(lam.min()), float(lam.max()), tol)


def lanczos_extremes(flow: GradientFlow, theta, k: int = 6, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest and ``k`` largest Hessian eigenvalues by Lanczos on the product.

    The smallest ones are found for ``H + sigma I`` with ``sigma`` the largest
    eigenvalue's size: ARPACK's relative tolerance cannot resolve eigenvalues
    at zero, and critical points have large kernels. Each run stops at ARPACK's relative tolerance
    :data:`LANCZOS_RTOL` (of ``sigma`` for the shifted ones), far below the inertia's ``1e-8``.

    Returns
    -------
    smallest, largest : ndarray, shape=[k] each, increasing
    """
    from scipy.sparse.linalg import LinearOperator, eigsh  # on first use, keeping `import geodln` fast

    n = flow.top.n_params
    k = min(k, n - 1)
    v0 = np.random.default_rng(seed).standard_normal(n)

    op = HessianOperator(flow, theta)  # the point's passes once, for every product

    def operator(shift):
        return LinearOperator((n, n), dtype=float, matvec=lambda x: op(np.ravel(x)) + shift * np.ravel(x))

    if not np.any(operator(0.0).matvec(v0)):  # a vanishing Hessian (e.g. the origin of a deep net)
        return np.zeros(k), np.zeros(k)
    ncv = min(n, max(4 * k, 40))  # a wide Krylov space for clustered spectra
    options = {"k": k, "v0": v0, "ncv": ncv, "tol": LANCZOS_RTOL, "return_eigenvectors": False}
    sigma = float(np.abs(eigsh(operator(0.0), which="LM", **options)).max())
    shifted = eigsh(operator(sigma), which="SA", **options)
    largest = np.sort(eigsh(operator(sigma), which="LA", **options)) - sigma
    return np.sort(shifted) - sigma, largest


def matrix_free(n_params: int) -> bool:
    """Whether a point with ``n_params`` weights is analysed matrix-free (above :data:`MATRIX_FREE_ABOVE`)."""
    return n_params > MATRIX_FREE_ABOVE


def operator_range(apply, n_in: int, n_out: int, seed=0, block: int = RANGE_BLOCK, capacity: int | None = None
                   ) -> np.ndarray:
    """An orthonormal basis of the range of a linear map known only by its products.

    Parameters
    ----------
    apply : callable
        ``X -> M X`` for ``X`` of shape ``[n_in, K]``, returning shape ``[n_out, K]``.
    n_in, n_out : int
        The map's shape ``M : R^n_in -> R^n_out``.
    seed : int, optional
        Seeds the Gaussian test blocks.
    block : int
        Columns per block; the search stops at the first block that adds fewer than ``block``
        directions (its images then lie in the range found, with probability one).
    capacity : int, optional
        A bound on the rank (default ``min(n_in, n_out)``): the basis is allocated once at this size;
        a range found larger raises ``ValueError``.

    Returns
    -------
    Q : ndarray, shape=[n_out, rank]
        Orthonormal columns spanning ``range(M)`` up to :data:`RANGE_RTOL` (memory ``O(n_out rank)``).
    """
    rng = np.random.default_rng(seed)
    cap = min(n_in, n_out) if capacity is None else min(capacity, n_in, n_out)
    # one allocation, column-major: the columns not yet written are never touched, so not resident
    store, r, size = np.empty((n_out, cap), order="F"), 0, 0.0
    while r < cap:
        b = min(block, n_in)
        Y = apply(rng.standard_normal((n_in, b)))
        size = max(size, float(np.linalg.norm(Y, axis=0).max()))
        Q = store[:, :r]
        for _ in range(2):  # twice is enough (Kahan): the new directions orthogonal to Q to rounding
            Y -= Q @ (Q.T @ Y)
        U, sv, _ = np.linalg.svd(Y, full_matrices=False)
        new = U[:, sv > RANGE_RTOL * size] if size > 0 else U[:, :0]
        if r + new.shape[1] > cap:
            raise ValueError(f"the range has more than capacity = {cap} directions: the capacity is not a bound")
        store[:, r:r + new.shape[1]] = new
        r += new.shape[1]
        if new.shape[1] < b:
            break
    return store[:, :r]


def partial_ranks(layers) -> dict:
    """``r(a, b) = rank(W_b ... W_{a+1})`` for ``0 <= a < b <= h``, from the layer matrices ``W_i`` of shape
    ``(d_i, d_{i-1})``.

    A singular value counts when above ``max(shape) * RANK_RTOL * prod ||W_i||_2`` (the package's rounding
    level, :func:`geodln.symmetry.range_basis`, against the size the product would have without
    cancellation): a product that cancels to rounding, as at pieces that touch without chaining, has rank 0.
    """
    norms = [float(np.linalg.norm(W, 2)) if W.size else 0.0 for W in layers]
    ranks = {}
    for a in range(len(layers)):
        P, size = np.eye(layers[a].shape[1]), 1.0
        for b in range(a + 1, len(layers) + 1):
            P, size = layers[b - 1] @ P, size * norms[b - 1]
            sv = np.linalg.svd(P, compute_uv=False) if P.size else np.zeros(0)
            ranks[(a, b)] = int(np.sum(sv > max(P.shape) * RANK_RTOL * size)) if size > 0 else 0
    return ranks


def hessian_rank_bound(widths, ranks: dict, error_rank: int) -> int:
    """An upper bound on ``rank H`` for a layered network, from its partial ranks (no product of ``H``).

    ``H = J^T J + B_E``: the Gauss-Newton part has the rank of ``J : dtheta -> sum_i W_{h..i+1} dW_i W_{i-1..1}``,
    at most ``sum_i R(i, h) R(0, i-1)``; the error part pairs layers ``i < j`` through
    ``tr(E^T W_{h..j+1} dW_j W_{j-1..i+1} dW_i W_{i-1..1})``, a form of rank at most
    ``2 min(R(j, h), R(0, i-1), rank E) R(i, j-1)``. Here ``R(a, b) = rank(W_b ... W_{a+1})``, ``R(a, a) = d_a``.

    Parameters
    ----------
    widths : sequence of int, length h + 1
    ranks : dict
        ``(a, b) -> R(a, b)``, ``a < b`` (:func:`partial_ranks`).
    error_rank : int
        A bound on ``rank E``, ``E = Syx - W Sxx`` (e.g. the data's rank plus ``R(0, h)``).

    Returns
    -------
    int, at most ``sum_i d_i d_{i-1}``
    """
    h = len(widths) - 1

    def R(a, b):
        return int(widths[a]) if a == b else ranks[(a, b)]

    gauss_newton = sum(R(i, h) * R(0, i - 1) for i in range(1, h + 1))
    error = sum(2 * min(R(j, h), R(0, i - 1), error_rank) * R(i, j - 1)
                for i in range(1, h + 1) for j in range(i + 1, h + 1))
    return int(min(gauss_newton + error, sum(int(widths[i]) * int(widths[i - 1]) for i in range(1, h + 1))))


def hessian_rank_capacity(flow: GradientFlow, theta) -> int:
    """:func:`hessian_rank_bound` at ``theta`` (``rank E <= rank Syx + rank W``); ``D`` with weight decay,
    whose ``lambda I`` has full rank."""
    top = flow.top
    if flow.weight_decay:
        return top.n_params
    ranks = partial_ranks(top.layer_weights(theta))
    return hessian_rank_bound(top.widths, ranks, flow.data.rank + ranks[(0, top.depth)])


def low_rank_spectrum(flow: GradientFlow, theta, seed=0, vertical=None, capacity: int | None = None) -> np.ndarray:
    """The Hessian's whole spectrum from products alone, for a Hessian of low rank (module notes).

    Parameters
    ----------
    theta : array-like, shape=[n_params]
    vertical : ndarray, shape=[n_params, k], optional
        Orthonormal columns: then the spectrum is that of the Hessian restricted to their orthogonal
        complement (``P H P`` on ``range(P)``, ``P = I - V V^T``: the horizontal Hessian for the fiber's ``V``).
    capacity : int, optional
        A bound on the rank (:func:`hessian_rank_bound`): the range basis is allocated once at that size.

    Returns
    -------
    ndarray, shape=[n_params - k]
        Increasing: the ``r`` nonzero eigenvalues of ``Q^T H Q`` (``Q`` the range of ``P H P``, found by
        :func:`operator_range`) and ``n_params - k - r`` zeros.
    """
    op, n = HessianOperator(flow, theta), flow.top.n_params
    k = 0 if vertical is None else vertical.shape[1]

    def apply(X):
        if k:
            X = X - vertical @ (vertical.T @ X)
        Y = op(X)
        return Y - vertical @ (vertical.T @ Y) if k else Y

    Q = operator_range(apply, n, n, seed, capacity=capacity)
    # Q^T H Q a block of columns at a time: no second n x r array
    T = np.hstack([Q.T @ apply(Q[:, j:j + RANGE_BLOCK]) for j in range(0, Q.shape[1], RANGE_BLOCK)] or [np.zeros((0, 0))])
    lam = np.linalg.eigvalsh(0.5 * (T + T.T)) if Q.shape[1] else np.zeros(0)
    return np.sort(np.concatenate([lam, np.zeros(n - k - Q.shape[1])]))
