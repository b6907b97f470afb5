"""Critical points of any network, found numerically: starts, minimum-norm Newton, certificates and classes.

For a sparse mask, a skip connection or any DAG the path picture gives no
closed form, so the critical points are searched for. Starts:

- ``"strata"``: where the topology is layered, the canonical representative
  of every stratum of the fully connected network (:func:`enumerate_strata`)
  restricted to the mask, moved by a random element of the topology's group;
- ``"plateau"``: the states where flows from small random starts rest (the
  speed ``||dtheta/dt||`` at a local minimum along the trajectory: the flow
  passes saddles there);
- ``"random"``: Gaussian weights of the size of a learnt mode's links;
- ``"given"``: weights the caller supplies.

Each start is refined by Gauss-Newton on ``grad L = 0`` with the exact Hessian
as Jacobian and the minimum-norm step ``s = -H^+ grad`` (``lstsq``; LSMR on
:class:`geodln.dynamics.hessian.HessianOperator` above the matrix-free
threshold): the critical sets are manifolds, ``H`` is singular along them,
and the minimum-norm step does not move along the set, only towards it.

Each point found is certified (the gradient recomputed at the returned point,
below ``Tolerances.gradient``) and classified: a negative Hessian eigenvalue
makes a strict saddle; at a positive semidefinite Hessian a higher-order
search (:func:`escape_direction`) looks for a unit direction ``d`` in the
horizontal Hessian kernel along which ``L(theta + eps d) - L(theta)`` falls
like ``-c eps^m``, ``m >= 3`` fitted on a log-log range and confirmed by
:func:`geodln.landscape.critical.loss_order` (a nonstrict saddle); a point with
no way down at the lowest value found is a global minimum, and one with no
way down above it is reported as unresolved (never guessed). Points are
deduplicated by critical value and orbit signature (:mod:`.orbits`); a start
that lands on an orbit already found can be deflated by restart (``restarts``
rounds: kicked off its point and refined again, in search of an orbit not yet found).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..dynamics.flow import GradientFlow
from ..dynamics.hessian import HessianOperator, hessian, horizontal_hessian, inertia, matrix_free
from ..errors import GeodlnError
from ..network.data import Data
from ..network.topology import Topology, layered
from ..symmetry import act, random_group_element
from ..tolerances import DEFAULT_TOLERANCES, Tolerances
from .critical import Curvature, curvature, loss_order
from .orbits import balanced_point, drop_remnants, orbit_invariants
from .points import LSMR_ITERATIONS, LSMR_TOL, NEWTON_MARGIN, analyze_point, nearest_learned
from .strata import enumerate_strata

__all__ = ["START_KINDS", "DEFAULT_STARTS", "NumericalPoint", "Search", "check_starts", "refine", "escape_direction",
           "search_critical_points", "numerical_manifolds"]

START_KINDS = ("strata", "plateau", "random", "given")
DEFAULT_STARTS = {"strata": None, "plateau": 8, "random": 16}
"""Starts of each kind (``"strata": None``: every stratum, on layered topologies; none elsewhere; ``"given"``:
the user's own weights, a sequence of packed vectors or adjacency matrices)."""
NEWTON_STEPS = 200
"""Cap on Gauss-Newton iterations: at a degenerate saddle of depth ``h`` the remnants shrink only by
about ``(h - 2)/(h - 1)`` per step (the gradient is of degree ``h - 1`` in them), so convergence is linear there."""
PLATEAU_SCALE, PLATEAU_TIME, PLATEAU_POINTS = 1e-2, 50.0, 300
"""Plateau starts: weights of size ``PLATEAU_SCALE s_1^(1/h)``, integrated to ``t = PLATEAU_TIME
PLATEAU_SCALE^(2-h) / s_m`` (past the escape of the smallest mode from the origin's plateau) on a log grid."""
PLATEAU_WINDOW = 15
"""... a state rests when its speed is the least within this many samples on either side (a twentieth of the grid)."""
ESCAPE_TRIES, ESCAPE_ITERATIONS = 6, 300
"""Random starts and L-BFGS iterations of the higher-order search on the sphere of the Hessian kernel."""


@dataclass
class NumericalPoint:
    """One critical point found numerically (a representative of its orbit), certified and classified.

    Attributes
    ----------
    theta : ndarray, shape=[n_params]
        The representative: balanced (moment map zero) when ``balanced``.
    critical_value : float
        ``L`` at ``theta``.
    grad_norm : float
        ``||dL/dtheta||`` recomputed at ``theta``.
    learned : list of int
        ``J`` of the nearest ``W_J`` (:func:`geodln.landscape.points.nearest_learned`).
    closed_form : bool
        Whether ``critical_value`` is ``L_J`` (always, for fully connected layered networks).
    curvature : Curvature
        Hessian spectrum and inertia (full, horizontal), orbit dimension.
    signature : tuple
        ``(stratum, orbit invariants, inertia)``: the label below, the ranks of
        :func:`geodln.landscape.orbits.orbit_invariants` and the Hessian's ``(negative, zero, positive)``.
    stratum : str
        Its stratum's label when the network is fully connected and the point is read (else ``""``).
    kind : str or None
        ``global_minimum``, ``strict_saddle``, ``nonstrict_saddle``, or None while unresolved.
    escape : dict or None
        Nonstrict saddles: ``eps``, ``decrease``, ``fitted_order``, ``measured_order`` and ``direction``
        (unit, shape=[n_params]).
    escape_order : int or None
        2 for strict saddles, ``m`` for nonstrict ones.
    balanced : bool
    starts : Counter
        How many starts of each kind converged to this point's orbit.
    """

    theta: np.ndarray = field(repr=False)
    critical_value: float
    grad_norm: float
    learned: list
    closed_form: bool
    curvature: Curvature = field(repr=False)
    signature: tuple = field(repr=False)
    stratum: str = ""
    kind: str | None = None
    escape: dict | None = field(default=None, repr=False)
    escape_order: int | None = None
    balanced: bool = False
    starts: Counter = field(default_factory=Counter)


@dataclass
class Search:
    """What :func:`search_critical_points` did: the points, and the starts behind them.

    Attributes
    ----------
    points : list of NumericalPoint
        Classified, by increasing critical value.
    unresolved : list of NumericalPoint
        Certified critical points with a positive semidefinite Hessian, no escape found and a value above
        the lowest one found: neither minimum nor saddle could be shown.
    starts : dict
        ``{kind: number of starts made}``.
    converged, failed : dict
        ``{kind: number}`` of starts whose refinement reached a certified critical point, or not.
    """

    points: list
    unresolved: list
    starts: dict
    converged: dict
    failed: dict


def check_starts(starts, top: Topology) -> dict:
    """``starts`` as ``{kind: count}`` over :data:`START_KINDS`, or a ValueError saying what is wrong.

    ``None`` gives :data:`DEFAULT_STARTS`; a mapping may name some kinds only (the others get 0);
    ``"strata": None`` means every stratum and needs a layered topology (elsewhere it is 0); ``"given"`` is a
    sequence of weights (packed, or adjacency matrices), returned as a list of packed vectors.
    """
    if starts is None:
        starts = DEFAULT_STARTS
    if not hasattr(starts, "items"):
        raise TypeError(f"starts must be a mapping {{kind: count}} over {START_KINDS}, got {type(starts).__name__}")
    unknown = set(starts) - set(START_KINDS)
    if unknown:
        raise ValueError(f"unknown kinds of starts {sorted(unknown)}; use {START_KINDS}")
    out = {"given": [_given(top, x) for x in starts.get("given", ())]}
    for kind in START_KINDS[:-1]:
        n = starts.get(kind, 0)
        if kind == "strata" and n is None:
            out[kind] = None if top.is_layered else 0
            continue
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"starts[{kind!r}] must be a nonnegative integer, got {n!r}")
        if kind == "strata" and n and not top.is_layered:
            raise ValueError("starts from the strata need a layered topology (no skip connections)")
        out[kind] = int(n)
    return out


