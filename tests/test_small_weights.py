"""Relative accuracy of small weights: a sparse diagonal network started from 1e-4 down to 1e-16.

Each input ``x_i`` is wired to the output ``y_i`` through its own hidden node
``h_i`` (a DAG read by ``Topology.from_graph``), with the weights ``a_i``
(``x_i -> h_i``) and ``b_i`` (``h_i -> y_i``). With ``X = I`` and
``Y = diag(s)`` (whitened, ``Syx = diag(s)``) the pairs decouple::

    da/dt = b (s - ab),   db/dt = a (s - ab),

conserving the node balance ``c = a^2 - b^2``. With ``u = ab`` and
``q = a^2 + b^2 = sqrt(c^2 + 4 u^2)`` this is ``du/dt = sqrt(c^2 + 4u^2) (s - u)``,
whose time from ``u0`` to ``u`` is, with ``k = |c| / 2`` and ``R = sqrt(s^2 + k^2)``,

    t(u) - t(u0) = [ln((R sqrt(u^2 + k^2) + k^2 + s u) / (s - u))]_{u0}^{u} / (2R)

(differentiate: the bracket's derivative is ``2R / (2 sqrt(u^2 + k^2) (s - u))``).
The activation time is the time ``u`` reaches ``s / 2``; a start of size
``eps`` puts it at ``~ ln(s / eps^2) / (2s)``, exactly the small-start limit the
plateau's relative accuracy decides. The law also bounds every weight: the
larger of ``|a|``, ``|b|`` (the one with ``c``'s sign) never falls below ``sqrt(|c|)``.
"""

import networkx as nx
import numpy as np
import pytest

from geodln import Data, GradientFlow
from geodln.integrate import Conservation
from geodln.integrate.auto import component_atol
from geodln.network.topology import Topology


def diagonal_flow(m: int, s_max: float = 3.0, s_min: float = 0.3) -> GradientFlow:
    G = nx.DiGraph()
    for i in range(m):
        G.add_edge(f"x{i}", f"h{i}")
        G.add_edge(f"h{i}", f"y{i}")
    top = Topology.from_graph(G, [f"x{i}" for i in range(m)], [f"y{i}" for i in range(m)])
    return GradientFlow(top, Data(np.eye(m), np.diag(np.geomspace(s_max, s_min, m))))


def pairs(flow, theta):
    """``(a, b)`` of each pair, shape=[..., m] each (the input block comes first in ``theta``)."""
    m = flow.top.widths[0]
    return theta[..., :m], theta[..., m:]


def activation_times(s, a0, b0):
    """The exact times at which ``u = ab`` reaches ``s / 2``, shape=[m]."""
    k = np.abs(a0**2 - b0**2) / 2
    R = np.sqrt(s**2 + k**2)

    def clock(u):
        return np.log((R * np.sqrt(u**2 + k**2) + k**2 + s * u) / (s - u)) / (2 * R)

    return clock(s / 2) - clock(a0 * b0)


def start(flow, scale, seed):
    return scale * np.random.default_rng(seed).standard_normal(flow.top.n_params)


def test_closed_form_is_the_flow_at_moderate_scale():
    """The clock above against the flow where no tolerance question arises (start 1e-2, tight DOP853)."""
    flow = diagonal_flow(3)
    theta0 = start(flow, 1e-2, 1)
    a0, b0 = pairs(flow, theta0)
    t_act = activation_times(flow.data.s, a0, b0)
    traj = flow.integrate(theta0, t_act.max(), method="DOP853", t_eval=np.sort(t_act), rtol=1e-12, atol=1e-20)
    a, b = pairs(flow, traj.theta)
    u = (a * b)[np.argsort(np.argsort(t_act)), np.arange(3)]
    np.testing.assert_allclose(u, flow.data.s / 2, rtol=1e-9)


