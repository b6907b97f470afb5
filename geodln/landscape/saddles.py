"""Stable and unstable sets at saddles, escape times, and saddle-to-saddle itineraries.

Strict saddles: the Hessian restricted to the horizontal space (the
orthogonal complement of the fiber's tangent space ``{[Xi, A]}``) gives the
unstable directions (negative eigenvalues) and the stable ones (positive);
the center part is the rest, and contains the tangent space of the critical
set (the vertical space first of all).

Nonstrict saddles: the Hessian is blind to the way out, so the network
picture is used. Each unlearnt mode ``k`` whose new complete path closes with
``m >= 3`` links gives an invariant set: the links set to ``+eps`` (the
product aligned with ``u_k v_k^T``) is a ray along which the flow leaves the
saddle (``L - L_J ~ -c eps^m``, unstable); with one link's sign flipped
(product ``-u_k v_k^T``) the flow returns (stable) -- claimed only when the
path's links land on idle coordinates or piece starts, so that its
subnetwork evolves on its own (otherwise other links could close the path
with the other sign). The positive Hessian directions are stable too.

Dimensions, as reported: ``unstable_dim`` and ``stable_dim`` count the
directions found (Hessian eigenvectors, plus one ray per closing path for
nonstrict saddles); ``center_dim = n_params - unstable_dim - stable_dim``.
For nonstrict saddles these are dimensions of the submanifolds found, not
of Hessian eigenspaces.

Every claimed direction is verified by integrating the flow: from
``A* + eps d`` (and with a small random horizontal perturbation added) the
loss must fall below ``L_J`` by a margin within a time limit (unstable), or
the end-to-end map must come back toward ``W_J`` without the loss falling
(stable).

Escape times: at a strict saddle with most negative eigenvalue ``-lambda``
the time to leave from distance ``eps`` is ``~ (1/lambda) log(1/eps)``; at a
nonstrict saddle of order ``m`` it is ``~ eps^{-(m-2)}`` (the balanced chain
``dw/dt ~ c w^{m-1}`` blows up at ``t = w_0^{2-m} / ((m-2) c)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from .. import symmetry
from ..dynamics.closed_forms import chain_time_scale
from ..dynamics.flow import GradientFlow
from ..dynamics.hessian import horizontal_hessian, inertia, matrix_free
from ..dynamics.stabilizer import block_eigenpairs
from ..errors import NotCriticalError
from .itinerary import Visit, itinerary
from .critical import loss_order, path_direction
from .points import analyze_point, frame_link
from .strata import EscapePath, Stratum
from ..symmetry import vertical_basis
from ..tolerances import DEFAULT_TOLERANCES, Tolerances

ESCAPE_T_MAX = 1e7
""":func:`escape_time`'s default horizon: a chain of order ``m`` leaves after about
``(eps / sqrt m)^(2-m) / ((m - 2) s)`` (:func:`geodln.dynamics.closed_forms.chain_time_scale`),
which is 2e6 for ``m = 4``, ``eps = 1e-3``, ``s = 1``: the default covers the escapes the gallery measures."""
ESCAPE_ATOL = 1e-14
"""Absolute tolerance of :func:`escape_time`'s integration: the weights start ``eps / sqrt m`` from the
saddle (down to ~1e-4), and the loss crosses its threshold only after they have grown from there, so
errors must stay far below the smallest start for the crossing time to be the flow's."""
ESCAPE_RTOL = 1e-10
"""Relative tolerance of :func:`escape_time`'s integration: its times are compared with closed forms
to 1e-4 (figure 08, the tests), far above what this leaves."""
MOVED = 1e-12
"""A stable claim is checked on its distance ratio only when the start moved the end-to-end map off
``W*`` by more than rounding: ``||W0 - W*|| > MOVED * max(1, ||W*||)`` (a ratio of rounding errors says nothing)."""

__all__ = ["Direction", "LocalManifolds", "local_manifolds", "Verification", "verify_direction", "certify_directions",
           "escape_time",
           "Visit", "itinerary"]