def _given(top: Topology, x) -> np.ndarray:
    """A given start as packed weights (an adjacency matrix is packed), checked."""
    x = np.asarray(x, dtype=float)
    x = top.pack(x) if x.shape == (top.n, top.n) else top.check_theta(x)
    if not np.all(np.isfinite(x)):
        raise ValueError("a given start contains NaN or inf")
    return x


def _unit(top: Topology, data: Data) -> float:
    return float(data.s[0]) ** (1 / top.depth)


def _strata_starts(top: Topology, data: Data, count, rng) -> list:
    """The strata of the fully connected network on ``top``'s widths, restricted to its mask."""
    full = layered(top.widths)
    strata = [s for _, group, _ in enumerate_strata(top.widths, data.rank) for s in group]
    if count is not None and count < len(strata):
        strata = [strata[i] for i in sorted(rng.choice(len(strata), count, replace=False))]
    starts = []
    for stratum in strata:
        A = stratum.canonical_adjacency(full, data, rng) * top.mask
        starts.append(top.pack(act(top, random_group_element(top, rng), A)))
    return starts


def _plateau_starts(flow: GradientFlow, count: int, rng, tol: Tolerances) -> list:
    """States where flows from small random starts rest: the local minima of the speed along each trajectory."""
    top, data = flow.top, flow.data
    t_end = PLATEAU_TIME * PLATEAU_SCALE ** (2 - top.depth) / float(data.s[data.rank - 1])
    starts = []
    for _ in range(count):
        theta0 = PLATEAU_SCALE * _unit(top, data) * rng.standard_normal(top.n_params) / np.sqrt(max(top.widths))
        traj = flow.integrate(theta0, t_end, n_points=PLATEAU_POINTS, log_time=True, rtol=1e-8, atol=1e-12)
        speed = np.linalg.norm([flow.rhs(y) for y in traj.theta], axis=1)
        # a plateau is a minimum of the speed over a window of the log grid (not a wiggle of the solver)
        # (once the flow has converged only rounding is left: that tail is the final state's)
        rest = [i for i in range(PLATEAU_WINDOW, speed.size - PLATEAU_WINDOW)
                if speed[i] == speed[i - PLATEAU_WINDOW:i + PLATEAU_WINDOW + 1].min()
                and not tol.is_critical(speed[i], data)]
        starts += [traj.theta[i] for i in rest] + [traj.final]
    return starts


