"""How many conservation laws a network's gradient flow has: Marcotte, Gribonval and Peyre's count.

A function ``h(theta)`` is conserved by the gradient flow of every loss of the
end-to-end map ``phi(theta)`` iff ``grad h`` is orthogonal to every field
``X_M = grad <M, phi>``, hence to the Lie algebra ``Lie(W_phi)`` they
generate. Near a generic point the number of functionally independent
conservation laws is ``D - dim Lie(W_phi)(theta)`` (Marcotte, Gribonval,
Peyre, "Abide by the law and follow the flow", NeurIPS 2023): ``D`` weights
minus the dimension of the algebra's trace, the span of its fields at
``theta``.

Computation (:func:`conservation_laws`): ``W_0`` is spanned by the exact
polynomial fields ``X_oi`` (:mod:`geodln.laws.fields`); ``W_{k+1} = W_k +
[W_0, W_k]`` by exact integer brackets, each new field kept only if it is
independent of the others as a polynomial. The algebra's trace is
``W_k(theta)`` as soon as ``dim W_{k+1}(theta) = dim W_k(theta)`` at a generic
point: the distribution ``W_k`` is then invariant under brackets with ``W_0``
and, by Jacobi, with the whole algebra. The point is random (a generic point
with probability one) and the dimension is the numerical rank of the fields'
values there:

- rows (one field's value each) are scaled to unit length, so the decision
  does not depend on the size of ``theta``, of the data or of the integer
  coefficients;
- singular values ``s_i`` of the scaled matrix count when ``s_i > RANK_RTOL s_1``
  (``RANK_RTOL = 1e-9``): exact polynomial values carry only rounding, about
  ``1e-15`` relative, so true zeros fall far below it;
- the report's ``margin`` is the smallest gap ``s_r / s_{r+1}`` over every rank
  it decided (``inf`` when no singular value was dropped): how far each
  decision was from flipping.

The known laws are geodln's moment map (:func:`geodln.symmetry.moment_map`):
the matrix balances ``C_i`` on hidden levels carrying ``GL(d_i)`` and the
node balances elsewhere. ``n_known`` is the rank of their gradients at the
point (entries of ``C_i`` need not be independent: in ``1,3,1`` the six
entries of ``C_1`` give five laws).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..symmetry import algebra_mask
from ..network.topology import Topology
from .fields import _derivatives, bracket, evaluate, generators, independent

__all__ = ["LawReport", "conservation_laws", "known_law_gradients", "RANK_RTOL"]

RANK_RTOL = 1e-9  # singular values of row-normalised values below RANK_RTOL * s_1 count as zero


@dataclass(frozen=True)
class LawReport:
    """The number of independent conservation laws of a network's gradient flow.

    Attributes
    ----------
    n_params : int
        ``D``, the number of weights.
    trace_dim : int
        ``dim Lie(W_phi)(theta)`` at a generic point.
    n_laws : int
        ``D - trace_dim``: functionally independent conservation laws near a
        generic point (local first integrals of every loss's flow).
    n_known : int
        How many of them geodln's known laws (the moment map: matrix balances
        on ``GL`` levels, node balances elsewhere) account for.
    margin : float
        The smallest singular-value gap ``s_r / s_{r+1}`` behind the rank
        decisions (trace at every bracket depth, known laws, both together;
        ``inf`` when no decision dropped a singular value).
    missing_basis : ndarray, shape=[n_params, n_laws - n_known]
        Orthonormal directions at ``theta`` orthogonal to the trace and to the
        known laws' gradients: the gradients of the missing laws span them.
        Empty (``n_laws == n_known``) when the known laws are complete.
    theta : ndarray, shape=[n_params]
        The random point.
    trace_basis : ndarray, shape=[n_params, trace_dim]
        Orthonormal basis of the trace at ``theta``.
    known_basis : ndarray, shape=[n_params, n_known]
        Orthonormal basis of the known laws' gradients at ``theta``.
    trace_dims : tuple of int
        ``dim W_k(theta)`` for ``k = 0, 1, ...``: the bracket depths computed.
    n_fields : int
        Independent polynomial fields generated (``dim W_k`` as functions).
    known_residual : float
        ``max |cos|`` between a known law's gradient and a field value: zero
        up to rounding (every known law is conserved).
    smallest_kept, largest_dropped : float
        Over every rank decision, the smallest singular value counted and the
        largest one dropped, relative to the largest (``0`` if none dropped).
    tol : float
        ``RANK_RTOL``.
    """

    n_params: int
    trace_dim: int
    n_laws: int
    n_known: int
    margin: float
    missing_basis: np.ndarray = field(repr=False)
    theta: np.ndarray = field(repr=False)
    trace_basis: np.ndarray = field(repr=False)
    known_basis: np.ndarray = field(repr=False)
    trace_dims: tuple = ()
    n_fields: int = 0
    known_residual: float = 0.0
    smallest_kept: float = 1.0
    largest_dropped: float = 0.0
    tol: float = RANK_RTOL
    network: str = ""

    @property
    def complete(self) -> bool:
        """Whether the known laws are all the laws (``n_known == n_laws``)."""
        return self.n_known == self.n_laws

    def summary(self) -> str:
        """A few readable lines."""
        depth = len(self.trace_dims) - 1
        lines = [
            f"{self.network}",
            f"  weights D = {self.n_params}; trace of the generated Lie algebra: dim {self.trace_dim} "
            f"(dims {list(self.trace_dims)} at bracket depths 0..{depth}, {self.n_fields} independent fields)",
            f"  independent conservation laws: {self.n_laws} = {self.n_params} - {self.trace_dim}",
            f"  known laws (moment map: matrix balances on GL levels, node balances elsewhere): "
            f"{self.n_known} independent",
        ]
        if self.complete:
            lines.append("  the known laws are complete")
        else:
            lines.append(f"  missing: {self.n_laws - self.n_known} law(s) beyond the known ones "
                         f"(missing_basis: {self.missing_basis.shape[1]} direction(s))")
        lines.append(f"  rank decisions: singular values kept >= {self.smallest_kept:.2g}, dropped <= "
                     f"{self.largest_dropped:.2g} (relative, rows normalised; tolerance {self.tol:g}); "
                     f"margin (smallest gap) {self.margin:.3g}")
        return "\n".join(lines)


class _Decision(NamedTuple):
    """One rank decision: the rank, an orthonormal basis of the row space (columns) and the
    relative singular values on either side of the threshold (``dropped`` 0 when none was)."""

    rank: int
    basis: np.ndarray
    kept: float
    dropped: float

    @property
    def gap(self) -> float:
        return self.kept / self.dropped if self.dropped > 0 else np.inf


def _rank(rows: np.ndarray, tol: float = RANK_RTOL) -> _Decision:
    """Numerical rank of the row space of ``rows`` (scaled to unit rows), see the module notes."""
    norms = np.linalg.norm(rows, axis=1)
    rows = rows[norms > 0] / norms[norms > 0, None]
    if rows.size == 0:
        return _Decision(0, np.zeros((rows.shape[1], 0)), 1.0, 0.0)
    _, s, vt = np.linalg.svd(rows, full_matrices=False)
    s = s / s[0]
    r = int(np.sum(s > tol))
    return _Decision(r, vt[:r].T, float(s[r - 1]), float(s[r]) if r < len(s) else 0.0)


def known_law_gradients(top: Topology, theta) -> np.ndarray:
    """Gradients of geodln's known laws, shape=[n_laws_listed, n_params].

    One row per entry ``(u, v)``, ``u <= v``, of the moment map
    ``P_g(A^T A - A A^T)`` on the Lie algebra's mask (:func:`geodln.symmetry.algebra_mask`),
    exactly: ``d (A^T A - A A^T)_uv / dA_jk = d_uk A_jv + d_vk A_ju - d_uj A_vk - d_vj A_uk``.
    """
    A = top.adjacency(theta)
    u, v = np.nonzero(np.triu(algebra_mask(top)))
    src, tgt = top.edge_index
    u, v = u[:, None], v[:, None]
    return ((tgt == u) * A[src, v] + (tgt == v) * A[src, u]
            - (src == u) * A[v, tgt] - (src == v) * A[u, tgt])


def conservation_laws(top: Topology, seed=0, max_depth: int | None = None) -> LawReport:
    """Count the independent conservation laws of the gradient flow on ``top``.

    Parameters
    ----------
    top : Topology
        Any network: layered, sparse, with skip connections, any DAG. The
        count is exact polynomial algebra plus one rank decision per bracket
        depth, so it is meant for small networks (tens of weights).
    seed : int or numpy.random.Generator
        The random point (standard normal weights).
    max_depth : int, optional
        Give up bracketing after this depth (default ``n_params``, which the
        trace's growth can never exceed).

    Returns
    -------
    LawReport

    See Also
    --------
    polynomial_laws
        The conserved polynomials of low degree, checked exactly.

    Examples
    --------
    >>> from geodln import layered
    >>> r = conservation_laws(layered([2, 2, 3]))   # two layers, inner width 2: r(r+1)/2 laws
    >>> r.n_params, r.trace_dim, r.n_laws, r.n_known
    (10, 7, 3, 3)
    """
    if not isinstance(top, Topology):
        raise TypeError(f"top must be a Topology, got {type(top).__name__}")
    D = top.n_params
    max_depth = D if max_depth is None else int(max_depth)
    theta = np.random.default_rng(seed).standard_normal(D)
    gens, span = independent(generators(top))
    dgens = [_derivatives(g) for g in gens]
    fields, new = list(gens), list(gens)
    values = evaluate(fields, theta)
    trace = _rank(values)
    decisions = [trace]
    while trace.rank < D:
        if len(decisions) > max_depth:
            raise ValueError(f"the trace was still growing at bracket depth {max_depth}; raise max_depth")
        candidates = []
        for Z in new:
            dZ = _derivatives(Z)
            candidates += [bracket(X, Z, dX, dZ) for X, dX in zip(gens, dgens) if X is not Z]
        new, span = independent(candidates, span)
        if not new:  # the fields span a finite-dimensional Lie algebra
            break
        fields += new
        values = np.vstack([values, evaluate(new, theta)])
        grown = _rank(values)
        decisions.append(grown)
        if grown.rank == trace.rank:  # W_{k+1}(theta) = W_k(theta): the trace (module notes)
            break
        trace = grown
    known = known_law_gradients(top, theta)
    known_dec = _rank(known) if known.size else _Decision(0, np.zeros((D, 0)), 1.0, 0.0)
    both = _rank(np.hstack([trace.basis, known_dec.basis]).T)
    if both.rank != trace.rank + known_dec.rank:
        raise ValueError(f"the known laws' gradients are not orthogonal to the trace at this point "
                         f"(rank {both.rank} != {trace.rank} + {known_dec.rank}): the point is not generic; "
                         "try another seed")
    decisions += [known_dec, both]
    return LawReport(
        n_params=D, trace_dim=trace.rank, n_laws=D - trace.rank, n_known=known_dec.rank,
        margin=float(min(d.gap for d in decisions)), missing_basis=_complement(both.basis, D), theta=theta,
        trace_basis=trace.basis, known_basis=known_dec.basis, trace_dims=tuple(d.rank for d in decisions[:-2]),
        n_fields=len(fields), known_residual=_max_cosine(known, values),
        smallest_kept=float(min(d.kept for d in decisions)), largest_dropped=float(max(d.dropped for d in decisions)),
        network=repr(top),
    )


def _max_cosine(P: np.ndarray, Q: np.ndarray) -> float:
    """``max |cos|`` between the nonzero rows of ``P`` and of ``Q``."""
    P, Q = P[np.linalg.norm(P, axis=1) > 0], Q[np.linalg.norm(Q, axis=1) > 0]
    if not (P.size and Q.size):
        return 0.0
    P, Q = P / np.linalg.norm(P, axis=1)[:, None], Q / np.linalg.norm(Q, axis=1)[:, None]
    return float(np.abs(P @ Q.T).max())


def _complement(basis: np.ndarray, D: int) -> np.ndarray:
    """Orthonormal basis of the orthogonal complement of ``k`` independent columns, shape=[D, D - k]."""
    k = basis.shape[1]
    if k == 0:
        return np.eye(D)
    _, _, vt = np.linalg.svd(basis.T, full_matrices=True)
    return vt[k:].T
