"""Events inside ``method="auto"``: zeros located to the precision of SciPy's, on closed forms and saddles."""

import numpy as np
import pytest

import geodln


def test_the_logistic_crossing_time_of_a_balanced_chain():
    """Depth 2, scalar, balanced start a = b: w = ab obeys w' = 2w(s - w), so w crosses c at
    t* = log(c (s - w0) / (w0 (s - c))) / (2 s); the event finds it to 1e-9 relative."""
    for s, w0, c in [(1.0, 1e-3, 0.5), (3.0, 1e-4, 2.9), (0.5, 1e-2, 0.1), (2.0, 1e-6, 1.0)]:
        flow = geodln.GradientFlow(geodln.layered([1, 1, 1]), geodln.Data(np.eye(1), np.array([[s]])))
        a0 = np.sqrt(w0)
        exact = np.log(c * (s - w0) / (w0 * (s - c))) / (2 * s)

        def crossing(t, y):
            return y[0] * y[1] - c

        crossing.terminal, crossing.direction = True, 1
        sol = flow.solve(np.array([a0, a0]), (0.0, 10 * exact), events=[crossing], rtol=1e-11, atol=1e-14)
        assert sol.status == 1 and len(sol.t_events[0]) == 1
        assert sol.t_events[0][0] == pytest.approx(exact, rel=1e-9)
        assert sol.y_events[0][0][0] * sol.y_events[0][0][1] == pytest.approx(c, rel=1e-9)
        assert sol.t[-1] == sol.t_events[0][0]  # the integration ends at the terminal event


def _saddles():
    """(flow, saddle, unstable direction) for strict and nonstrict saddles of several networks."""
    cases = []
    for widths, spectrum, J in [([2, 2, 2], [2.0, 1.0], ()), ([2, 2, 2], [2.0, 1.0], (1,)),
                                ([2, 2, 2, 2], [3.0, 1.0], (1,)), ([3, 2, 3], [3.0, 2.0, 1.0], (2,))]:
        data = geodln.Data.from_spectrum(spectrum, widths[0], widths[-1], seed=1)
        flow = geodln.GradientFlow(geodln.layered(widths), data)
        stratum = geodln.Stratum(tuple(widths), J, (), len(spectrum))
        cp = geodln.analyze_stratum(stratum, data, seed=2)
        found = geodln.local_manifolds(flow, cp.theta, stratum, cp.similarity)
        cases.append((flow, cp.theta, found.unstable[0].vector))
    return cases


@pytest.mark.parametrize("case", range(4))
def test_escape_times_equal_scipys(case):
    """The first time the loss falls below L(saddle) - drop, from saddle + eps d: auto and a tight DOP853."""
    flow, theta, d = _saddles()[case]
    value = flow.loss(theta)
    for eps in (1e-2, 1e-4):
        auto = geodln.escape_time(flow, theta, d, eps)

        def below(t, y):
            return flow.loss(y) - (value - 0.5 * (value - flow.data.loss_floor))

        below.terminal, below.direction = True, -1
        ref = flow.solve(theta + eps * d, (0.0, 1e7), events=[below], method="DOP853", rtol=1e-12, atol=1e-14)
        assert auto == pytest.approx(ref.t_events[0][0], rel=1e-6)


def test_non_terminal_events_and_directions():
    """Levels of the loss crossed on the way down: every one found, in order, with the loss at the
    level there, and where SciPy finds it; an event waiting for the loss to rise never fires; the
    integration runs to the end.

    The start leaves the origin of 2,2,2 along mode 1 and carries an explicit seed of mode 2 (an
    eigenvector of the eigenvalue -s_2), so that the second escape, and the time of the last level,
    are set by the start. Without that seed the second escape starts from rounding: its time moved
    by 10 units under a 1e-11 change of the start on one BLAS build and by 1e-10 on another, and
    no solver can reproduce it. With it, a 1e-11 change of the start moves the last time by less
    than 1e-7 relative (checked here), and the solvers must agree to that precision."""
    flow, theta, _ = _saddles()[0]
    widths, data = list(flow.top.widths), flow.data
    stratum = geodln.Stratum(tuple(widths), (), (), 2)
    found = geodln.local_manifolds(flow, theta, stratum, geodln.analyze_stratum(stratum, data, seed=2).similarity)
    mode1, mode2 = (next(u.vector for u in found.unstable if abs(u.eigenvalue + s) < 1e-6) for s in data.s)
    x0 = theta + 1e-3 * mode1 + 1e-5 * mode2
    start, low = flow.loss(x0), flow.data.loss_floor
    levels = start - (start - low) * np.array([0.1, 0.5, 0.9])

    def level(c, direction):
        def g(t, y):
            return flow.loss(y) - c
        g.direction = direction
        return g

    events = [level(c, -1) for c in levels] + [level(levels[1], 1)]
    auto = flow.solve(x0, (0.0, 200.0), events=events, rtol=1e-11, atol=1e-14)
    ref = flow.solve(x0, (0.0, 200.0), events=events, method="DOP853", rtol=1e-12, atol=1e-14)
    assert auto.status == 0 and auto.t[-1] == 200.0
    times = [float(ts[0]) for ts in auto.t_events[:3]]
    assert times == sorted(times) and len(auto.t_events[3]) == 0
    for mine, theirs in zip(auto.t_events[:3], ref.t_events[:3]):
        assert len(mine) == len(theirs) == 1 and mine[0] == pytest.approx(theirs[0], rel=1e-7)
    for c, states in zip(levels, auto.y_events[:3]):
        assert flow.loss(states[0]) == pytest.approx(c, rel=1e-10)
    rng = np.random.default_rng(0)
    moved = [flow.solve(x0 * (1 + 1e-11 * rng.standard_normal(x0.size)), (0.0, 200.0), events=events[2:3],
                        rtol=1e-13, atol=1e-14).t_events[0][0] for _ in range(2)]
    tighter = flow.solve(x0, (0.0, 200.0), events=events[2:3], rtol=1e-13, atol=1e-14).t_events[0][0]
    assert max(abs(t - tighter) for t in moved) < 1e-7 * tighter  # the last time is well conditioned
    assert tighter == pytest.approx(auto.t_events[2][0], rel=1e-8)


def test_an_event_that_is_not_callable_is_refused():
    flow, theta, d = _saddles()[0]
    with pytest.raises(TypeError, match="callable"):
        flow.solve(theta + 1e-3 * d, (0.0, 1.0), events=[3.0])