def _random_starts(top: Topology, data: Data, count: int, rng) -> list:
    size = _unit(top, data) / np.sqrt(max(top.widths))
    return [size * rng.standard_normal(top.n_params) for _ in range(count)]


def _min_norm_step(flow: GradientFlow, x: np.ndarray, g: np.ndarray, tol: Tolerances) -> np.ndarray:
    """``-H^+ g``: the minimum-norm least-squares solution of ``H s = -g`` (dense, or LSMR from zero)."""
    if not matrix_free(flow.top.n_params):
        return np.linalg.lstsq(hessian(flow, x), -g, rcond=tol.search_rcond)[0]
    from scipy.sparse.linalg import LinearOperator, lsmr  # on first use, keeping `import geodln` fast

    op, n = HessianOperator(flow, x), flow.top.n_params
    H = LinearOperator((n, n), dtype=float, matvec=op, rmatvec=op)  # symmetric
    return lsmr(H, -g, atol=LSMR_TOL, btol=LSMR_TOL, maxiter=LSMR_ITERATIONS)[0]


def refine(flow: GradientFlow, theta, tol: Tolerances = DEFAULT_TOLERANCES, steps: int = NEWTON_STEPS):
    """Damped minimum-norm Gauss-Newton on ``grad L = 0`` from ``theta``; the point reached, or None.

    Each step ``s = -H^+ grad`` is halved until it lowers ``||grad||``; the
    iteration stops once ``||grad|| <= NEWTON_MARGIN * gradient * s_1^2`` (room
    to spare under the certificate). None when it stalls, or when the
    weights grow past ``search_diverged`` times the global minimum's size.

    Parameters
    ----------
    flow : GradientFlow
    theta : array-like, shape=[n_params]
    tol : Tolerances
    steps : int

    Returns
    -------
    ndarray, shape=[n_params], or None
    """
    top, data = flow.top, flow.data
    x = top.check_theta(theta).copy()
    limit = tol.search_diverged * np.sqrt(top.depth * min(top.widths)) * _unit(top, data)
    for _ in range(steps):
        g = flow.gradient(x)
        gn = float(np.linalg.norm(g))
        if tol.is_critical(gn, data, fraction=NEWTON_MARGIN):
            return x
        step = _min_norm_step(flow, x, g, tol)
        for _ in range(40):
            trial = x + step
            if np.linalg.norm(flow.gradient(trial)) < gn:
                break
            step = 0.5 * step
        else:
            return None  # no step lowers the gradient: a stall away from the critical set
        x = trial
        if not np.all(np.isfinite(x)) or np.linalg.norm(x) > limit:
            return None
    return x if tol.is_critical(float(np.linalg.norm(flow.gradient(x))), data) else None


