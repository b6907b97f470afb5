"""Escapes are tested before the itinerary reports them.

The exact flow keeps the sign of a square layer's determinant next to a definite balance, and on a
balanced start the sign of every square layer's and of the end-to-end determinant, and the rank of W
(geodln.landscape.itinerary.sign_invariants, rank_invariant). A balanced square network whose det W has
the opposite sign to det Syx therefore ends on the saddle that drops the weakest mode: its numerical
escape (at a time that moves with rtol) is round-off, flagged, and every later visit is marked as reached
through it. Where no invariant decides, an exit time that moves with the tolerance is flagged unresolved.
Genuine escapes (small random starts, right-signed balanced starts) are never flagged.
"""

import numpy as np
import pytest

import geodln
from geodln.cli.main import main
from geodln.landscape.itinerary import rank_invariant, sign_invariants
from geodln.tolerances import ESCAPE_TIME_SHIFT


def _spectrum(d):
    return [float(d - k) for k in range(d)]  # d, d-1, ..., 1: distinct, weakest mode s_d = 1


def _balanced_start(top, data, right_sign: bool, scale: float):
    """An orthogonal (balanced) start whose det W has (or has not) the sign of det Syx: the first seed."""
    want = np.sign(np.linalg.det(data.Syx)) * (1 if right_sign else -1)
    for seed in range(40):
        theta = geodln.init.orthogonal(top, scale=scale, seed=seed)
        if np.sign(np.linalg.det(top.end_to_end(theta))) == want:
            return theta
    raise AssertionError("no start of that sign in 40 seeds")


def _check_chain(visits):
    """The flags are consistent: exits before the first flagged one exact, every visit after it reached
    through it, and the run's last visit has no escape of its own unless an invariant broke during it."""
    flagged = [n for n, v in enumerate(visits) if v.escape in ("round-off", "unresolved")]
    first = flagged[0] if flagged else len(visits)
    for n, v in enumerate(visits):
        assert v.reached == ("exact" if n <= first else visits[first].escape)
        if n < first and n < len(visits) - 1:
            assert v.escape == "exact" and abs(v.t_exit_check - v.t_exit) <= ESCAPE_TIME_SHIFT * v.t_exit
    return first


# d = 5 at depth 3 takes ~10 s per test: under -m slow
SQUARE = [pytest.param(d, h, marks=[pytest.mark.slow] if (d, h) == (5, 3) else []) for h in (2, 3) for d in (2, 3, 4, 5)]


@pytest.mark.parametrize("d, h", SQUARE)
def test_a_wrong_signed_balanced_start_ends_on_the_saddle(d, h):
    """det W(0) det Syx < 0 on a balanced square network: the exact flow keeps sign det W, so it never
    reaches W = Syx; it ends on J = {1..d-1}. At depth 2 that saddle is strict and round-off makes the
    trajectory leave it: the exit is flagged round-off, with the determinant's sign as the reason, and the
    global minimum after it is marked as reached through round-off. At depth 3 the saddle is nonstrict and
    the trajectory stays (nothing to flag)."""
    top = geodln.layered([d] * (h + 1))
    data = geodln.Data.from_spectrum(_spectrum(d), d, d, seed=d)
    flow = geodln.GradientFlow(top, data)
    theta0 = _balanced_start(top, data, right_sign=False, scale=0.3)
    assert "det W" in [inv.name for inv in sign_invariants(flow, theta0)]
    visits = geodln.itinerary(flow.integrate(theta0, 80.0, n_points=401))
    first = _check_chain(visits)
    exact = visits[:first + 1]
    assert exact[-1].learned == tuple(range(1, d)) and exact[-1].kind != "global_minimum"
    assert all(v.kind != "global_minimum" for v in exact)
    if h == 2:  # the numerical escape happens, and is flagged with the invariant that forbids it
        assert first < len(visits) - 1 and visits[first].escape == "round-off"
        assert "det W" in visits[first].escape_note and "the exact flow ends here" in visits[first].escape_note
        assert visits[-1].kind == "global_minimum" and visits[-1].reached == "round-off"
        assert "reached through a round-off escape" in visits[-1].describe()
        record = visits[first].to_record()
        assert record["escape"] == "round-off" and record["t_exit_check"] is None


