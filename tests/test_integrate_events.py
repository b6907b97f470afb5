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
    level there; an event waiting for the loss to rise never fires; the integration runs to the end.

    The times are asserted at the precision their conditioning allows. The first two levels are
    crossed on the escape from the saddle, whose time is set by the start: auto and SciPy agree to
    1e-9. The last is crossed after the escape from a second saddle, seeded by components of the
    state that the first transition has contracted to rounding size: a start moved by 1e-11
    (relative, the size of one step's error at these tolerances) moves that time by units, so
    auto, a tighter auto and DOP853 must each land within that spread of one another, no closer
    (on two machines the same solver's time differed by 1.1)."""
    flow, theta, d = _saddles()[0]
    x0 = theta + 1e-3 * d
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
    for mine, theirs in zip(auto.t_events[:2], ref.t_events[:2]):
        assert len(mine) == len(theirs) == 1 and mine[0] == pytest.approx(theirs[0], rel=1e-9)
    for c, states in zip(levels, auto.y_events[:3]):
        assert flow.loss(states[0]) == pytest.approx(c, rel=1e-10)
    rng = np.random.default_rng(0)
    moved = [flow.solve(x0 * (1 + 1e-11 * rng.standard_normal(x0.size)), (0.0, 200.0), events=events[2:3],
                        rtol=1e-13, atol=1e-14).t_events[0][0] for _ in range(3)]
    tighter = flow.solve(x0, (0.0, 200.0), events=events[2:3], rtol=1e-13, atol=1e-14).t_events[0][0]
    spread = max(moved) - min(moved)
    assert spread > 1e-3 * tighter  # the last time is ill-conditioned: a 1e-11 move of the start shows it
    for t_last in (auto.t_events[2][0], ref.t_events[2][0]):
        assert abs(t_last - tighter) <= 2 * spread


def test_an_event_that_is_not_callable_is_refused():
    flow, theta, d = _saddles()[0]
    with pytest.raises(TypeError, match="callable"):
        flow.solve(theta + 1e-3 * d, (0.0, 1.0), events=[3.0])