def _canonical(flow: GradientFlow, x: np.ndarray, tol: Tolerances) -> tuple[np.ndarray, bool]:
    """The refined point with its remnants dropped (when it stays critical) and balanced (when the orbit allows)."""
    top, data = flow.top, flow.data
    clean = drop_remnants(top, x, _unit(top, data), tol.plateau_gap)
    if not np.array_equal(clean, x):
        clean = refine(flow, clean, tol, steps=20)
        x = x if clean is None else clean
    bal = balanced_point(top, x)
    # On an orbit that is not closed Newton "balances" by shrinking dangling pieces towards zero: a point
    # whose ladder then shows a gap is on the way to another stratum, not the orbit's balanced point.
    if (bal is not None and np.array_equal(drop_remnants(top, bal, _unit(top, data), tol.plateau_gap), bal)
            and tol.is_critical(float(np.linalg.norm(flow.gradient(bal))), data)):
        return bal, True
    return x, False


def _identify(flow: GradientFlow, x: np.ndarray, tol: Tolerances) -> NumericalPoint:
    """Certificate, curvature and orbit signature of a refined point (not yet classified)."""
    top, data = flow.top, flow.data
    x, balanced = _canonical(flow, x, tol)
    cur = curvature(flow, x, tol)
    J = nearest_learned(flow, x)
    value = flow.loss(x)
    label = ""
    if top.is_fully_connected:
        try:
            label = analyze_point(flow, x, tol).label
        except GeodlnError:
            label = ""  # read as what the numbers say; the stratum reading refused it
    inv = orbit_invariants(top, x, data.input_modes[:, :data.rank], data.U[:, :data.rank], _unit(top, data))
    # not the orbit dimension: it is a rank decided at rounding level, which remnants far below the
    # inertia's threshold still change
    signature = (label, inv, (cur.full.negative, cur.full.zero, cur.full.positive))
    return NumericalPoint(theta=x, critical_value=value, grad_norm=float(np.linalg.norm(flow.rhs(x))), learned=list(J),
                          closed_form=tol.at_level(value, data.critical_value(J), data), curvature=cur,
                          signature=signature, stratum=label, balanced=balanced)


def _kernel(flow: GradientFlow, theta: np.ndarray, tol: Tolerances) -> np.ndarray:
    """An orthonormal basis of the horizontal Hessian's kernel, shape=[n_params, k] (the whole space when
    the network is analysed matrix-free)."""
    if matrix_free(flow.top.n_params):
        return np.eye(flow.top.n_params)
    Hh, Qh = horizontal_hessian(flow, theta)
    lam, vecs = np.linalg.eigh(Hh)
    zero = np.abs(lam) <= inertia(lam, tol.inertia, tol.hessian_scale(flow.data, flow.top.depth)).tol
    return Qh @ vecs[:, zero]


def _fitted_order(flow: GradientFlow, theta, d: np.ndarray, tol: Tolerances):
    """The slope of ``log(L(theta) - L(theta + eps d))`` on ``eps = escape_radius 2^-j``, with the drops."""
    value = flow.loss(theta)
    eps = tol.escape_radius * 0.5 ** np.arange(tol.escape_halvings + 1)
    drops = np.array([value - flow.loss(theta + e * d) for e in eps])
    if np.any(drops <= 0):
        return float("nan"), eps, drops
    return float(np.polyfit(np.log(eps), np.log(drops), 1)[0]), eps, drops