@pytest.mark.parametrize("d, h", SQUARE)
def test_a_right_signed_balanced_start_escapes_exactly(d, h):
    """The same networks from a small balanced start with det W of the data's sign: every saddle on the
    way is left for real (the exit time holds at rtol / 100) and the global minimum is reached exactly."""
    top = geodln.layered([d] * (h + 1))
    data = geodln.Data.from_spectrum(_spectrum(d), d, d, seed=d)
    flow = geodln.GradientFlow(top, data)
    theta0 = _balanced_start(top, data, right_sign=True, scale=0.3 if h == 2 else 0.6)
    visits = geodln.itinerary(flow.integrate(theta0, 80.0, n_points=401))
    assert _check_chain(visits) == len(visits)
    assert visits[-1].kind == "global_minimum" and all(v.reached == "exact" for v in visits)


def test_a_balanced_start_keeps_its_rank():
    """Aligned (balanced) starts that leave the weakest mode out, of square and wider hidden layers: the
    exact flow keeps rank W = d - 1, so the numerical escape to the global minimum is round-off."""
    for widths in ([3, 4, 3], [2, 3, 2], [3, 3, 3], [4, 5, 4]):
        d = widths[0]
        data = geodln.Data.from_spectrum(_spectrum(d), d, d, seed=0)
        top = geodln.layered(widths)
        flow = geodln.GradientFlow(top, data)
        theta0 = geodln.init.aligned(top, data, [0.05] * (d - 1), seed=1)
        assert rank_invariant(flow, theta0)[0] == d - 1 and not sign_invariants(flow, theta0)
        visits = geodln.itinerary(flow.integrate(theta0, 100.0, n_points=401))
        first = _check_chain(visits)
        assert visits[first].learned == tuple(range(1, d)) and visits[first].escape == "round-off"
        assert "rank W" in visits[first].escape_note


def test_a_dead_mode_without_an_invariant_is_unresolved():
    """Decoupled starts, unbalanced both ways (no invariant), with the weakest mode zero in every layer: it
    stays zero on the exact flow, so the trajectory's escape is made of integration error, and its exit
    time moves with rtol (both times reported). Given that mode 1e-3 in every layer, the same escape is
    genuine and holds."""
    for widths in ([3, 4, 3], [2, 3, 2], [3, 3, 3]):
        d = widths[0]
        data = geodln.Data.from_spectrum(_spectrum(d), d, d, seed=0)
        top = geodln.layered(widths)
        flow = geodln.GradientFlow(top, data)
        for dead, expected in ((0.0, "unresolved"), (1e-3, "exact")):
            strengths = np.array([[0.4, 0.1][::(-1) ** k] for k in range(d - 1)] + [[dead, dead]]).T
            theta0 = geodln.init.decoupled(top, data, strengths, seed=1)
            assert not sign_invariants(flow, theta0) and rank_invariant(flow, theta0) is None
            visits = geodln.itinerary(flow.integrate(theta0, 80.0, n_points=401))
            saddle = next(v for v in visits if v.learned == tuple(range(1, d)))
            assert saddle.escape == expected and visits[-1].kind == "global_minimum"
            shift = abs(saddle.t_exit_check - saddle.t_exit) / saddle.t_exit
            assert (shift > ESCAPE_TIME_SHIFT) == (expected == "unresolved")
            if expected == "unresolved":
                assert f"{saddle.t_exit:.6g}" in saddle.escape_note and f"{saddle.t_exit_check:.6g}" in saddle.escape_note