@dataclass(frozen=True)
class Direction:
    """A tangent direction at a saddle, claimed stable or unstable.

    Attributes
    ----------
    vector : ndarray, shape=[n_params]
        Unit packed direction (``top.adjacency(vector)`` is its (n, n) form).
    unstable : bool
    order : int
        2 for a Hessian eigenvector, ``m`` for a closing path.
    mode : int or None
        The data mode a path learns (None for Hessian directions).
    eigenvalue : float or None
        The horizontal Hessian eigenvalue (None for paths).
    links : list or None
        ``[layer, from, to]`` of a path's new links.
    multiplicity : int
        How many orthonormal directions of the same eigenvalue this one stands for: above
        :data:`geodln.dynamics.hessian.MATRIX_FREE_ABOVE` weights one eigenvector per eigenspace that the
        point's stabiliser sweeps out (:func:`geodln.dynamics.stabilizer.block_eigenpairs`), 1 otherwise.
    """

    vector: np.ndarray = field(repr=False)
    unstable: bool
    order: int
    mode: int | None = None
    eigenvalue: float | None = None
    links: list | None = None
    multiplicity: int = 1


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_direction` found.

    Attributes
    ----------
    verified : bool
        Whether the flow confirmed the claim.
    evidence : dict
        What was measured: ``eps``, ``margin``, and ``growth_at_1_over_lambda``
        (Hessian directions), ``escape_times`` (unstable) or ``return_time``
        and ``distance_ratio`` (stable).
    times : tuple of float or None
        The escape times of the unstable starts, or the return time of the
        stable one; None where the event did not happen by ``t_max``.
    """

    verified: bool
    evidence: dict
    times: tuple


@dataclass
class LocalManifolds:
    """The stable and unstable directions found at a saddle."""

    unstable: list
    stable: list
    n_params: int

    @property
    def unstable_dim(self) -> int:
        return sum(d.multiplicity for d in self.unstable)

    @property
    def stable_dim(self) -> int:
        return sum(d.multiplicity for d in self.stable)

    @property
    def center_dim(self) -> int:
        return self.n_params - self.unstable_dim - self.stable_dim


def _hessian_directions(flow: GradientFlow, theta, tolerances: Tolerances) -> tuple[list, list]:
    """The unstable and stable Hessian directions at a critical point: the horizontal Hessian's eigenvectors
    outside its zero band. Above :data:`geodln.dynamics.hessian.MATRIX_FREE_ABOVE` weights, one per eigenspace
    of the stabiliser's blocks with its multiplicity (eigenvectors of nonzero eigenvalues are orthogonal to
    the kernel, which holds the fiber, so they are horizontal), memory ``O(D p)``."""
    rtol, scale = tolerances.inertia, tolerances.hessian_scale(flow.data, flow.top.depth)
    pairs = block_eigenpairs(flow, theta, rtol, scale) if matrix_free(flow.top.n_params) else None
    if pairs is None:
        Hh, Qh = horizontal_hessian(flow, theta)
        lam, vecs = np.linalg.eigh(Hh)
        tol = inertia(lam, rtol, scale).tol
        keep = np.flatnonzero(np.abs(lam) > tol)
        pairs = lam[keep], np.ones(keep.size, dtype=int), Qh @ vecs[:, keep]
    lam, counts, vecs = pairs
    directions = [Direction(vecs[:, i], bool(lam[i] < 0), 2, eigenvalue=float(lam[i]), multiplicity=int(counts[i]))
                  for i in range(lam.size)]
    return [d for d in directions if d.unstable], [d for d in directions if not d.unstable]


def local_manifolds(flow: GradientFlow, theta, stratum: Stratum | None = None, similarity=None,
                    tolerances: Tolerances = DEFAULT_TOLERANCES) -> LocalManifolds:
    """Stable and unstable directions at a critical point ``theta``.

    Parameters
    ----------
    flow : GradientFlow
    theta : array-like, shape=[n_params]
        A saddle.
    stratum : Stratum, optional
        Its stratum; with ``similarity`` it supplies the closing paths of a
        nonstrict saddle. Default: read off the point by
        :func:`geodln.analyze_point` (a fully connected layered network), whose
        frame then places the paths.
    similarity : ndarray, shape=[n, n], optional
        The group element that moved the stratum's canonical representative to ``theta``.
    tolerances : Tolerances
        ``inertia`` decides which horizontal eigenvalues count as zero;
        ``gradient`` which points are critical.

    Raises
    ------
    NotCriticalError
        If ``theta`` is not a critical point (``||grad|| > gradient * s_1^2``).
    """
    theta = np.asarray(theta, dtype=float)
    link_vector = None
    if stratum is not None and similarity is not None:
        grad = float(np.linalg.norm(flow.rhs(theta)))
        if not tolerances.is_critical(grad, flow.data):
            raise NotCriticalError(f"local_manifolds needs a critical point: ||grad|| = {grad:.3g}", grad)

        def link_vector(k, link):
            return (path_direction(stratum, flow.top, flow.data, EscapePath(k, (link,)), similarity)
                    * _link_norm(stratum, flow, k, link, similarity))
    elif flow.top.is_fully_connected:
        cp = analyze_point(flow, theta, tolerances)  # refuses non-critical points
        if cp.frames is not None:
            stratum = cp.stratum

            def link_vector(k, link):
                return frame_link(flow, cp.frames, k, link)
    else:
        grad = float(np.linalg.norm(flow.rhs(theta)))
        if not tolerances.is_critical(grad, flow.data):
            raise NotCriticalError(f"local_manifolds needs a critical point: ||grad|| = {grad:.3g}", grad)
    unstable, stable = _hessian_directions(flow, theta, tolerances)
    if not unstable and link_vector is not None:
        for k in range(1, stratum.n_modes + 1):
            path = stratum.path_for(k) if k not in stratum.learned else None
            if path is None or path.order < 3 or path.powers:
                continue  # a path with link powers escapes along a curve, not along the ray of its links
            names = path.link_names()
            links = [link_vector(k, link) for link in path.links]
            up = np.sum(links, axis=0)
            # Reverse the heaviest link: with the links' squared norms conserved in
            # differences, the heaviest one never reaches zero, so the product keeps
            # its negative sign and the chain shrinks back onto the critical set.
            heaviest = int(np.argmax([np.linalg.norm(d) for d in links]))
            down = up - 2 * links[heaviest]
            unstable.append(Direction(up / np.linalg.norm(up), True, path.order, mode=k, links=names))
            if flow.data.whitened and _decoupled(stratum, path):
                stable.append(Direction(down / np.linalg.norm(down), False, path.order, mode=k, links=names))
    return LocalManifolds(unstable, stable, flow.top.n_params)


def _decoupled(stratum: Stratum, path: EscapePath) -> bool:
    """Whether the path's subnetwork evolves on its own: no dangling piece carries
    ``v_k`` or ``u_k``, and every new link lands on an idle coordinate or on the
    start of an internal piece (never inside a piece, nor on one carrying a mode).

    Then, for whitened data, the reversed path is an exact invariant set that
    returns to the saddle; otherwise other links can close the path with the
    other sign, and only the unstable ray is claimed. With ``Sxx != I`` the
    input link couples to every input direction through ``Sxx``, the subnetwork
    is not invariant, and only the unstable ray is claimed too.
    """
    slots, pieces = stratum.slots(), stratum.all_pieces()
    if any(p.source == path.mode or p.target == path.mode for p in stratum.pieces):
        return False  # a dangling v_k or u_k chain could close the path with one new link of either sign
    if not _rides_safely(stratum, path):
        return False
    for layer, _, target in path.links:
        if target == "u":
            continue
        owner = next((idx for idx, c in slots[layer].items() if c == target), None)
        if owner is None:
            continue  # idle
        p = pieces[owner]
        if p.a != layer or not 0 < p.a < p.b < stratum.depth:
            return False
    return True


def _rides_safely(stratum: Stratum, path: EscapePath) -> bool:
    """Whether no other unlearnt mode can ride the reversed path out of the saddle.

    Another unlearnt mode ``k'`` with reach ``(b', a')`` closes a path of two
    new links through the ray: one into the ray's coordinate at layer
    ``b' + 1``, one out of it at layer ``a' - 1``, riding the ray's ``r`` new
    links in between. On the ray those two links form a saddle of rate
    ``c ~ s_k' w^r`` (``w`` the ray's link size), while the ray shrinks back
    like ``w ~ t^(-1/(m-2))``. So a perturbation of those links (rounding is
    enough) grows by ``exp(int c dt)``: without bound if ``r < m - 2``, like a
    power ``t^alpha``, ``alpha ~ s_k' / ((m - 2) s_k)``, if ``r = m - 2``, and
    boundedly if ``r > m - 2``. The ray is claimed stable only when every
    ``k'`` has ``r > m - 2``, or ``r = m - 2`` and is a smaller mode
    (``alpha < 1``). Seen without this rule: on 2,2,2,2,2,2,2, mode 1's
    reversed ray of order 6 at ``J={} + v2[0,1] [5,6]u2`` left after
    ``t ~ 2e4`` through mode 2 riding its middle 2 links; on 3,3,3,3,3, mode 3's
    order-3 ray at ``J={} + [3,4]u1 [2,3] [2,3]`` left through mode 1 (``r = 1 = m - 2``, a larger mode).
    """
    order = path.order
    for k in range(1, stratum.n_modes + 1):
        if k == path.mode or k in stratum.learned:
            continue
        b, a = stratum.reach(k)
        ridden = sum(b + 2 <= layer <= a - 1 for layer, _, _ in path.links)
        if ridden < order - 2 or (ridden == order - 2 and k < path.mode):
            return False
    return True


def _link_norm(stratum, flow, k, link, similarity) -> float:
    """Frobenius norm of one new link after the group element moved it."""
    top = flow.top
    return float(np.linalg.norm(symmetry.act(top, similarity, stratum.link_matrix(top, flow.data, EscapePath(k, (link,))))))


def verify_direction(flow: GradientFlow, theta, direction: Direction, seed=0,
                     tolerances: Tolerances = DEFAULT_TOLERANCES, robust: bool = True) -> Verification:
    """Integrate the flow from ``theta + eps d`` and check the claim.

    Hessian directions (eigenvalue ``lambda``) first pass a linear test: after
    ``t = 1/|lambda|`` the component along ``d`` must have grown by at least
    ``growth_unstable`` (``e`` in theory) or shrunk below ``growth_stable``
    (``1/e``) -- rounding alone cannot fake that, unlike a mere escape.
    Unstable: from ``theta + eps d`` and from ``theta + eps d + perturbation eps xi``
    (``xi`` a random unit horizontal vector) the loss must fall below
    ``L(theta) - margin max(1, L)`` before ``t_max`` (longer for path rays of
    high order, :func:`_horizon`). Stable: before that time the state must come back toward the critical set:
    its speed ``||dA/dt||`` (zero exactly there) halves while ``||W - W_J||``
    shrinks and the loss stays above ``L(theta) - margin max(1, L)`` (for a
    path ray: up to the horizon).
    (Thresholds: the fields of ``tolerances``.)

    Parameters
    ----------
    flow : GradientFlow
    theta : array-like, shape=[n_params]
        The saddle.
    direction : Direction
        The claim to check (not modified).
    seed : int or numpy.random.Generator
        Draws the horizontal perturbation.
    tolerances : Tolerances
    robust : bool
        Also escape from the perturbed start (default); False: from ``theta + eps d`` only.

    Returns
    -------
    Verification
    """
    tol = tolerances
    theta = np.asarray(theta, dtype=float)
    value = flow.loss(theta)
    margin = tol.margin * max(1.0, value)
    eps = tol.hessian_eps if direction.eigenvalue is not None else tol.path_eps
    x0 = theta + eps * direction.vector
    horizon = _horizon(flow, direction, eps, tol)
    evidence = {"eps": eps, "margin": margin}
    linear_ok = True
    if direction.eigenvalue is not None:
        growth = _growth(flow, theta, direction.vector, eps, 1.0 / abs(direction.eigenvalue), tol)
        evidence["growth_at_1_over_lambda"] = growth
        linear_ok = growth >= tol.growth_unstable if direction.unstable else growth <= tol.growth_stable
    if direction.unstable:
        starts = [x0]
        if robust:
            Qv = vertical_basis(flow.top, theta)
            xi = np.random.default_rng(seed).standard_normal(theta.size)
            xi -= Qv @ (Qv.T @ xi)
            starts.append(x0 + tol.perturbation * eps * xi / np.linalg.norm(xi))
        ends = [_first_event(flow, x, [lambda y: flow.loss(y) - (value - margin)], tol, horizon) for x in starts]
        times = tuple(None if e is None else e[0] for e in ends)
        evidence["escape_times"] = list(times)
        return Verification(linear_ok and all(e is not None for e in ends), evidence, times)
    speed0 = np.linalg.norm(flow.rhs(x0))
    end = _first_event(flow, x0, [lambda y: np.linalg.norm(flow.rhs(y)) - 0.5 * speed0,
                                  lambda y: flow.loss(y) - (value - margin)], tol, horizon)
    W_star, W0 = flow.top.end_to_end(theta), flow.top.end_to_end(x0)
    returned = end is not None and end[2] == 0  # the speed halved before the loss fell
    evidence["return_time"] = end[0] if returned else None
    if returned and np.linalg.norm(W0 - W_star) > MOVED * max(1.0, np.linalg.norm(W_star)):
        ratio = float(np.linalg.norm(flow.top.end_to_end(end[1]) - W_star) / np.linalg.norm(W0 - W_star))
        evidence["distance_ratio"] = ratio
        returned = ratio < 1.0
    if returned and direction.eigenvalue is None:
        # a path ray must also stay on the saddle's level to the horizon (the loss never rises
        # along the flow, so its value there bounds every later fall): a ray that only passes
        # near the critical set, as one a cheaper mode can ride does, leaves later
        y = flow.solve(end[1], (end[0], max(horizon, end[0])), rtol=tol.horizon_rtol, atol=tol.horizon_atol).y[:, -1]
        evidence["drop_at_horizon"] = float(value - flow.loss(y))
        returned = evidence["drop_at_horizon"] < margin
    return Verification(linear_ok and returned, evidence, (evidence["return_time"],))


def certify_directions(flow: GradientFlow, theta, directions, tolerances: Tolerances = DEFAULT_TOLERANCES) -> list:
    """Check every claimed direction at one saddle, as cheaply as the mathematics allows.

    Hessian directions (eigenvalue ``lambda != 0``): near the saddle the flow
    is linear, ``d/dt (theta - theta*) = -H (theta - theta*) + O(|theta - theta*|^2)``,
    so an eigenvector ``d`` is certified by (i) the flow's velocity at
    ``theta* + eps d`` (``eps = hessian_eps / 8``) being ``-lambda eps d`` within
    ``linear_rate |lambda| eps`` (``d`` is an eigenvector of the flow's
    linearisation, not only of the Hessian computed beforehand), and (ii) one
    short integration of the flow: the directions whose eigenvalues lie within
    ``linear_band`` of each other start together, superposed
    (``theta* + eps sum_i d_i / sqrt(k)``: in the linear regime the
    components evolve independently, each as ``e^{-lambda_i t}``), up to
    ``t = 1 / max |lambda_i|``; each component's measured rate
    ``-log(growth) / t`` must be ``lambda_i`` within ``linear_rate |lambda_i|``
    and of the sign the claim says (negative: unstable). A direction that
    fails in the band gets its own linear test (:func:`verify_direction`'s,
    ``t = 1/|lambda|``) before it is declared unverified.

    Directions of a path of order ``m >= 3`` (nonstrict saddles): the loss
    change at two step sizes must fit the order ``m`` within
    ``escape_order``, falling along an unstable ray and rising along a stable
    one, and one integration from ``theta* + path_eps d`` must leave the
    critical value (unstable) or come back (stable), as in :func:`verify_direction`.

    Parameters
    ----------
    flow : GradientFlow
    theta : array-like, shape=[n_params]
        The saddle.
    directions : list of Direction
        The claims (from :func:`local_manifolds`).
    tolerances : Tolerances

    Returns
    -------
    list of Verification
        One per direction, in order; ``evidence`` holds what was measured.
    """
    tol = tolerances
    theta = np.asarray(theta, dtype=float)
    results = [None] * len(directions)
    # an eigenvalue the inertia counts as zero is no hyperbolic direction (and 1/|lambda| no time scale)
    zero = tol.inertia * tol.hessian_scale(flow.data, flow.top.depth)
    hessian_dirs = [i for i, d in enumerate(directions) if d.eigenvalue is not None and abs(d.eigenvalue) > zero]
    # the fastest unstable rate bounds every integration: over t <= 1/rate, what rounding and the
    # quadratic terms put into the unstable directions grows at most e-fold
    fastest = max((-directions[i].eigenvalue for i in hessian_dirs if directions[i].eigenvalue < 0), default=0.0)
    horizon = 1.0 / fastest if fastest else np.inf
    for band in _bands([abs(directions[i].eigenvalue) for i in hessian_dirs], tol.linear_band):
        members = [hessian_dirs[j] for j in band]
        for i, ok in zip(members, _certify_band(flow, theta, [directions[i] for i in members], tol, horizon)):
            results[i] = ok
    for i, d in enumerate(directions):
        if d.eigenvalue is None:
            results[i] = _certify_path(flow, theta, d, tol)
        elif abs(d.eigenvalue) <= zero:
            results[i] = Verification(False, {"eigenvalue_below": zero}, ())
    return results


def _bands(magnitudes, ratio: float) -> list:
    """Indices grouped so that within a group the largest magnitude is at most ``ratio`` times the smallest."""
    order = np.argsort(magnitudes)[::-1]
    bands = []
    for i in order:
        if bands and magnitudes[bands[-1][0]] <= ratio * magnitudes[i]:
            bands[-1].append(int(i))
        else:
            bands.append([int(i)])
    return bands


def _certify_band(flow: GradientFlow, theta, dirs, tol: Tolerances, horizon: float = np.inf) -> list:
    """:func:`certify_directions` for Hessian directions of comparable eigenvalues, integrating
    for at most ``horizon``."""
    lam = np.array([d.eigenvalue for d in dirs])
    V = np.stack([d.vector for d in dirs], axis=1)
    eps = tol.hessian_eps
    small = eps / 8
    residuals = [float(np.linalg.norm(flow.rhs(theta + small * d.vector) / small + d.eigenvalue * d.vector)
                       / abs(d.eigenvalue)) for d in dirs]
    t = min(1.0 / np.max(np.abs(lam)), horizon)
    c = eps / np.sqrt(len(dirs))
    end = flow.solve(theta + c * V.sum(axis=1), (0.0, t), t_eval=[t], rtol=tol.verify_rtol, atol=tol.linear_atol).y[:, -1]
    growth = (end - theta) @ V / c
    results = []
    for d, g, res in zip(dirs, growth, residuals):
        rate, ok = _rate_check(d, g, t, tol)
        evidence = {"eps": eps, "residual": res, "t": float(t), "band": len(dirs), "rate": rate}
        if not ok and horizon >= 1.0 / abs(d.eigenvalue):  # superposition not accurate enough: its own linear test
            g1 = _growth(flow, theta, d.vector, eps, 1.0 / abs(d.eigenvalue), tol)
            evidence["growth_at_1_over_lambda"] = g1
            ok = g1 >= tol.growth_unstable if d.unstable else g1 <= tol.growth_stable
        elif not ok:  # a faster unstable direction bounds the time: its own rate, alone, over t
            evidence["rate_alone"], ok = _rate_check(d, _growth(flow, theta, d.vector, eps, t, tol), t, tol)
        results.append(Verification(bool(ok and res <= tol.linear_rate), evidence, ()))
    return results


def _rate_check(d: Direction, growth: float, t: float, tol: Tolerances) -> tuple:
    """``(rate, ok)``: the rate ``-log(growth) / t`` of a component, and whether it has the claimed
    sign (negative: unstable) and is the eigenvalue within ``linear_rate``."""
    rate = float(-np.log(growth) / t) if growth > 0 else float("nan")
    signed = rate < 0 if d.unstable else rate > 0
    return rate, bool(signed and abs(rate - d.eigenvalue) <= tol.linear_rate * abs(d.eigenvalue))


def _certify_path(flow: GradientFlow, theta, d: Direction, tol: Tolerances) -> Verification:
    """:func:`certify_directions` for the ray of a path of order ``m >= 3``."""
    steps, drops, measured = loss_order(flow, theta, d.vector, d.order, tol)
    falls = min(drops) > 0 if d.unstable else max(drops) < 0
    fits = falls and abs(measured - d.order) < tol.escape_order
    flown = verify_direction(flow, theta, d, tolerances=tol, robust=False)
    evidence = flown.evidence | {"order_eps": list(steps), "decrease": drops, "measured_order": measured}
    return Verification(bool(fits and flown.verified), evidence, flown.times)


def _growth(flow: GradientFlow, theta, d, eps: float, t: float, tol: Tolerances) -> float:
    """``<theta(t) - theta, d> / eps`` for the flow started at ``theta + eps d``."""
    sol = flow.solve(theta + eps * d, (0.0, t), t_eval=[t], rtol=tol.verify_rtol, atol=tol.linear_atol)
    return float((sol.y[:, -1] - theta) @ d / eps)


def _horizon(flow: GradientFlow, direction: Direction, eps: float, tol: Tolerances) -> float:
    """How long to integrate a claim: ``t_max``, or longer for a path ray of high order.

    The ray's ``m`` links start at ``w = eps / sqrt(m)``; the chain's balanced
    flow ``dw/dt = -+ s_k w^(m-1)`` leaves (or shrinks by a fixed factor) after
    ``t* = w^(2-m) / ((m - 2) s_k)``: ``2e4`` is short of it from order 6 on.
    The horizon is ``max(t_max, 2 t*)``.
    """
    m, k = direction.order, direction.mode
    if direction.eigenvalue is not None or m < 3 or k is None or not flow.data.s[k - 1] > 0:
        return tol.t_max
    return max(tol.t_max, 2 * chain_time_scale(eps / np.sqrt(m), m, flow.data.s[k - 1]))


def _first_event(flow: GradientFlow, theta0, gs, tol: Tolerances, t_max: float):
    """``(t, theta(t), i)`` where ``gs[i](theta)`` first falls below zero, or None by ``t_max``.

    One integration with the conditions as terminal events (located inside
    the integrator, :mod:`geodln.integrate.events`).
    """
    events = []
    for g in gs:
        event = (lambda g: lambda t, y: g(y))(g)
        event.terminal, event.direction = True, -1
        events.append(event)
    sol = flow.solve(np.asarray(theta0, dtype=float), (0.0, t_max), events=events, rtol=tol.verify_rtol,
                     atol=tol.escape_atol)
    hits = [(float(te[0]), i) for i, te in enumerate(sol.t_events) if len(te)]
    if not hits:
        return None
    t, i = min(hits)
    return t, sol.y_events[i][0], i


def escape_time(flow: GradientFlow, theta, direction, eps: float, drop: float | None = None,
                t_max: float = ESCAPE_T_MAX, rtol: float = ESCAPE_RTOL) -> float:
    """Time the flow spends near a saddle when started at ``theta + eps d``.

    Parameters
    ----------
    flow : GradientFlow
    theta : array-like, shape=[n_params]
        The saddle.
    direction : array-like, shape=[n_params]
        Unit escape direction.
    eps : float
        Initial distance.
    drop : float, optional
        The loss must fall by this much below ``L(theta)``; default half the
        excess ``L(theta) - L_*`` over the data's loss floor.

    Returns
    -------
    float
        The first time ``L < L(theta) - drop``.

    Raises
    ------
    ValueError
        If the flow has not left by ``t_max``.
    """
    theta = np.asarray(theta, dtype=float)
    value = flow.loss(theta)
    drop = 0.5 * (value - flow.data.loss_floor) if drop is None else drop
    x0 = theta + eps * np.asarray(direction, dtype=float) / np.linalg.norm(direction)

    def below(t, y):
        return flow.loss(y) - (value - drop)

    below.terminal, below.direction = True, -1
    sol = flow.solve(x0, (0.0, t_max), events=[below], rtol=rtol, atol=ESCAPE_ATOL)
    if not len(sol.t_events[0]):
        raise ValueError(f"the flow from distance eps = {eps:g} did not leave the saddle before t = {t_max:g}")
    return float(sol.t_events[0][0])