def escape_direction(flow: GradientFlow, theta, tol: Tolerances = DEFAULT_TOLERANCES, seed=0) -> dict | None:
    """A direction along which the loss falls like ``-c eps^m``, ``m >= 3``, at a positive semidefinite critical point.

    The higher-order search: minimise ``f(c) = L(theta + r N c/||c||) - L(theta)``
    (``r = escape_radius``, ``N`` the horizontal Hessian kernel) by L-BFGS from
    :data:`ESCAPE_TRIES` random ``c``; along each minimiser ``d`` the order is
    fitted on the log-log range of :meth:`_fitted_order` and confirmed by
    :func:`geodln.landscape.critical.loss_order` (two steps with
    ``eps^m = escape_drop``). The lowest confirmed order wins.

    Parameters
    ----------
    flow : GradientFlow
    theta : array-like, shape=[n_params]
        A critical point with a positive semidefinite Hessian.
    tol : Tolerances
        ``escape_radius``, ``escape_halvings``, ``escape_order``, ``escape_drop``, ``inertia``.
    seed : int or numpy.random.Generator

    Returns
    -------
    dict or None
        ``direction`` (unit, shape=[n_params]), ``fitted_order`` (the slope), ``measured_order``,
        ``eps`` and ``decrease`` (of :func:`loss_order`), ``order`` (the integer ``m``); None when no
        direction of order ``>= 3`` is found.
    """
    from scipy.optimize import minimize  # on first use, keeping `import geodln` fast

    theta = np.asarray(theta, dtype=float)
    N, rng, r, value = _kernel(flow, theta, tol), np.random.default_rng(seed), tol.escape_radius, flow.loss(theta)
    if N.shape[1] == 0:
        return None

    def f(c):
        norm = np.linalg.norm(c)
        u = c / norm
        x = theta + r * (N @ u)
        g = r * (N.T @ flow.gradient(x))
        return flow.loss(x) - value, (g - u * (u @ g)) / norm

    best = None
    for _ in range(ESCAPE_TRIES):
        c = minimize(f, rng.standard_normal(N.shape[1]), jac=True, method="L-BFGS-B",
                     options={"maxiter": ESCAPE_ITERATIONS}).x
        d = N @ (c / np.linalg.norm(c))
        slope = _fitted_order(flow, theta, d, tol)[0]
        m = int(round(slope)) if np.isfinite(slope) else 0
        if m < 3 or abs(slope - m) >= tol.escape_order:
            continue
        steps, drops, measured = loss_order(flow, theta, d, m, tol)
        if min(drops) > 0 and abs(measured - m) < tol.escape_order and (best is None or m < best["order"]):
            best = {"order": m, "fitted_order": slope, "measured_order": measured, "eps": list(steps),
                    "decrease": list(drops), "direction": d}
    return best


def _classify(flow: GradientFlow, points: list, tol: Tolerances, rng) -> tuple[list, list]:
    """Kinds of the deduplicated points: strict (a negative eigenvalue), nonstrict (an escape of order
    ``>= 3``), global minimum (no way down, at the lowest such value), else unresolved."""
    flat = []
    for p in points:
        if p.curvature.full.negative:
            p.kind, p.escape_order = "strict_saddle", 2
            continue
        p.escape = escape_direction(flow, p.theta, tol, rng)
        if p.escape is not None:
            p.kind, p.escape_order = "nonstrict_saddle", p.escape["order"]
        else:
            flat.append(p)
    lowest = min((p.critical_value for p in flat), default=np.inf)
    unresolved = []
    for p in flat:
        if tol.at_level(p.critical_value, lowest, flow.data):
            p.kind = "global_minimum"
        else:
            unresolved.append(p)
    return [p for p in points if p.kind is not None], unresolved


def _same_orbit(p: NumericalPoint, q: NumericalPoint, data: Data, tol: Tolerances) -> bool:
    return p.signature == q.signature and tol.at_level(p.critical_value, q.critical_value, data)


def search_critical_points(top: Topology, data: Data, starts=None, seed=0, tol: Tolerances = DEFAULT_TOLERANCES,
                           workers: int | None = None, restarts: int = 0) -> Search:
    """Find, certify, deduplicate and classify critical points of ``top`` on ``data`` from many starts.

    Parameters
    ----------
    top : Topology
        Any network (a sparse mask, skip connections, a DAG).
    data : Data
    starts : mapping, optional
        ``{kind: count}`` over :data:`START_KINDS` (:func:`check_starts`).
    seed : int
        Seeds every start, group element and escape search.
    tol : Tolerances
    workers : int, optional
        Refine the starts on Dask with this many processes (see :func:`geodln.io.parallel.run`); default:
        in this process. The points are gathered in the order of the starts: every engine gives the same search.
    restarts : int
        Rounds of deflation by restart: a start whose point joins an orbit already found is replaced by
        a start kicked from that point (:func:`_kicked`, counted as kind ``"restart"``), refined in the
        next round; 0 (the default) makes none.

    Returns
    -------
    Search
    """
    from ..io.parallel import check_workers

    check_workers(workers)
    if isinstance(restarts, bool) or not isinstance(restarts, (int, np.integer)) or restarts < 0:
        raise ValueError(f"restarts must be a nonnegative integer, got {restarts!r}")
    budget = check_starts(starts, top)
    rng = np.random.default_rng(seed)
    flow = GradientFlow(top, data)
    made = {"strata": _strata_starts(top, data, budget["strata"], rng) if budget["strata"] != 0 else [],
            "plateau": _plateau_starts(flow, budget["plateau"], rng, tol),
            "random": _random_starts(top, data, budget["random"], rng), "given": budget["given"]}
    jobs = [(kind, x) for kind in START_KINDS for x in made[kind]]
    points, converged, failed = [], Counter(), Counter()
    repeats = _gather(flow, jobs, points, converged, failed, tol, workers)
    made_count = {k: len(v) for k, v in made.items()}
    for _ in range(restarts):
        jobs = [("restart", _kicked(top, data, x, rng)) for x in repeats]
        made_count["restart"] = made_count.get("restart", 0) + len(jobs)
        repeats = _gather(flow, jobs, points, converged, failed, tol, workers)
    points.sort(key=lambda p: (p.critical_value, p.signature[2]))
    kept, unresolved = _classify(flow, points, tol, rng)
    return Search(kept, unresolved, made_count, dict(converged), dict(failed))