@pytest.mark.parametrize("widths", [[3, 4, 4, 3], [3, 5, 3], [4, 4, 4, 4], [2, 3, 3, 2]])
def test_small_starts_have_no_false_flags(widths):
    """Saddle-to-saddle flows from small random (unbalanced) starts, three seeds each: every exit is
    exact and every visit is reached exactly."""
    for seed in range(3):
        data = geodln.Data.from_spectrum([3.0, 2.0, 1.0][:min(widths[0], widths[-1])], widths[0], widths[-1], seed=seed)
        top = geodln.layered(widths)
        flow = geodln.GradientFlow(top, data)
        scale = 0.05 if top.depth > 2 else 1e-3  # depth 2 leaves a start of 0.05 too fast to make a visit
        visits = geodln.itinerary(flow.integrate(geodln.init.small(top, scale, seed=seed), 100.0, n_points=301))
        assert len(visits) >= 2 and _check_chain(visits) == len(visits)


def test_a_definite_balance_fixes_a_sign_and_an_indefinite_one_does_not():
    """Scalars w_1 = -1/2, w_2 = 1 (C_1 = w_1^2 - w_2^2 < 0): W_2 keeps full rank, so det W_2 = w_2 keeps its
    sign, but W_1 does not: w_1 crosses 0 on the exact flow and det W changes sign for real. The invariant
    lists det W_2 only, holds on the trajectory, and the genuine crossing is not flagged. Random square
    starts with a positive definite C_1 (W_1 large): det W_1 keeps its sign on the trajectory."""
    top = geodln.layered([1, 1, 1])
    flow = geodln.GradientFlow(top, geodln.Data.from_spectrum([1.0], 1, 1, seed=0))
    theta0 = top.from_layer_weights([np.array([[-0.5]]), np.array([[1.0]]) * np.sign(flow.data.Syx[0, 0])])
    assert [inv.name for inv in sign_invariants(flow, theta0)] == ["det W_2"]
    traj = flow.integrate(theta0, 20.0, n_points=201)
    w1, w2 = (np.array([top.layer_weights(x)[i][0, 0] for x in traj.theta]) for i in (0, 1))
    assert np.all(np.sign(w2) == np.sign(w2[0])) and np.any(np.sign(w1) != np.sign(w1[0]))
    assert all(v.escape in ("exact", "none") and v.reached == "exact" for v in geodln.itinerary(traj))
    rng = np.random.default_rng(0)
    for d in (2, 3, 4):
        top = geodln.layered([d, d, d, d])
        flow = geodln.GradientFlow(top, geodln.Data.from_spectrum(_spectrum(d), d, d, seed=d))
        Ws = [2.0 * np.linalg.qr(rng.standard_normal((d, d)))[0], 0.3 * rng.standard_normal((d, d)),
              0.3 * rng.standard_normal((d, d))]
        theta0 = top.from_layer_weights(Ws)
        invariants = sign_invariants(flow, theta0)
        assert invariants and invariants[0].name == "det W_1" and "C_1 is positive definite" in invariants[0].reason
        traj = flow.integrate(theta0, 30.0, n_points=301)
        assert all(np.sign(inv.det(x)) == inv.sign for inv in invariants for x in traj.theta)


def test_the_flow_command_says_where_the_exact_flow_ends(tmp_path, capsys):
    """`geodln flow` on a balanced square network of the wrong sign prints the round-off escape and where
    the exact flow ends, and writes the flags into the summary's itinerary."""
    top, seed = geodln.layered([3, 3, 3]), None
    for s in range(40):  # the CLI seeds the data and the start alike (so --init orthogonal, whose frames are
        data = geodln.Data.from_spectrum([3.0, 2.0, 1.0], 3, 3, seed=s)  # the data's U, V, has the right sign)
        theta = geodln.init.balanced(top, scale=0.3, seed=s)
        if np.linalg.det(data.Syx) * np.linalg.det(top.end_to_end(theta)) < 0:
            seed = s
            break
    out = tmp_path / "run"
    assert main(["flow", "--widths", "3,3,3", "--spectrum", "3,2,1", "--init", "balanced", "--scale", "0.3",
                 "--seed", str(seed), "--t-end", "80", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "escape round-off" in text and "the exact flow ends at {1,2}" in text
    import json
    records = json.loads((out / "summary.json").read_text())["itinerary"]
    assert [r["escape"] for r in records] == ["round-off", "none"]
    assert [r["reached"] for r in records] == ["exact", "round-off"]
