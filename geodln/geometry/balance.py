"""Kempf-Ness balancing along GL orbits, and the level sets of the conserved quantities.

With ``g = k + p`` (skew + symmetric), for ``X`` in ``p``

    d/dt|_0 1/2 ||e^{tX} A e^{-tX}||_F^2 = <[X, A], A> = -<C(A), X>,   C(A) = P_g(A^T A - A A^T),

so the moment map ``C`` of ``K`` (:func:`geodln.symmetry.moment_map`, whose
level blocks are the conserved layer balances
``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}``) is minus the gradient of the norm
along ``p``. ``t -> ||e^{tX} A e^{-tX}||^2`` is convex; its minimisers on a
closed orbit are the points with ``C = 0`` (one K-orbit), and a non-closed
orbit has no minimiser: the infimum is attained on the closed orbit in its
closure. For a fully connected chain the balanced point is
``W_i = Q_i diag(s^{1/h}) Q_{i-1}^T`` (``Q_0 = V``, ``Q_h = U`` from
``W = U diag(s) V^T``) and the orbit of ``A`` is closed iff
``rank W_i = rank W`` for every ``i``. The flow conserves ``C`` (Noether) and
commutes with ``K``, so it moves on a level set ``{C = C0}``, which each GL
orbit crosses (in K-orbits when C0 = 0): :func:`to_conserved_level` reaches one along the
orbit by Newton's method (the move of :mod:`geodln.symmetry.level`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import symmetry as sy
from ..network.topology import Topology
from .alignment import align

__all__ = ["Balanced", "balance", "balance_chain", "balance_newton", "to_conserved_level", "sample_conserved_level"]

_CLOSED = "closed orbit: balanced by S (symmetric positive definite)"


@dataclass(frozen=True)
class Balanced:
    """Result of :meth:`NetworkBundle.balance`; unpacks as ``(A, S, closed)``.

    Attributes
    ----------
    A : ndarray, shape=[n, n]
        The balanced point ``S A S^{-1}`` (``C = 0``) when the orbit is closed;
        otherwise the balanced point of the closed orbit in the closure of the
        orbit (the limit of the norm-decreasing stretch), taken at the point of
        its K-orbit nearest to the input.
    S : ndarray or None, shape=[n, n]
        Block-diagonal symmetric positive-definite group element with
        ``A_balanced = S A S^{-1}``; None when the orbit is not closed (no
        group element reaches the limit).
    closed : bool
        Whether the GL orbit of the input is closed.
    residual : float
        ``max |C(A_balanced)|`` (entries of the conserved quantities).
    distance : float
        ``||A_input - A_balanced||_F``: for a non-closed orbit, the distance
        from the input to the K-orbit of its limit (a lower bound on the
        length of any path to the limit).
    norm : float
        ``||A_balanced||_F``, the infimum of ``||g . A||_F`` over ``G``.
    message : str
        What happened, in words.
    """

    A: np.ndarray
    S: np.ndarray | None
    closed: bool
    residual: float
    distance: float
    norm: float
    message: str

    def __iter__(self):
        return iter((self.A, self.S, self.closed))


def _moment(top: Topology, A: np.ndarray) -> np.ndarray:
    return sy.moment_map(top, top.pack(A))


def _result(top: Topology, A0, A, S, closed: bool, message: str) -> Balanced:
    residual = float(np.abs(_moment(top, A)).max(initial=0.0))
    return Balanced(A, S, closed, residual, float(np.linalg.norm(A0 - A)), float(np.linalg.norm(A)), message)


def balance(top: Topology, A: np.ndarray, rtol: float = 1e-10) -> Balanced:
    """The balanced point ``C = 0`` of the GL orbit of ``A``: closed form for chains, else damped Newton.

    Parameters
    ----------
    top : Topology
    A : ndarray, shape=[n, n]
        A point of ``top`` (not checked here; see :meth:`NetworkBundle.balance`).
    rtol : float
        Relative rank tolerance, and the target of the iterative method.

    Returns
    -------
    Balanced
    """
    if top.depth < 2:
        return Balanced(A.copy(), np.eye(top.n), True, 0.0, 0.0, float(np.linalg.norm(A)), "no hidden level: nothing to balance")
    if top.is_fully_connected:
        return balance_chain(top, A, rtol)
    return balance_newton(top, A, rtol)


# ------------------------------------------------------------ fully connected chains


def _chain_svds(top: Topology, A: np.ndarray):
    """Layer matrices, their SVDs and the SVD of ``W`` (one SVD per matrix, reused)."""
    theta = top.pack(A)
    Ws = top.layer_weights(theta)
    return Ws, [np.linalg.svd(Wi) for Wi in Ws], np.linalg.svd(top.end_to_end(theta))


def balance_chain(top: Topology, A0: np.ndarray, rtol: float = 1e-10) -> Balanced:
    """Balance a fully connected chain in closed form (exact closedness test by ranks).

    Closed orbit (``rank W_i = rank W = r`` for all ``i``): ``S`` from
    :func:`_chain_stretch`, then one refinement pass if rounding left
    ``C != 0``. Not closed: the balanced chain over ``W``, aligned by ``K`` to
    the point nearest ``A0``.

    Parameters
    ----------
    top : Topology
        Fully connected and layered.
    A0 : ndarray, shape=[n, n]
    rtol : float
        Singular values below ``rtol`` times the largest possible count as zero.

    Returns
    -------
    Balanced
    """
    h = top.depth
    Ws, svds, (U, s, Vt) = _chain_svds(top, A0)
    norms = [sv[0] if sv.size else 0.0 for _, sv, _ in svds]
    r = int(np.sum(s > rtol * np.prod(norms))) if np.prod(norms) > 0 else 0
    ranks = [int(np.sum(sv > rtol * ni)) for (_, sv, _), ni in zip(svds, norms)]
    if all(rank == r for rank in ranks):
        S = _chain_stretch(top, Ws, svds, s, Vt, r)
        A = sy.act(top, S, A0)
        if np.abs(_moment(top, A)).max(initial=0.0) > 1e-13 * max(np.sum(A * A), 1.0):
            # rounding from an ill-conditioned S: one more pass from the nearly balanced point, then
            # keep the SPD polar factor P = k^T S_2 S of the product (P . A0 = k^T A k, still balanced)
            Ws2, svds2, (_, s2, Vt2) = _chain_svds(top, A)
            S2 = _chain_stretch(top, Ws2, svds2, s2, Vt2, r)
            A, S = sy.act(top, S2, A), S2 @ S
            k = np.eye(top.n)
            for sl in top.level_slices[1:-1]:
                U_, sig, Vt_ = np.linalg.svd(S[sl, sl])
                k[sl, sl] = U_ @ Vt_
                S[sl, sl] = (Vt_.T * sig) @ Vt_
            A = sy.act(top, k.T, A)
        return _result(top, A0, A, S, True, _CLOSED)
    # not closed: the closed orbit in the closure is the balanced chain over W
    sr = s[:r] ** (1.0 / h)
    frames = [Vt[:r].T] + [np.eye(top.widths[i])[:, :r] for i in range(1, h)] + [U[:, :r]]
    B = top.adjacency(top.from_layer_weights([(frames[i] * sr) @ frames[i - 1].T for i in range(1, h + 1)]))
    A = align(top, A0, B).aligned
    bad = [i + 1 for i, rank in enumerate(ranks) if rank != r]
    message = (
        f"orbit not closed: rank W = {r} but rank W_i > {r} for i in {bad} (dangling partial paths, "
        "which the group shrinks toward zero); no group element balances A. Returned: the balanced "
        "point of the closed orbit in its closure, nearest to A"
    )
    return _result(top, A0, A, None, False, message)


def _chain_stretch(top: Topology, Ws, svds, s, Vt, r: int) -> np.ndarray:
    """``S``, shape=[n, n], with ``S . A`` balanced, for a closed orbit of a fully connected chain of rank ``r``.

    ``F_i = [P_i V_r diag(s_r^{-i/h}), N_i]`` maps the balanced frame to
    ``A``'s (image of the partial product ``P_i = W_i ... W_1``, then
    ``ker W_{i+1}``), and ``S_i = (F_i F_i^T)^{1/2}`` is the SPD factor of the
    map to a balanced point.
    """
    h = top.depth
    P = Vt[:r].T
    S = np.eye(top.n)
    for i in range(1, h):
        P = Ws[i - 1] @ P
        F = np.hstack([P * s[:r] ** (-i / h), svds[i][2][r:].T])
        lam, E = np.linalg.eigh(F @ F.T)
        block = (E * np.sqrt(lam)) @ E.T
        S[top.level_slices[i], top.level_slices[i]] = 0.5 * (block + block.T)
    return S


# --------------------------------------------------------------- any topology


def balance_newton(top: Topology, A0: np.ndarray, rtol: float = 1e-10, max_iter: int = 200,
                   max_log_stretch: float = 30.0) -> Balanced:
    """Damped Newton on ``phi(X) = 1/2 ||e^X A e^{-X}||^2`` over symmetric ``X`` in ``g``.

    At ``X = 0`` the gradient is ``-C`` and the Hessian ``2 L_p^T L_p``
    (``L_p`` the bracket on symmetric matrices), so the Newton step is
    ``Y = -1/2 L_p^+ a``: minus half the symmetric-vertical component of
    ``A`` itself (:func:`geodln.symmetry.solve_vertical`). On a closed orbit
    it converges quadratically, the steps shrinking with the residual. On a
    non-closed orbit the infimum is at infinity: ``C -> 0`` while the steps
    stay of order 1 and the stretch ``sum |Y|`` grows without bound; either
    sign ends the iteration (a heuristic verdict, unlike the rank test of
    :func:`balance_chain`).

    Parameters
    ----------
    top : Topology
    A0 : ndarray, shape=[n, n]
    rtol : float
        Target ``max |C| <= rtol 1e-4 ||A0||^2`` (at least the rounding level).
    max_iter : int
    max_log_stretch : float
        Declare the orbit not closed once the accumulated ``sum |Y|`` exceeds this.

    Returns
    -------
    Balanced
    """
    A, S = A0.copy(), np.eye(top.n)
    # quadratic convergence: aim at the rounding level, not at rtol
    target = max(1e-14, rtol * 1e-4) * max(float(np.sum(A0 * A0)), 1e-300)
    stretch = 0.0
    for _ in range(max_iter):
        C = _moment(top, A)
        theta = top.pack(A)
        Y = -0.5 * sy.solve_vertical(top, theta, theta, part="sym").xi
        step = float(np.linalg.norm(Y, 2))
        if np.abs(C).max(initial=0.0) <= target:
            if step <= 1e-6 and stretch <= 0.5 * max_log_stretch:
                return _result(top, A0, A, S, True, _CLOSED)
            break  # negligible gradient yet an O(1) Newton step: the minimum is at infinity
        if step > 1.0:  # trust region: at most a factor e per step and level
            Y, step = Y / step, 1.0
        slope = -float(np.sum(C * Y))  # d/dt phi(tY) at 0, negative
        norm2, t = float(np.sum(A * A)), 1.0
        # Armijo backtracking, unless the predicted decrease is below the rounding of ||A||^2
        while t > 1e-12 and -slope > 1e-15 * norm2:
            E = sy.group_exp(top, t * Y)
            A_new = sy.act(top, E, A)
            if 0.5 * np.sum(A_new * A_new) <= 0.5 * norm2 + 1e-4 * t * slope:
                break
            t *= 0.5
        if -slope <= 1e-15 * norm2:
            E = sy.group_exp(top, Y)
            A_new = sy.act(top, E, A)
        A, S = A_new, E @ S
        stretch += t * step
        if stretch > max_log_stretch:
            break
    else:
        stretch = max(stretch, max_log_stretch)  # no convergence in max_iter steps: treat as not closed
    message = (
        "orbit not closed (by the heuristic of the iterative method: the norm decreases toward its "
        f"infimum while the stretch exp(X) grows, |X| = {stretch:.3g}); no group element balances A. "
        "Returned: the last iterate, close to the balanced limit in the orbit closure"
    )
    return _result(top, A0, A * (np.abs(A) > 1e-12 * np.abs(A).max(initial=0.0)), None, False, message)


# ---------------------------------------------------------- conserved level sets


def to_conserved_level(top: Topology, A: np.ndarray, C0, tol: float = 1e-12, max_iter: int = 50) -> np.ndarray:
    """Move ``A`` along its GL orbit (symmetric directions) onto the level set ``{C = C0}``.

    Newton's method on ``C(S A S^{-1}) = C0`` over ``S = I + Y``, ``Y``
    symmetric in the Lie algebra: the linearised move of
    :class:`geodln.symmetry.ConservedLevel` (the integrator's), repeated to
    convergence. The loss (a function of ``W``) is unchanged, and the normal
    space of the level set at the result is exactly the symmetric part of the
    vertical space.

    Parameters
    ----------
    top : Topology
    A : ndarray, shape=[n, n]
        A point of ``top``, not checked here.
    C0 : array-like, shape=[n, n]
        The target value of the moment map (checked here).
    tol, max_iter
        As in :meth:`NetworkBundle.to_conserved_level`.

    Returns
    -------
    ndarray, shape=[n, n]
    """
    C0 = np.asarray(C0, dtype=float)
    if C0.shape != A.shape:
        raise ValueError(f"C0 has shape {C0.shape}; expected {A.shape}")
    if not np.all(np.isfinite(C0)) or not np.allclose(C0, C0.T, rtol=0, atol=1e-12 * max(1.0, np.abs(C0).max())):
        raise ValueError("C0 must be a finite symmetric matrix (a value of the moment map)")
    mask = sy.algebra_mask(top)
    if np.any(C0[mask == 0] != 0):
        raise ValueError("C0 has entries outside the Lie algebra's pattern: no point of the orbit can reach it")
    level = sy.ConservedLevel.of_moment(top, C0)
    try:
        return top.adjacency(level.project(top.pack(A), newton=True, tol=tol, max_iter=max_iter))
    except ValueError as exc:
        raise ValueError(f"could not reach the level set C = C0 along the orbit of A: {exc}") from None


def sample_conserved_level(top: Topology, A0: np.ndarray, n_samples: int = 10, scale: float = 0.1,
                           seed=None) -> np.ndarray:
    """Random points of the level set ``{C = C(A0)}`` of the conserved quantities.

    Each sample is ``A0`` plus Gaussian noise of size ``scale ||A0|| /
    sqrt(n_params)`` per weight, moved back onto the level set along its own
    GL orbit by :func:`to_conserved_level`.

    Parameters
    ----------
    top : Topology
    A0 : ndarray, shape=[n, n]
        A point of ``top``, not checked here.
    n_samples, scale, seed
        As in :meth:`NetworkBundle.sample_conserved_level`.

    Returns
    -------
    ndarray, shape=[n_samples, n, n]
    """
    rng = np.random.default_rng(seed)
    C0 = _moment(top, A0)
    step = scale * max(np.linalg.norm(A0), 1.0) / np.sqrt(top.n_params)
    return np.array([
        to_conserved_level(top, A0 + step * top.adjacency(rng.standard_normal(top.n_params)), C0)
        for _ in range(int(n_samples))
    ])