RESTART_KICK = 0.3
"""Deflation by restart: the kick's size, ``RESTART_KICK s_1^(1/h)`` per weight over ``sqrt(max width)`` (a
third of a random start's), off a point whose orbit is known: far enough that Newton does not return to the
same critical set from most kicks, near enough to stay in the region the first start found. Measured
(tests/benchmarks/search_completeness.py, seeds 0 and 1): per start made, no gain over as many fresh random
starts (2,2,2,2 at ~170 starts: 13 entries with restarts, 16 without; 3,2,3 and 3,3,3 at ~40: the same strata
within one), nor with kicks of 0.1 or 1.0; it spends the budget near the orbits already found."""


def _kicked(top: Topology, data: Data, x: np.ndarray, rng) -> np.ndarray:
    """A restart from the refined point ``x``, shape=[n_params]: ``x`` plus a Gaussian kick (:data:`RESTART_KICK`)."""
    return x + RESTART_KICK * _unit(top, data) / np.sqrt(max(top.widths)) * rng.standard_normal(top.n_params)


def _gather(flow: GradientFlow, jobs: list, points: list, converged: Counter, failed: Counter, tol: Tolerances,
            workers) -> list:
    """Refine ``jobs`` (``[(kind, start)]``, on ``workers`` processes), identify each point and add it to
    ``points`` or count it on the orbit it joins (in the order of ``jobs``, whatever the engine).

    Returns
    -------
    list of ndarray
        The refined points of the starts that joined an orbit already in ``points`` (for a restart).
    """
    from ..io.parallel import LazyCalls, run

    refined, repeats = {}, []
    run(LazyCalls(range(len(jobs)), lambda i: (refine, flow, jobs[i][1], tol)), refined.__setitem__, None,
        workers or 1, cluster_by_default=False)
    for i, (kind, _) in enumerate(jobs):
        if refined[i] is None:
            failed[kind] += 1
            continue
        converged[kind] += 1
        p = _identify(flow, refined[i], tol)
        same = next((q for q in points if _same_orbit(p, q, flow.data, tol)), None)
        (same or p).starts[kind] += 1
        if same is None:
            points.append(p)
        else:
            repeats.append(refined[i])
    return repeats


def numerical_manifolds(flow: GradientFlow, theta, escape=None, order: int | None = None,
                        tolerances: Tolerances = DEFAULT_TOLERANCES):
    """Stable and unstable directions at a saddle found numerically, as :func:`geodln.local_manifolds` gives them.

    The horizontal Hessian's eigenvectors (and, on a fully connected network whose point is read, the
    closing paths of the stratum); at a nonstrict saddle without an unstable direction among those, the
    escape direction of the higher-order search (:func:`escape_direction`) as a ray of order ``order``.

    Parameters
    ----------
    flow : GradientFlow
    theta : array-like, shape=[n_params]
    escape : array-like, shape=[n_params], optional
        The unit escape direction of a nonstrict saddle.
    order : int, optional
        Its order ``m``.
    tolerances : Tolerances

    Returns
    -------
    geodln.landscape.saddles.LocalManifolds
    """
    from .saddles import Direction, LocalManifolds, _hessian_directions, local_manifolds

    theta = np.asarray(theta, dtype=float)
    try:
        found = local_manifolds(flow, theta, tolerances=tolerances)
    except GeodlnError:  # a fully connected network's point the stratum reading refuses: the Hessian alone
        found = LocalManifolds(*_hessian_directions(flow, theta, tolerances), flow.top.n_params)
    if escape is not None and not found.unstable:
        d = np.asarray(escape, dtype=float)
        found.unstable.append(Direction(d / np.linalg.norm(d), True, int(order)))
    return found
