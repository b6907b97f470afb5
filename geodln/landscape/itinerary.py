"""Saddle-to-saddle itineraries that do not depend on how a trajectory was sampled.

A *visit* is a time interval in which the flow is slow and near the critical
set of one learnt set ``J``:

    ||d theta/dt|| <= visit_speed * s_1^(2 - 1/h)   and
    ||(W - W_J) Sxx^{1/2}||_F <= visit_distance * s_1,

with ``J`` the set whose ``W_J`` is nearest ``W`` (thresholds: the fields of
:class:`geodln.Tolerances`). Both are read on the trajectory's own samples,
and each entry and exit time is then refined by bisection on the continuous
solution: the flow is integrated across the bracket between two samples,
with the method and tolerances the trajectory was integrated with (its
``method``, ``rtol``, ``atol``), so a user's choice reaches every
integration. An interval between two samples across which the nearest learnt
set changes by two modes or more, or the loss crosses a critical value, may
hide a plateau: it is integrated on finer points (:data:`PLATEAU_PIECES`,
recursively :data:`PLATEAU_DEPTH` times). Hence the same visits whatever
``n_points``, ``t_eval``, ``log_time`` or ``t_end`` made the trajectory,
including the start plateau and a plateau the run ends on; a pass through a critical value at
speed is no visit. A trajectory of gradient descent (no ``method``) is not a
sample of the flow: the flow from its first state is integrated on a grid of
the time span (uniform and geometric, ``itinerary_points`` each, at
``itinerary_rtol``) and read there.

Each visit carries the critical point the flow shadows there
(:func:`geodln.nearest_critical_point` at the visit's slowest grid state): its
class, escape order and stratum, and, given a catalog of the same
architecture and data, the id of the record with that stratum.

Each exit is tested before it is reported (:attr:`Visit.escape`):

* by exact invariants of the flow (:func:`sign_invariants`): a square layer
  ``W_j`` keeps the sign of its determinant when a conserved balance next to
  it is definite, and on a balanced start (every ``C_i = 0``) so do the square
  layers and the end-to-end map; a balanced start keeps the rank of ``W``
  (:func:`rank_invariant`). An exit across such a sign, or to a visit that
  rank cannot reach, is round-off: the exact flow ends at that visit (e.g. a
  balanced square network whose ``det W`` has the opposite sign to ``det Syx``
  ends on the saddle that drops the weakest mode), and every later visit is
  reached by round-off only;
* otherwise by the tolerance: the flow from the start is integrated again
  with the trajectory's method at an ``rtol`` :data:`geodln.tolerances.ESCAPE_RTOL_FACTOR`
  times smaller, and an exit time that moves by more than
  :data:`geodln.tolerances.ESCAPE_TIME_SHIFT` of the time from the start is
  reported as unresolved (round-off or ill-conditioned), with both times.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, NamedTuple

import numpy as np

from ..errors import GeodlnError
from ..dynamics.flow import Trajectory
from .critical import CriticalPoint, point_kind
from .labels import format_learned
from .points import nearest_critical_point, nearest_learned
from ..symmetry import layer_balances
from ..tolerances import (BALANCE_ROUNDOFF, DEFAULT_TOLERANCES, ESCAPE_RTOL_FACTOR, ESCAPE_RTOL_FLOOR,
                          ESCAPE_TIME_SHIFT, Tolerances)

__all__ = ["Visit", "itinerary", "itinerary_memory", "SignInvariant", "sign_invariants", "rank_invariant"]


# An interval between two samples that may hide a visit is integrated on PLATEAU_PIECES inner points, and
# so on PLATEAU_DEPTH times: 16^3 = 4096 times finer where needed, so that a plateau of a few time units is
# seen in samples a thousand times coarser (a run to t_end = 1e6 sampled from t = 100 on), at a cost only
# where the loss crosses a critical value between samples.
PLATEAU_PIECES = 16
PLATEAU_DEPTH = 3
# The exit check integrates the flow again from the start; it holds at most CHECK_MEMORY bytes of its states
# at a time (1024 states of 16k weights, 8 of 2M), each piece integrated from the last state of the one before.
CHECK_MEMORY = 2 ** 27
# Entry and exit times are located to this fraction of the time (at least 1 unit): far below the
# conditioning of a visit's ends (set by the speed threshold crossed at a slow rate), and independent of
# how far apart the samples around them were.
BOUNDARY_RTOL = 1e-7


@dataclass(frozen=True)
class Visit:
    """A plateau of a trajectory: the flow rests near a critical point.

    Attributes
    ----------
    learned : tuple of int
        ``J``: the set whose ``W_J`` is nearest the end-to-end map on the visit.
    value : float
        ``L_J``.
    height : float
        The loss at the visit's slowest state.
    kind : str
        The class of the shadowed critical point.
    t_enter, t_exit : float
        Entry and exit times (the trajectory's first and last time for a
        visit at the start or at the end).
    escape_order : int or None
        Of the shadowed critical point.
    stratum : str
        Its stratum's label.
    distance : float
        ``||theta* - theta||`` from the slowest state to the shadowed point.
    t_slowest : float
        Time of the slowest state on the visit.
    record_id : str or None
        The catalog record with the same stratum, when a catalog was given.
    point : CriticalPoint or None
        The shadowed critical point (None where it could not be found).
    escape : str
        How the flow leaves the visit: ``"none"`` (the run ends on it),
        ``"exact"`` (no invariant forbids the exit and its time holds at the
        check tolerance), ``"round-off"`` (an exact invariant is broken during
        the visit or after it: the exact flow ends here) or ``"unresolved"`` (its time moves with the
        tolerance: round-off or ill-conditioned; the exact flow may end here).
    reached : str
        ``"exact"``, or the ``escape`` of an earlier visit (``"round-off"``,
        ``"unresolved"``) through which the trajectory got here.
    escape_note : str
        The evidence of a ``"round-off"`` or ``"unresolved"`` escape: the
        invariant and the time it is broken, or the two exit times.
    t_exit_check : float
        The exit time of the integration at ``check_rtol`` (``inf``: it does
        not leave before this visit's successor is entered; nan: not measured).
    check_rtol : float
        The ``rtol`` of that integration (nan: not measured).
    """

    learned: tuple
    value: float
    height: float
    kind: str
    t_enter: float
    t_exit: float
    escape_order: int | None = None
    stratum: str = ""
    distance: float = float("nan")
    t_slowest: float = float("nan")
    record_id: str | None = None
    point: CriticalPoint | None = field(default=None, repr=False)
    escape: str = "none"
    reached: str = "exact"
    escape_note: str = ""
    t_exit_check: float = float("nan")
    check_rtol: float = float("nan")

    def to_record(self) -> dict:
        """The visit as a JSON-ready record (an entry of ``geodln flow``'s ``itinerary``).

        Returns
        -------
        dict
            ``learned`` (list), ``critical_value`` (``L_J``), ``height``, ``kind``,
            ``t_enter``, ``t_exit``, ``escape_order``, ``stratum``, ``distance``,
            ``t_slowest``, ``escape``, ``reached``, ``escape_note``, and
            ``t_exit_check``, ``check_rtol`` (None where not measured).
        """
        measured = {k: (None if np.isnan(v) else v) for k, v in
                    (("t_exit_check", self.t_exit_check), ("check_rtol", self.check_rtol))}
        return {"learned": list(self.learned), "critical_value": self.value, "height": self.height, "kind": self.kind,
                "t_enter": self.t_enter, "t_exit": self.t_exit, "escape_order": self.escape_order,
                "stratum": self.stratum, "distance": self.distance, "t_slowest": self.t_slowest,
                "escape": self.escape, "reached": self.reached, "escape_note": self.escape_note} | measured

    def describe(self) -> str:
        """One line: the learnt set, ``L_J``, the class, the times, and any escape or arrival not made by
        the exact flow, e.g. ``{1, 2} (L = 0.5, strict saddle, t 2.51..17.2, escape round-off: ...)``."""
        order = "" if self.escape_order is None else f", m = {self.escape_order}"
        text = (f"{format_learned(self.learned)} (L = {self.value:.4g}, {self.kind.replace('_', ' ')}{order}, "
                f"t {self.t_enter:.3g}..{self.t_exit:.3g}")
        if self.reached != "exact":
            text += f", reached through a {self.reached} escape"
        if self.escape in ("round-off", "unresolved"):
            text += f", escape {self.escape}: {self.escape_note}"
        return text + ")"


def itinerary(traj: Trajectory, catalog=None, tolerances: Tolerances = DEFAULT_TOLERANCES) -> list[Visit]:
    """The saddle-to-saddle itinerary of a trajectory of the flow (quadratic loss).

    Parameters
    ----------
    traj : Trajectory
        Of the flow: its samples are read, and its ``method``, ``rtol`` and
        ``atol`` integrate between them. Of gradient descent: treated as the
        flow from its first state over its time span.
    catalog : Catalog, optional
        A catalog of the same architecture and data: each visit gets the id
        of the record with the shadowed point's stratum.
    tolerances : Tolerances
        ``visit_speed``, ``visit_distance``, ``itinerary_points`` and
        ``itinerary_rtol`` (for descent), and those of :func:`geodln.nearest_critical_point`.

    Returns
    -------
    list of Visit
        In time order.

    See Also
    --------
    nearest_critical_point
        The critical point a visit shadows.
    GradientFlow.integrate
        The trajectory to read.
    """
    flow = traj.flow
    flow.loss_fn.require_closed_form_critical_values("itineraries")
    tol = tolerances
    top, data = flow.top, flow.data
    t0, t1 = float(traj.t[0]), float(traj.t[-1])
    if t1 <= t0:
        return []
    samples, options = _samples(traj, tol)
    root = data.Sxx @ data._inv_sqrt  # Sxx^{1/2}
    speed_cap = tol.visit_speed * float(data.s[0]) ** (2 - 1 / top.depth)

    def label(theta):
        """``J`` if the state is on a visit to ``J``, else None; and the speed."""
        speed = float(np.linalg.norm(flow.rhs(theta)))
        J = nearest_learned(flow, theta)
        dist = np.linalg.norm((top.end_to_end(theta) - data.critical_map(J)) @ root) / data.s[0]
        return (J if speed <= speed_cap and dist <= tol.visit_distance else None), speed

    reading = _Reading(flow, label, sign_invariants(flow, np.asarray(traj.theta[0], dtype=float)), options)
    for t, x in samples:
        reading.see(float(t), x)
    visits = [_visit(flow, J, x, t_slow, enter, leave, catalog, tol)
              for J, enter, leave, t_slow, x in reading.finish()]
    return _test_escapes(flow, label, reading, visits, options, tol)


class _Reading:
    """The itinerary read in one pass over the samples in time order, holding O(1) states of its own.

    For each sample: its time (:attr:`grid`) and label; a change of label ends a run of equal labels and
    starts the next, and a run on a visit gets its entry and exit times by bisection from the sample
    before the change, and keeps its slowest state. The first sample at which an exact sign invariant
    (:func:`sign_invariants`) is broken is kept with the one before it (:attr:`broken`).
    """

    def __init__(self, flow, label, invariants, options):
        self.flow, self.label, self.invariants, self.options = flow, label, invariants, options
        self.grid, self.runs, self.found = [], [], []  # runs: (i, j) of each visit's samples
        self.first, self.broken, self.previous, self.run = None, None, None, None

    def kept(self, x) -> bool:
        """Whether every sign invariant has its start's sign at ``x``."""
        return all(np.sign(inv.det(x)) == inv.sign for inv in self.invariants)

    def see(self, t: float, x) -> None:
        """The next sample, at time ``t`` (after the last one), state ``x`` (shape=[n_params], not kept)."""
        J, speed = self.label(x)
        index = len(self.grid)
        self.grid.append(t)
        if self.previous is None:
            self.first = np.array(x, dtype=float)
        elif self.broken is None and self.invariants and not self.kept(x):
            self.broken = (*self.previous[:2], t, np.array(x, dtype=float))
        if self.previous is None or J != self.previous[2]:
            self._end_run(t)
            if J is not None:
                enter = t if self.previous is None else _boundary(self.flow, self.label, J, self.previous[0],
                                                                   self.previous[1], t, True, self.options)
                self.run = [J, enter, index, speed, t, np.array(x, dtype=float)]
        elif J is not None and speed < self.run[3]:
            self.run[3:] = [speed, t, np.array(x, dtype=float)]
        self.previous = (t, x, J)

    def _end_run(self, t_next: float | None) -> None:
        """Close the visit in progress: its exit between the last sample and ``t_next`` (None: the run ends on it)."""
        if self.run is None:
            return
        J, enter, i, _, t_slow, x_slow = self.run
        t_last, x_last, _ = self.previous
        leave = t_last if t_next is None else _boundary(self.flow, self.label, J, t_last, x_last, t_next, False,
                                                         self.options)
        self.found.append((J, enter, leave, t_slow, x_slow))
        self.runs.append((i, len(self.grid) - (1 if t_next is None else 2)))
        self.run = None

    def finish(self) -> list:
        """``(J, t_enter, t_exit, t_slowest, slowest state)`` of each visit, in time order."""
        self._end_run(None)
        return self.found


def itinerary_memory(flow, n_points: int) -> int:
    """The bytes :func:`itinerary` needs beyond the trajectory it reads (``n_points`` samples): an upper bound
    stated before it starts, not a measurement.

    The states it holds while reading (:data:`PLATEAU_DEPTH` subdivisions of :data:`PLATEAU_PIECES` ``- 1``
    inner states, one piece of the exit check, at most :data:`CHECK_MEMORY` bytes, and a few more: the
    bracket of a bisection, each visit's slowest state and critical point, for at most ``rank + 2`` visits),
    and the analysis of a visit's critical point:
    dense up to :data:`geodln.dynamics.hessian.MATRIX_FREE_ABOVE` weights, else by blocks
    (:func:`geodln.dynamics.stabilizer.rank_memory`) at a point whose layers have rank at most the data's
    (the critical points a flow visits); other topologies are classified from their ranks, with no spectrum.
    """
    from ..dynamics.hessian import matrix_free
    from ..dynamics.stabilizer import rank_memory

    top = flow.top
    D = top.n_params
    visits = flow.data.rank + 2  # each keeps its critical point's weights; a flow learns the modes once each
    states = PLATEAU_DEPTH * (PLATEAU_PIECES - 1) + min(int(n_points), max(1, CHECK_MEMORY // (8 * D))) + 6 + visits
    if not top.is_fully_connected:
        analysis = 0
    elif not matrix_free(D):
        analysis = 8 * 4 * D * D
    else:
        analysis = rank_memory(top, flow.data.rank)
    return 8 * D * states + analysis


def _samples(traj: Trajectory, tol: Tolerances):
    """The times and states to read, ``(t, state)`` in time order (an iterator: the inner states of the
    plateau resolution and of a re-integration are made as they are read), and the options of any
    integration.

    A trajectory of the flow is read as it was sampled, and integrated as it
    was; one of descent is replaced by the flow from its first state on a
    grid of the time span (uniform and geometric, so that the start and the end are resolved).
    """
    if traj.method is not None:
        options = dict(method=traj.method, rtol=traj.rtol, atol=traj.atol)
        margin = tol.loss * tol.gradient_scale(traj.flow.data)
        return _resolved(traj.flow, list(traj.t), traj.theta, options, margin), options
    flow, data = traj.flow, traj.flow.data
    t0, t1 = float(traj.t[0]), float(traj.t[-1])
    unit = float(data.s[0]) ** (1 / flow.top.depth)
    options = dict(rtol=tol.itinerary_rtol, atol=1e-3 * tol.itinerary_rtol * unit)
    n = int(tol.itinerary_points)
    grid = np.unique(np.concatenate([np.linspace(t0, t1, n), t0 + np.geomspace(1e-6 * (t1 - t0), t1 - t0, n)]))
    return _reintegrated(flow, grid, np.asarray(traj.theta[0], dtype=float), options), options


def _reintegrated(flow, grid, x0, options):
    """``(t, state)`` on ``grid`` along the flow from ``x0`` (:func:`_flow_states`), all of them or an error."""
    q = -1
    for q, x in _flow_states(flow, grid, x0, len(grid) - 1, options):
        yield grid[q], x
    if q != len(grid) - 1:
        raise GeodlnError(f"the re-integration stopped early (at t = {grid[q]:.4g})")


def _may_hide_a_visit(flow, a, b, margin: float) -> bool:
    """Whether the flow between two samples may rest near a critical point that neither sample shows.

    ``a``, ``b``: each sample's nearest learnt set and loss, ``(J, L)``. A visit
    to ``J`` between the samples would put the loss at ``L_J`` between theirs
    (the loss decreases along the flow), so: the nearest learnt sets differ in
    two modes or more (an intermediate set in between), or the critical value
    of one of them lies strictly between their losses.
    """
    (Ja, La), (Jb, Lb) = a, b
    if len(set(Ja) ^ set(Jb)) >= 2:
        return True
    return any(Lb + margin < flow.data.critical_value(J) < La - margin for J in {Ja, Jb})


def _resolved(flow, times, states, options, margin: float, depth: int = PLATEAU_DEPTH, ends: bool = True):
    """``(t, state)``: the samples with every interval that may hide a visit subdivided, by integrating it
    (with the trajectory's own method and tolerances) on :data:`PLATEAU_PIECES` points, recursively up to
    ``depth`` levels: so a trajectory sampled coarsely (``t_end = 1e6`` in log time begins at ``t = 100``)
    shows the plateaus that its samples stepped over. Made as they are read: memory holds
    ``PLATEAU_PIECES - 1`` inner states per level. ``ends``: the first and last sample too (else they were
    given by the level above)."""
    def read(x):
        return nearest_learned(flow, x), flow.loss(x)

    if ends:
        yield times[0], states[0]
    before = read(states[0]) if depth > 0 else None
    for a in range(len(times) - 1):
        after = read(states[a + 1]) if depth > 0 else None
        if depth > 0 and _may_hide_a_visit(flow, before, after, margin):
            yield from _subdivided(flow, times[a:a + 2], states[a:a + 2], options, margin, depth)
        if ends or a + 2 < len(times):
            yield times[a + 1], states[a + 1]
        before = after


def _subdivided(flow, span, ends, options, margin: float, depth: int):
    """``(t, state)`` at the :data:`PLATEAU_PIECES` ``- 1`` inner points of the interval ``span`` (its two
    samples' states ``ends``), each interval between them resolved again (:func:`_resolved`, ``depth - 1``);
    nothing if the integration across it does not reach its end. The inner states are freed when the
    last of them has been read."""
    inner = np.linspace(*span, PLATEAU_PIECES + 1)[1:-1]
    sol = flow.solve(ends[0], tuple(span), t_eval=inner, **options)
    if sol.y.shape[1] == inner.size:
        yield from _resolved(flow, [span[0], *inner, span[1]], [ends[0], *sol.y.T, ends[1]], options, margin,
                             depth - 1, ends=False)


def _boundary(flow, label, J, ta, xa, tb, entering: bool, options) -> float:
    """The time the label becomes (``entering``) or stops being ``J`` between grid times ``ta`` and ``tb``
    (the state ``xa`` at ``ta``)."""
    return _bisect(flow, lambda x: (label(x)[0] == J) != entering, ta, xa, tb, options)


def _bisect(flow, before, ta, xa, tb, options, iterations: int = 60) -> float:
    """Bisection on the continuous solution for the time between ``ta`` and ``tb`` (the state ``xa`` at
    ``ta``) at which ``before(theta)`` stops holding, to :data:`BOUNDARY_RTOL` of the time (not a number of
    halvings: the bracket's width depends on the sampling, the answer must not)."""
    for _ in range(iterations):
        if tb - ta <= BOUNDARY_RTOL * max(1.0, abs(tb)):
            break
        tm = 0.5 * (ta + tb)
        xm = flow.solve(xa, (ta, tm), t_eval=[tm], **options).y[:, -1]
        if before(xm):
            ta, xa = tm, xm
        else:
            tb = tm
    return float(0.5 * (ta + tb))


def _visit(flow, J, theta, t_slow, enter, leave, catalog, tol) -> Visit:
    data = flow.data
    value, height = data.critical_value(J), flow.loss(theta)
    common = dict(learned=tuple(J), value=value, height=height, t_enter=float(enter), t_exit=float(leave),
                  t_slowest=t_slow)
    if not flow.top.is_fully_connected:  # no stratum reading: the class from the ranks at the state
        return Visit(kind=point_kind(flow, theta, J, tol), **common)
    try:
        near = nearest_critical_point(flow, theta, tol)
    except GeodlnError:
        return Visit(kind=point_kind(flow, theta, J, tol), **common)
    cp = near.point
    return Visit(kind=cp.kind, escape_order=cp.escape_order, stratum=cp.label, distance=near.distance,
                 record_id=_record_id(catalog, flow, cp), point=cp, **common)


def _record_id(catalog, flow, cp: CriticalPoint) -> str | None:
    """The id of the catalog record with the same stratum, if the catalog is of the same network and data."""
    if catalog is None or cp.stratum is None or not catalog.matches(flow.top, flow.data):
        return None
    record = catalog.record_for(cp.label)
    return None if record is None else record["id"]


class SignInvariant(NamedTuple):
    """A determinant whose sign the exact flow keeps (:func:`sign_invariants`).

    Attributes
    ----------
    name : str
        ``"det W_j"`` (a square layer) or ``"det W"`` (the end-to-end map).
    det : callable
        ``theta -> float``, the determinant at packed weights ``theta`` (shape=[n_params]).
    sign : float
        Its sign at the start, +1 or -1.
    reason : str
        The conserved quantity that fixes the sign.
    """

    name: str
    det: Callable
    sign: float
    reason: str


def sign_invariants(flow, theta0) -> list[SignInvariant]:
    """The determinants whose sign the exact flow from ``theta0`` can never change.

    With ``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}`` conserved (fully connected
    layered networks; with weight decay ``C_i(t) = e^(-2 lambda t) C_i(0)``,
    which keeps every sign below):

    * ``C_i`` positive definite: ``W_i W_i^T >= C_i > 0`` for all ``t``, so
      ``W_i`` keeps full row rank; negative definite: ``W_{i+1}^T W_{i+1} >=
      -C_i > 0``, so ``W_{i+1}`` keeps full column rank. A square layer of
      full rank never has ``det W_j = 0``, so its determinant keeps its sign.
    * Every ``C_i = 0`` (balanced), ``d_0 = d_h = d`` and every hidden width
      ``>= d``: the end-to-end map follows ``dW/dt = sum_j (W W^T)^((h-j)/h) E
      (W^T W)^((j-1)/h)`` (Arora, Cohen, Hazan 2018), so with ``W = U S V^T``,
      ``d/dt log|det W| = tr(W^-1 dW/dt) = tr(S^(1 - 2/h) U^T E V)``, bounded on
      the (bounded) trajectory for ``h >= 2``: ``det W`` never reaches 0 in finite
      time and keeps its sign. When every layer is square, ``W_{i+1}^T W_{i+1}
      = W_i W_i^T`` gives every layer the same singular values, so ``|det W_j|
      = |det W|^(1/h) > 0`` and each ``det W_j`` keeps its sign too.

    Neither holds for an unbalanced start with indefinite balances: there
    ``det W`` may change sign (``h = 2``, scalars: ``w_1 = -1/2, w_2 = 1``
    crosses ``w_1 = 0``). Balances count as zero or definite above rounding
    (:data:`geodln.tolerances.BALANCE_ROUNDOFF`), and a determinant is used
    only where the start is nonsingular at that scale.

    Parameters
    ----------
    flow : GradientFlow
    theta0 : ndarray, shape=[n_params]
        The start.

    Returns
    -------
    list of SignInvariant
        Empty for sparse or non-layered topologies.

    Examples
    --------
    >>> from geodln import layered, init, Data, GradientFlow
    >>> top = layered([2, 2, 2])
    >>> flow = GradientFlow(top, Data.from_spectrum([2.0, 1.0], 2, 2, seed=0))
    >>> [inv.name for inv in sign_invariants(flow, init.orthogonal(top, 0.5, seed=0))]
    ['det W_1', 'det W_2', 'det W']
    """
    top = flow.top
    if not top.is_fully_connected or top.depth < 2:
        return []
    Ws = top.layer_weights(theta0)
    zero, found = _balance_signs(top, Ws, theta0)
    square = [j for j in range(1, top.depth + 1) if Ws[j - 1].shape[0] == Ws[j - 1].shape[1]]
    balanced = "the start is balanced (every C_i = 0): the layers keep equal singular values and det W never reaches 0"
    if zero and len(square) == top.depth:
        found = {j: balanced for j in square}
    out = [_sign_invariant(f"det W_{j}", lambda th, j=j: top.layer_weights(th)[j - 1], theta0, why)
           for j, why in sorted(found.items()) if j in square]
    if zero and top.widths[0] == top.widths[-1] <= min(top.widths):
        out.append(_sign_invariant("det W", top.end_to_end, theta0, balanced))
    return [inv for inv in out if inv is not None]


def _balance_signs(top, Ws, theta0) -> tuple[bool, dict]:
    """Whether every balance ``C_i`` is zero at rounding (a balanced start), and the layers ``j`` (1-based)
    that a definite balance keeps at full rank, with the reason."""
    found, zero = {}, True
    for i, C in enumerate(layer_balances(top, theta0), start=1):
        scale = BALANCE_ROUNDOFF * max(np.linalg.norm(Ws[i - 1], 2) ** 2, np.linalg.norm(Ws[i], 2) ** 2)
        eig = np.linalg.eigvalsh(C)
        zero = zero and np.abs(eig).max(initial=0.0) <= scale
        if eig[0] > scale:
            found.setdefault(i, f"C_{i} is positive definite (least eigenvalue {eig[0]:.3g}): W_{i} keeps full row rank")
        if eig[-1] < -scale:
            found.setdefault(i + 1, f"C_{i} is negative definite (largest eigenvalue {eig[-1]:.3g}): "
                                    f"W_{i + 1} keeps full column rank")
    return zero, found


def rank_invariant(flow, theta0) -> tuple[int, str] | None:
    """``(r, reason)``: the exact flow from a balanced ``theta0`` keeps ``rank W = r``; None otherwise.

    On a balanced start (every ``C_i = 0``) with every hidden width ``>= min(d_0, d_h)``, each singular
    value of ``W`` obeys ``d sigma/dt = h sigma^(2 - 2/h) u^T E v`` (Arora, Cohen, Hu, Luo 2019), Lipschitz
    in ``sigma`` for ``h >= 2``: a zero singular value stays zero and a positive one never reaches zero in
    finite time. So ``W(t)`` has the rank of ``W(0)`` (counted above ``BALANCE_ROUNDOFF sigma_1``) and
    ``||(W - W_J) Sxx^(1/2)|| >= sigma_{r+1}(W_J Sxx^(1/2))``: a visit to ``J`` with that bound above the
    visit distance is not on the exact flow.

    Parameters
    ----------
    flow : GradientFlow
    theta0 : ndarray, shape=[n_params]

    Returns
    -------
    (int, str) or None
        Also None when ``W(0)`` has full rank ``min(d_0, d_h)`` (the bound says nothing) or the topology
        is not fully connected layered.
    """
    top = flow.top
    if not top.is_fully_connected or top.depth < 2 or min(top.widths) < min(top.widths[0], top.widths[-1]):
        return None
    if not _balance_signs(top, top.layer_weights(theta0), theta0)[0]:
        return None
    sv = np.linalg.svd(top.end_to_end(theta0), compute_uv=False)
    r = int(np.sum(sv > BALANCE_ROUNDOFF * sv[0])) if sv[0] > 0 else 0
    if r == sv.size:
        return None
    return r, f"the start is balanced with rank W = {r}, which the exact flow keeps"


def _sign_invariant(name, matrix, theta0, reason) -> SignInvariant | None:
    """The sign of ``det matrix(theta)`` as an invariant, or None when the start's matrix is singular at
    rounding (condition number above ``1 / BALANCE_ROUNDOFF``: no sign to keep)."""
    sv = np.linalg.svd(matrix(theta0), compute_uv=False)
    if not sv[-1] > BALANCE_ROUNDOFF * sv[0]:
        return None
    return SignInvariant(name, lambda th: float(np.linalg.det(matrix(th))), float(np.sign(np.linalg.det(matrix(theta0)))),
                         reason)


def _test_escapes(flow, label, reading: _Reading, visits, options, tol: Tolerances) -> list[Visit]:
    """The visits with each exit tested: first by the exact invariants (:func:`_forbidden`), then, for the
    exits before the first one they forbid, by the tolerance (:func:`_exit_times`). After the first exit
    that is not exact every later visit is ``reached`` through it."""
    grid, runs = reading.grid, reading.runs
    t1 = float(grid[-1])
    forbidden = _forbidden(flow, reading, visits, options, tol)
    out, stop = list(visits), len(visits)
    if forbidden is not None:
        t_bad, why = forbidden
        before = [n for n, v in enumerate(visits) if v.t_enter < t_bad]
        stop = before[-1] if before else -1
        if before:
            out[stop] = replace(out[stop], escape="round-off", escape_note=f"{why}: the exact flow ends here")
    tested = [n for n, v in enumerate(visits) if v.t_exit < t1 and n < stop]
    successor = [runs[n + 1][0] if n + 1 < len(runs) else len(grid) - 1 for n in tested]
    checks = _exit_times(flow, label, grid, reading.first, [(visits[n], runs[n], e) for n, e in zip(tested, successor)],
                         options)
    for n, (t_check, rtol) in zip(tested, checks):
        v = visits[n]
        shift = abs(t_check - v.t_exit) / max(v.t_exit - float(grid[0]), 1e-300)
        out[n] = replace(out[n], t_exit_check=t_check, check_rtol=rtol, escape="exact")
        if not shift <= ESCAPE_TIME_SHIFT:  # nan (not reproduced) and inf (never left) included
            out[n] = replace(out[n], escape="unresolved", escape_note=(
                f"the exit at t = {v.t_exit:.6g} (rtol {options['rtol']:.3g}) moves to t = {t_check:.6g} at rtol "
                f"{rtol:.3g}: round-off or ill-conditioned"))
            stop = n
            break
    for n in range(stop + 1, len(out)):  # stop = -1: an invariant is broken before the first visit
        out[n] = replace(out[n], reached=out[stop].escape if stop >= 0 else "round-off")
    return out


def _forbidden(flow, reading: _Reading, visits, options, tol: Tolerances) -> tuple[float, str] | None:
    """``(t, why)``: the first time the trajectory is where the exact flow cannot be, or None.

    Either a :func:`sign_invariants` determinant has changed sign (the time bisected on the continuous
    solution from the sample before the first one that breaks it), or a visit is entered whose ``W_J``
    is farther than the visit distance from every matrix of the rank :func:`rank_invariant` keeps (its
    entry time).
    """
    found = []
    if reading.broken is not None:
        ta, xa, tb, xb = reading.broken
        t = _bisect(flow, reading.kept, ta, xa, tb, options)
        inv = next(inv for inv in reading.invariants if np.sign(inv.det(xb)) != inv.sign)
        found.append((t, f"{inv.name} keeps its sign on the exact flow ({inv.reason}) but changes sign at t = {t:.4g}"))
    rank = rank_invariant(flow, reading.first)
    if rank is not None:
        r, reason = rank
        root = flow.data.Sxx @ flow.data._inv_sqrt  # Sxx^{1/2}
        for v in visits:
            sv = np.linalg.svd(flow.data.critical_map(v.learned) @ root, compute_uv=False)
            if sv.size > r and sv[r] > tol.visit_distance * float(flow.data.s[0]):
                found.append((v.t_enter, f"{reason}, but the trajectory visits J = {format_learned(v.learned)}, "
                                         f"|J| = {len(v.learned)}, at t = {v.t_enter:.4g}"))
                break
    return min(found, key=lambda f: f[0]) if found else None


def _exit_times(flow, label, grid, x0, exits, options) -> list[tuple[float, float]]:
    """The exit times of the given visits on the flow from the start integrated again at another rtol.

    ``exits``: ``(visit, (i, j), e)`` with the visit's first and last sample index and the first sample
    index of the next visit. Integrated with the trajectory's method from the start ``x0`` at ``rtol /
    ESCAPE_RTOL_FACTOR`` (``rtol * ESCAPE_RTOL_FACTOR`` below ``ESCAPE_RTOL_FLOOR``), the absolute
    tolerance scaled alike, to the sample where the last visit's successor begins, in pieces of at most
    :data:`CHECK_MEMORY` bytes of states (:func:`_flow_states`): each visit keeps only its last state on
    the visit. Per visit: ``(t_exit, rtol)``, ``t_exit`` inf when that run does not leave the visit before
    the successor's sample, nan when it is not on the visit during any of the visit's samples.
    """
    if not exits:
        return []
    rtol = options["rtol"]
    factor = 1 / ESCAPE_RTOL_FACTOR if rtol / ESCAPE_RTOL_FACTOR >= ESCAPE_RTOL_FLOOR else ESCAPE_RTOL_FACTOR
    check = dict(options, rtol=rtol * factor, atol=options["atol"] * factor)
    # per visit: the last sample q (and its state) of the check run's stay on J that is on J during the
    # visit's samples i..j, extended while the samples after it up to the successor's e stay on J
    last = [None] * len(exits)
    reached = -1
    for q, x in _flow_states(flow, grid, x0, exits[-1][2], check):
        reached = q
        for n, (visit, (i, j), e) in enumerate(exits):
            if i <= q <= e and (q <= j or (last[n] is not None and last[n][0] == q - 1)) \
                    and label(x)[0] == visit.learned:
                last[n] = (q, x.copy())
    out = []
    for (visit, _, e), found in zip(exits, last):
        if found is None:
            out.append((float("nan"), check["rtol"]))
        elif found[0] >= e or found[0] + 1 > reached:
            out.append((float("inf"), check["rtol"]))
        else:
            q, x = found
            out.append((_boundary(flow, label, visit.learned, grid[q], x, grid[q + 1], False, check), check["rtol"]))
    return out


def _flow_states(flow, grid, x0, end: int, options):
    """``(q, state)`` for ``q = 0..end`` along the flow from ``x0`` at ``grid[0]``, integrated in pieces of at
    most :data:`CHECK_MEMORY` bytes of states, each piece from the last state of the one before (so memory
    holds one piece, not ``end`` states); it ends early where an integration does."""
    yield 0, x0
    per_piece = max(1, CHECK_MEMORY // (8 * x0.size))
    a, x = 0, x0
    while a < end:
        b = min(a + per_piece, end)
        piece = flow.solve(x, (grid[a], grid[b]), t_eval=grid[a + 1:b + 1], **options).y.T
        got = len(piece)
        x = piece[-1].copy() if got else x  # the next piece's start, a copy: the piece is freed before it is made
        for k in range(got - 1):
            yield a + 1 + k, piece[k]
        del piece
        if got:
            yield a + got, x
        if got < b - a:
            return
        a = b
