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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import GeodlnError
from ..dynamics.flow import Trajectory
from .critical import CriticalPoint, point_kind
from .points import nearest_critical_point, nearest_learned
from ..tolerances import DEFAULT_TOLERANCES, Tolerances

__all__ = ["Visit", "itinerary"]


# An interval between two samples that may hide a visit is integrated on PLATEAU_PIECES inner points, and
# so on PLATEAU_DEPTH times: 16^3 = 4096 times finer where needed, so that a plateau of a few time units is
# seen in samples a thousand times coarser (a run to t_end = 1e6 sampled from t = 100 on), at a cost only
# where the loss crosses a critical value between samples.
PLATEAU_PIECES = 16
PLATEAU_DEPTH = 3
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

    def to_record(self) -> dict:
        """The visit as a JSON-ready record (an entry of ``geodln flow``'s ``itinerary``).

        Returns
        -------
        dict
            ``learned`` (list), ``critical_value`` (``L_J``), ``height``, ``kind``,
            ``t_enter``, ``t_exit``, ``escape_order``, ``stratum``, ``distance``,
            ``t_slowest``.
        """
        return {"learned": list(self.learned), "critical_value": self.value, "height": self.height, "kind": self.kind,
                "t_enter": self.t_enter, "t_exit": self.t_exit, "escape_order": self.escape_order,
                "stratum": self.stratum, "distance": self.distance, "t_slowest": self.t_slowest}


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
    grid, states, options = _samples(traj, tol)
    root = data.Sxx @ data._inv_sqrt  # Sxx^{1/2}
    speed_cap = tol.visit_speed * float(data.s[0]) ** (2 - 1 / top.depth)

    def label(theta):
        """``J`` if the state is on a visit to ``J``, else None; and the speed."""
        speed = float(np.linalg.norm(flow.rhs(theta)))
        J = nearest_learned(flow, theta)
        dist = np.linalg.norm((top.end_to_end(theta) - data.critical_map(J)) @ root) / data.s[0]
        return (J if speed <= speed_cap and dist <= tol.visit_distance else None), speed

    labels, speeds = zip(*(label(x) for x in states))
    visits, i = [], 0
    while i < len(grid):
        j = i
        while j + 1 < len(grid) and labels[j + 1] == labels[i]:
            j += 1
        J = labels[i]
        if J is not None:
            enter = t0 if i == 0 else _boundary(flow, label, J, grid[i - 1], states[i - 1], grid[i], True, options)
            leave = t1 if j == len(grid) - 1 else _boundary(flow, label, J, grid[j], states[j], grid[j + 1], False, options)
            k = i + int(np.argmin(speeds[i:j + 1]))
            visits.append(_visit(flow, J, states[k], float(grid[k]), enter, leave, catalog, tol))
        i = j + 1
    return visits


def _samples(traj: Trajectory, tol: Tolerances):
    """The times and states to read, shapes ``[T]`` and ``[T, n_params]``, and the options of any integration.

    A trajectory of the flow is read as it was sampled, and integrated as it
    was; one of descent is replaced by the flow from its first state on a
    grid of the time span (uniform and geometric, so that the start and the end are resolved).
    """
    if traj.method is not None:
        options = dict(method=traj.method, rtol=traj.rtol, atol=traj.atol)
        grid, states = _resolve_plateaus(traj.flow, list(traj.t), list(traj.theta), options, tol)
        return np.array(grid), np.array(states), options
    flow, data = traj.flow, traj.flow.data
    t0, t1 = float(traj.t[0]), float(traj.t[-1])
    unit = float(data.s[0]) ** (1 / flow.top.depth)
    options = dict(rtol=tol.itinerary_rtol, atol=1e-3 * tol.itinerary_rtol * unit)
    n = int(tol.itinerary_points)
    grid = np.unique(np.concatenate([np.linspace(t0, t1, n), t0 + np.geomspace(1e-6 * (t1 - t0), t1 - t0, n)]))
    states = flow.solve(np.asarray(traj.theta[0], dtype=float), (t0, t1), t_eval=grid, **options).y.T
    if len(states) != len(grid):
        raise GeodlnError(f"the re-integration stopped early (at t = {grid[len(states) - 1]:.4g})")
    return grid, states, options


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


def _resolve_plateaus(flow, grid, states, options, tol: Tolerances, depth: int = PLATEAU_DEPTH):
    """The samples with every interval that may hide a visit subdivided, by integrating it (with the
    trajectory's own method and tolerances) on :data:`PLATEAU_PIECES` points, recursively up to ``depth``
    levels: so a trajectory sampled coarsely (``t_end = 1e6`` in log time begins at ``t = 100``) shows the
    plateaus that its samples stepped over."""
    margin = tol.loss * tol.gradient_scale(flow.data)
    read = [(nearest_learned(flow, x), flow.loss(x)) for x in states] if depth > 0 else []
    out_t, out_x = [grid[0]], [states[0]]
    for a in range(len(grid) - 1):
        if depth > 0 and _may_hide_a_visit(flow, read[a], read[a + 1], margin):
            inner = np.linspace(grid[a], grid[a + 1], PLATEAU_PIECES + 1)[1:-1]
            sol = flow.solve(states[a], (grid[a], grid[a + 1]), t_eval=inner, **options)
            if sol.y.shape[1] == inner.size:
                sub_t, sub_x = _resolve_plateaus(flow, [grid[a], *inner, grid[a + 1]],
                                                 [states[a], *sol.y.T, states[a + 1]], options, tol, depth - 1)
                out_t += sub_t[1:-1]
                out_x += sub_x[1:-1]
        out_t.append(grid[a + 1])
        out_x.append(states[a + 1])
    return out_t, out_x


def _boundary(flow, label, J, ta, xa, tb, entering: bool, options, iterations: int = 60) -> float:
    """Bisection on the continuous solution for the time the label becomes (or stops being) ``J``
    between grid times ``ta`` and ``tb`` (the state ``xa`` at ``ta``), to :data:`BOUNDARY_RTOL` of the time
    (not a number of halvings: the bracket's width depends on the sampling, the answer must not)."""
    for _ in range(iterations):
        if tb - ta <= BOUNDARY_RTOL * max(1.0, abs(tb)):
            break
        tm = 0.5 * (ta + tb)
        xm = flow.solve(xa, (ta, tm), t_eval=[tm], **options).y[:, -1]
        inside = label(xm)[0] == J
        if inside == entering:  # the boundary is before tm
            tb = tm
        else:
            ta, xa = tm, xm
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