def run(flow, theta0, method, **tol):
    """The trajectory at the exact activation times and the error of each, relative to the time."""
    s = flow.data.s
    a0, b0 = pairs(flow, theta0)
    t_act = activation_times(s, a0, b0)
    order = np.argsort(t_act)
    traj = flow.integrate(theta0, t_act[order[-1]], method=method, t_eval=np.concatenate([[0.0], t_act[order]]), **tol)
    a, b = pairs(flow, traj.theta[1:])
    u = (a * b)[np.arange(s.size), order]
    # at u = s/2: du/dt = q (s - u) with q = sqrt(c^2 + s^2) ~ s, so a gap in u is a gap in time of (u - s/2) / (s^2 / 2)
    slope = np.sqrt((a0**2 - b0**2)[order] ** 2 + s[order] ** 2) * s[order] / 2
    return traj, (u - s[order] / 2) / slope / t_act[order]


@pytest.mark.parametrize("m", [4, 70])  # the dense exprb43 (12 weights) and Lanczos (140 > DENSE_LIMIT)
@pytest.mark.parametrize("scale", [1e-4, 1e-8, 1e-12, 1e-16])
def test_auto_keeps_small_weights_relative(m, scale):
    """At the default tolerances: activation times, the balances and the weights' bounds, from every scale."""
    flow = diagonal_flow(m)
    theta0 = start(flow, scale, m)
    traj, t_err = run(flow, theta0, "auto")
    assert traj.success
    assert np.max(np.abs(t_err)) < 1e-7  # before scale-aware control: 3e-4 at m = 70, scale 1e-16
    a0, b0 = pairs(flow, theta0)
    a, b = pairs(flow, traj.theta)
    c = a0**2 - b0**2
    # every balance to 1e-9 of its own terms (absolute control would allow 1e-10 on balances of 1e-32)
    assert np.max(np.abs(a**2 - b**2 - c) / (a**2 + b**2)) < 1e-9
    bounded = np.where(c > 0, np.abs(a), np.abs(b))
    assert np.all(bounded >= np.sqrt(np.abs(c)) * (1 - 1e-9))


@pytest.mark.parametrize("scale", [1e-8, 1e-16])
def test_auto_agrees_with_dop853_and_lsoda_at_tight_tolerance(scale):
    """The three integrators at rtol 1e-11 (SciPy's with an atol below the weights) reach one end point."""
    flow = diagonal_flow(6)
    theta0 = start(flow, scale, 2)
    ends = {}
    for method in ("auto", "DOP853", "LSODA"):
        traj, t_err = run(flow, theta0, method, rtol=1e-11, atol=1e-12 * scale**2)
        assert np.max(np.abs(t_err)) < (1e-8 if method != "LSODA" else 1e-7), method
        ends[method] = traj.final
    for method in ("DOP853", "LSODA"):
        np.testing.assert_allclose(ends["auto"], ends[method], rtol=1e-6, err_msg=method)


def test_component_atol_caps_at_rtol_times_the_start():
    y0 = np.array([1.0, 1e-3, 1e-16, -1e-16, 0.0])
    np.testing.assert_allclose(component_atol(y0, 1e-10, 1e-12), [1e-12, 1e-13, 1e-26, 1e-26, 1e-12])


def test_conservation_measures_drift_componentwise():
    """A drift of 1e-12 absolute is invisible against the global scale and 1e-2 of a balance of 1e-10."""
    q = lambda y: y**2  # noqa: E731
    y0 = np.array([1.0, 1e-5])
    y = y0 + np.array([0.0, 1e-7 / 2e-5 * 1e-5])  # the small quantity 1e-10 moves by ~1e-12
    moves = []
    plain = Conservation(q, lambda x: moves.append(x) or y0, y0)
    scaled = Conservation(q, lambda x: moves.append(x) or y0, y0, magnitudes=q)
    assert plain.drift(y) < 1e-11 and plain.restore(y) is y
    assert scaled.drift(y) == pytest.approx(np.abs(q(y) - q(y0))[1] / q(y)[1])
    assert scaled.restore(y) is y0 and scaled.n_moves == 1
