"""Itineraries do not depend on the sampling: same visits on uniform, log and irregular grids read from
the trajectories themselves, the start and a final plateau reported, no visit for a pass at speed,
descent read as the flow, non-whitened data."""

import numpy as np
import pytest

import geodln
from geodln.landscape.saddles import itinerary

T_END = 110.0  # {} -> {1} -> {1,2} -> {1,2,3}, the last reached at t ~ 89


@pytest.fixture(scope="module")
def small_start():
    top = geodln.layered([4, 4, 4, 4])
    data = geodln.Data.from_spectrum([4.0, 2.0, 1.0], 4, 4, seed=0)
    return geodln.GradientFlow(top, data), geodln.init.small(top, 1e-2, seed=1)


def _summary(visits):
    return [(v.learned, round(v.value, 9), v.kind, v.escape_order, v.stratum) for v in visits]


IRREGULAR = np.unique(np.concatenate([[0.0, T_END], np.random.default_rng(7).uniform(0.0, T_END, 700)]))
FAST = [dict(n_points=201), dict(n_points=20001), dict(n_points=101, log_time=True), dict(t_eval=IRREGULAR),
        dict(n_points=401, method="DOP853")]
FULL = [dict(n_points=n) for n in (201, 2001, 20001, 50001)] + [dict(n_points=n, log_time=True) for n in (101, 4001)]


def test_the_same_visits_whatever_the_sampling(small_start, monkeypatch):
    """Uniform grids of 201 and 20,001 samples, a log grid, irregular random times and another method
    (all six grids of FULL with -m slow): the itinerary reads each trajectory's own samples, and
    integrates only between two of them, with the trajectory's method and tolerances."""
    _same_visits(*small_start, FAST, monkeypatch)


@pytest.mark.slow
def test_the_same_visits_on_every_grid(small_start, monkeypatch):
    _same_visits(*small_start, FULL, monkeypatch)


def _same_visits(flow, theta0, runs, monkeypatch):
    trajs = [flow.integrate(theta0, T_END, rtol=1e-9, **kw) for kw in runs]
    for a, b in zip(trajs, trajs[1:]):  # the samples really differ: no function compared with itself
        assert a.t.shape != b.t.shape or np.abs(a.t - b.t).max() > 1e-3
    calls = []
    solve = flow.solve
    monkeypatch.setattr(flow, "solve", lambda x0, span, **kw: calls.append((span, kw)) or solve(x0, span, **kw))
    found = []
    for traj in trajs:
        calls.clear()
        found.append(itinerary(traj))
        assert calls, "the boundaries are refined on the continuous solution"
        for (ta, tb), kw in calls:  # integrations between neighbouring samples only, as the trajectory was made
            if kw["rtol"] != traj.rtol:  # the escape test: the same method at a tighter rtol, from the start
                assert kw["method"] == traj.method and kw["rtol"] < traj.rtol
                if ta == traj.t[0] and tb > traj.t[1]:
                    continue
            k = np.searchsorted(traj.t, ta, side="right")
            assert traj.t[k - 1] <= ta < tb <= traj.t[k]
            assert kw["method"] == traj.method and kw["rtol"] / kw["atol"] == pytest.approx(traj.rtol / traj.atol)
    first = found[0]
    assert [v.learned for v in first] == [(), (1,), (1, 2), (1, 2, 3)]
    assert [v.kind for v in first] == ["nonstrict_saddle"] * 3 + ["global_minimum"]
    assert first[0].t_enter == 0.0 and first[-1].t_exit == T_END
    for visits in found[1:]:
        assert _summary(visits) == _summary(first)
        for v, w in zip(visits, first):  # entry and exit times within 1e-6 T_END
            assert abs(v.t_enter - w.t_enter) <= 1e-6 * T_END and abs(v.t_exit - w.t_exit) <= 1e-6 * T_END
    for v in first:
        assert v.height == pytest.approx(v.value, abs=1e-2 * max(1, v.value)) and v.t_exit > v.t_enter


