"""What one point of a sweep computes: a flow or a descent run and its saddle-to-saddle summary.

A task is a picklable callable ``task(params, seed) -> dict`` (the contract of
:func:`geodln.sweep`). ``params`` holds the grid point's values and the
sweep's settings:

- ``widths`` ("4,4,4,4") and ``spectrum`` ("4,3,2,1", default ``m, ..., 2, 1``
  for ``m = min(d_0, d_h)``): a fully connected layered network and whitened
  data :meth:`geodln.Data.from_spectrum` with those singular values;
- ``scale`` (``eps``, default 1e-3) and ``init`` ("small", the default: every
  weight ``eps N(0, 1)``; or "aligned": the balanced spectral start whose layers
  carry ``eps`` on every mode, end-to-end strength ``u_0 = eps^h``);
- ``t_end`` (flow) or ``step`` and ``n_steps`` (descent); ``n_points`` (flow
  output times, log-spaced, default 2000);
- ``max_modes`` and ``max_visits``: the lengths of the ``mode_``/``half_time``
  and ``visit_`` arrays (padding: NaN, ``""``, -1; a visit's learnt set is
  written ``{1,2}``, ``{}`` for none, so ``""`` is padding only).

A run's results never take the name of an input (the grid's keys and the
settings): the time a flow reached is ``t_final``, so ``t_end`` can be a grid key.

All randomness (data frames and weights) comes from one
``numpy.random.default_rng(seed)``, so a point's result depends on its
parameters and seed only, wherever it runs.

The half-learning time of mode ``k`` is the first time the ``k``-th singular
value of ``W(t)`` reaches ``s_k / 2`` (linear interpolation in ``log t`` on
the output grid). For an aligned start it has the closed form
:func:`geodln.dynamics.closed_forms.half_learning_time` (Saxe et al. 2014).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..network.data import Data
from ..errors import DivergenceError, GeodlnError
from ..dynamics.flow import GradientFlow, Trajectory
from ..dynamics.init import aligned, small
from ..landscape.itinerary import itinerary
from ..network.topology import layered
from ..landscape.labels import format_learned
from .grid import parse_numbers

__all__ = ["flow_point", "descent_point", "TASKS"]


def _numbers(text, kind, name: str) -> list:
    """:func:`geodln.sweeps.grid.parse_numbers`, its error as a :class:`GeodlnError` (a bad point, not a bad grid)."""
    try:
        return parse_numbers(text, kind, name)
    except ValueError as error:
        raise GeodlnError(str(error)) from None


def _problem(params: dict, seed: int):
    """The flow, the start and the data's spectrum of one point."""
    if "widths" not in params:
        raise GeodlnError(f"a sweep point needs 'widths' (e.g. '4,4,4,4'); got the keys {sorted(params)}")
    widths = _numbers(params["widths"], int, "widths")
    top = layered(widths)
    m = min(widths[0], widths[-1])
    spectrum = _numbers(params.get("spectrum", ",".join(str(k) for k in range(m, 0, -1))), float, "spectrum")
    rng = np.random.default_rng(seed)
    data = Data.from_spectrum(spectrum, widths[0], widths[-1], seed=rng)
    scale, kind = float(params.get("scale", 1e-3)), params.get("init", "small")
    if kind == "small":
        theta0 = small(top, scale, seed=rng)
    elif kind == "aligned":
        theta0 = aligned(top, data, [scale ** top.depth] * min(len(spectrum), min(widths)), seed=rng)
    else:
        raise GeodlnError(f"init must be 'small' or 'aligned', got {kind!r}")
    return GradientFlow(top, data), theta0, np.asarray(spectrum)


def _half_times(traj: Trajectory, spectrum: np.ndarray, n_modes: int) -> np.ndarray:
    """First time the k-th singular value of ``W`` reaches ``s_k / 2``, interpolated in log t (NaN if never)."""
    out = np.full(n_modes, np.nan)
    t = traj.t
    for k, s in enumerate(spectrum[:n_modes]):
        sv = traj.singular_values[:, k]
        hit = np.flatnonzero(sv >= s / 2)
        if hit.size == 0:
            continue
        i = int(hit[0])
        if i == 0 or t[i - 1] <= 0:
            out[k] = t[i]
            continue
        w = (s / 2 - sv[i - 1]) / (sv[i] - sv[i - 1])
        out[k] = math.exp((1 - w) * math.log(t[i - 1]) + w * math.log(t[i]))
    return out


def _visits_padding(n: int) -> dict:
    """No visits: the ``visit_`` arrays of length ``n`` all padding."""
    return {"n_visits": 0, "visit_learned": np.array([""] * n, dtype=object),
            "visit_kind": np.array([""] * n, dtype=object),
            **{k: np.full(n, np.nan) for k in ("visit_value", "visit_escape_order", "visit_enter", "visit_exit")}}


def _visits(traj: Trajectory, n: int) -> dict:
    """The itinerary as fixed-length ``visit_`` arrays (padded) and its length."""
    visits = itinerary(traj)
    rows = _visits_padding(n)
    for i, v in enumerate(visits[:n]):
        rec = v.to_record()
        rows["visit_learned"][i] = format_learned(rec["learned"])
        rows["visit_kind"][i] = rec["kind"]
        rows["visit_value"][i] = rec["critical_value"]
        rows["visit_escape_order"][i] = np.nan if rec["escape_order"] is None else rec["escape_order"]
        rows["visit_enter"][i], rows["visit_exit"][i] = rec["t_enter"], rec["t_exit"]
    rows["n_visits"] = len(visits)
    return rows


def _summary(flow, traj, spectrum, params, status, message, nfev, started) -> dict:
    """The contract's variables of one run (``traj`` None: a diverged run, NaNs)."""
    n_modes, n_visits = int(params["max_modes"]), int(params["max_visits"])
    global_min = flow.data.global_min_value(min(flow.top.widths))
    if traj is None:
        final = drift = t_final = np.nan
        half, visits = np.full(n_modes, np.nan), _visits_padding(n_visits)
    else:
        final, t_final = float(traj.loss[-1]), float(traj.t[-1])
        # the balances are sums of squared weights: drift relative to the largest ||theta||^2 on the run
        drift = float(np.max(traj.conserved_drift) / max(np.max(np.sum(traj.theta**2, axis=1)), 1e-300))
        half, visits = _half_times(traj, spectrum, n_modes), _visits(traj, n_visits)
    return {"final_loss": final, "global_min": global_min, "loss_gap": final - global_min, "drift": drift,
            "nfev": int(nfev), "status": status, "message": message, "wall_time": time.perf_counter() - started,
            "t_final": t_final, **visits, "half_time": half}


def flow_point(params: dict, seed: int) -> dict:
    """Integrate the gradient flow of one grid point (``method="auto"``) and summarise it.

    Parameters
    ----------
    params : dict
        See the module docstring; needs ``widths``, ``t_end``, ``max_modes``, ``max_visits``.
    seed : int

    Returns
    -------
    dict
        ``final_loss``, ``global_min`` (``L`` at the global minima), ``loss_gap``,
        ``drift`` (max conserved drift / max ``||theta||^2``), ``nfev``,
        ``status`` ("ok", "diverged" or "failed" when the solver stopped early),
        ``message``, ``wall_time`` (s), ``t_final`` (time reached), ``n_visits``,
        the itinerary (:func:`geodln.itinerary`) as ``visit_learned`` (1-based
        mode indices, comma-separated), ``visit_value`` (``L_J``), ``visit_kind``,
        ``visit_escape_order``, ``visit_enter``, ``visit_exit`` (length
        ``max_visits``), and ``half_time`` (length ``max_modes``).
    """
    started = time.perf_counter()
    flow, theta0, spectrum = _problem(params, seed)
    try:
        traj = flow.integrate(theta0, float(params["t_end"]), method="auto", log_time=True,
                              n_points=int(params.get("n_points", 2000)))
    except DivergenceError as exc:
        return _summary(flow, None, spectrum, params, "diverged", str(exc), 0, started)
    status = "ok" if traj.success else "failed"
    return _summary(flow, traj, spectrum, params, status, traj.message, traj.nfev, started)


def descent_point(params: dict, seed: int) -> dict:
    """Run gradient descent (``step``, ``n_steps``) from one grid point's start and summarise it.

    The variables are those of :func:`flow_point` (``nfev`` = the number of
    steps, ``t_end = step * n_steps``; the half-learning times are read from
    the descent's own iterates, recorded at about 2000 times). The itinerary
    is that of the gradient flow from the same start over the same time span
    (:func:`geodln.itinerary` re-integrates the flow; descent follows it up to
    ``O(step)``). A step too large for the start gives ``status="diverged"``
    and NaNs, never an exception.
    """
    started = time.perf_counter()
    flow, theta0, spectrum = _problem(params, seed)
    n_steps = int(params["n_steps"])
    try:
        traj = flow.descend(theta0, float(params["step"]), n_steps, record_every=max(1, n_steps // 2000))
    except DivergenceError as exc:
        return _summary(flow, None, spectrum, params, "diverged", str(exc), n_steps, started)
    return _summary(flow, traj, spectrum, params, "ok", traj.message, n_steps, started)


TASKS = {"flow": flow_point, "descent": descent_point}