def test_the_exit_check_in_pieces_finds_the_same_exits(small_start, monkeypatch):
    """The escape test's integration from the start, held a few states at a time (CHECK_MEMORY of three
    states: at 2M weights it is 8), finds the exits of the integration held whole: the pieces restart the
    integration at samples, which moves an exit time by the check tolerance's error, not more."""
    from geodln.landscape import itinerary as module

    flow, theta0 = small_start
    traj = flow.integrate(theta0, T_END, rtol=1e-9, n_points=201)
    whole = itinerary(traj)
    monkeypatch.setattr(module, "CHECK_MEMORY", 3 * 8 * flow.top.n_params)
    spans, solve = [], flow.solve
    monkeypatch.setattr(flow, "solve", lambda x0, span, **kw: spans.append((span, kw["rtol"])) or solve(x0, span, **kw))
    pieces = itinerary(traj)
    starts = {ta for (ta, tb), rtol in spans if rtol < traj.rtol and tb - ta > traj.t[1] - traj.t[0]}
    assert len(starts) > 10  # the check run really went in pieces of three samples
    assert _summary(pieces) == _summary(whole)
    tested = [(v, w) for v, w in zip(whole, pieces) if not np.isnan(v.t_exit_check)]
    assert len(tested) == 3 and all(v.escape == w.escape == "exact" for v, w in tested)
    for v, w in tested:
        assert w.t_exit_check == pytest.approx(v.t_exit_check, rel=1e-6)


def test_a_descent_is_read_as_the_flow_from_its_start(small_start):
    """Descent samples are not the flow's: the itinerary of a descent with a small step is the flow's."""
    flow, theta0 = small_start
    descent = flow.descend(theta0, 0.01, 3000, record_every=100)
    assert descent.method is None
    flowing = flow.integrate(theta0, descent.t[-1], rtol=1e-9, n_points=301)
    visits = itinerary(descent)
    assert [v.learned for v in visits] == [(), (1,)] and _summary(visits) == _summary(itinerary(flowing))


def test_a_run_that_ends_on_a_plateau(small_start):
    flow, theta0 = small_start
    visits = itinerary(flow.integrate(theta0, 30.0, n_points=50))
    assert [v.learned for v in visits] == [(), (1,)] and visits[-1].t_exit == 30.0


def test_a_pass_at_speed_is_no_visit(small_start):
    """From a start near W_{1,2,3}'s neighbours nothing but the end is slow: the loss crosses L_{1,2} = 0.5
    and L_{1,3} at speed, and no visit is reported there."""
    flow, _ = small_start
    top, data = flow.top, flow.data
    theta0 = geodln.init.orthogonal(top, scale=1.0, seed=3)
    traj = flow.integrate(theta0, 20.0, n_points=2001)
    visits = itinerary(traj)
    crossed = [J for J in [(1, 2), (1, 3), (2,), (3,)] if traj.loss.min() < data.critical_value(J) < traj.loss[0]]
    assert crossed and all(v.learned not in crossed for v in visits)
    assert visits[-1].kind == "global_minimum"


def test_non_whitened_data():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3, 8)) * np.array([[2.0], [1.0], [0.5]])
    Y = np.diag([3.0, 1.5, 0.7]) @ X + 0.05 * rng.standard_normal((3, 8))
    data = geodln.Data(X, Y)
    top = geodln.layered([3, 3, 3, 3])
    flow = geodln.GradientFlow(top, data)
    visits = itinerary(flow.integrate(geodln.init.small(top, 1e-2, seed=0), 200.0, log_time=True, n_points=300))
    assert visits[0].learned == () and visits[0].t_enter == 0.0 and visits[0].kind == "nonstrict_saddle"
    assert [len(v.learned) for v in visits] == list(range(len(visits))) and len(visits) >= 3
    assert visits[-1].t_exit == 200.0  # mode 3 (s = 0.59) is still to come: the run ends on a plateau
    for v in visits:
        assert v.height == pytest.approx(v.value, abs=2e-2 * max(1, v.value))


def test_the_same_visits_whatever_the_time_span():
    """One small start of 3,3,3,3 run to t_end = 300, 1e4 and 1e6, sampled uniformly or in log time (2000
    points: at 1e6 in log time the first sample after 0 is at t = 100, past the first two plateaus; uniformly,
    every 500 time units): the same visits, their times to 1e-6, wherever the run still goes on."""
    flow = geodln.GradientFlow(geodln.layered([3, 3, 3, 3]), geodln.Data.from_spectrum([3, 2, 1], 3, 3, seed=0))
    theta0 = geodln.init.small(flow.top, 1e-2, seed=1)
    runs = {(t_end, log): geodln.itinerary(flow.integrate(theta0, t_end, n_points=2000, log_time=log))
            for t_end in (300.0, 1e4, 1e6) for log in (True, False)}
    longest = runs[(1e6, True)]
    assert [v.learned for v in longest] == [(), (1,), (1, 2), (1, 2, 3)]
    for (t_end, _), visits in runs.items():
        assert [v.learned for v in visits] == [v.learned for v in longest][:len(visits)]
        for mine, ref in zip(visits, longest):
            assert mine.t_enter == pytest.approx(ref.t_enter, rel=1e-6, abs=1e-6)
            if mine.t_exit < t_end:
                assert mine.t_exit == pytest.approx(ref.t_exit, rel=1e-6)
