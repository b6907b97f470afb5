"""The built-in sweep tasks (geodln.sweeps.tasks): closed forms, the greedy itinerary, divergence."""

import numpy as np
import pytest

from geodln.errors import GeodlnError
from geodln.dynamics.closed_forms import half_learning_time
from geodln.sweeps.tasks import TASKS, descent_point, flow_point

POINT = {"max_modes": 3, "max_visits": 5}


@pytest.mark.parametrize("widths, spectrum, scale, t_end", [
    ("2,2,2", "3,1", 0.1, 20.0),         # depth 2: the logistic curve
    ("3,3,3", "2,1.5,1", 0.05, 30.0),
    ("2,2,2,2", "3,1", 0.2, 60.0),       # depth 3: the quadrature
])
def test_aligned_half_times_match_saxe(widths, spectrum, scale, t_end):
    """An aligned start learns each mode on its own closed-form curve: T_k from the trajectory = T_k of Saxe et al."""
    out = flow_point({"widths": widths, "spectrum": spectrum, "scale": scale, "init": "aligned", "t_end": t_end,
                      **POINT}, seed=1)
    s = np.array([float(x) for x in spectrum.split(",")])
    depth = len(widths.split(",")) - 1
    theory = [half_learning_time(sk, scale**depth, depth) for sk in s]
    assert out["status"] == "ok"
    np.testing.assert_allclose(out["half_time"][:len(s)], theory, rtol=2e-3)
    assert np.all(np.isnan(out["half_time"][len(s):]))  # padding past the data's modes


def test_half_learning_time_is_the_logistic_inverse():
    for s, u0 in [(2.0, 1e-3), (0.5, 1e-2), (3.0, 0.2)]:
        assert half_learning_time(s, u0, 2) == pytest.approx(np.log((s - u0) / u0) / (2 * s), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 3])
def test_small_start_visits_the_top_sets_greedily(seed):
    """From a small start of 3 layers the run visits {} -> {1} -> {1,2}, in time order, with the classes of the
    shadowed points, values L_J, and conserves the balances to the integration tolerance."""
    out = flow_point({"widths": "2,2,2,2", "spectrum": "3,1", "scale": 0.03, "t_end": 400.0, "n_points": 500,
                      **POINT}, seed=seed)
    n = out["n_visits"]
    assert out["status"] == "ok" and n == 3
    assert list(out["visit_learned"][:n]) == ["{}", "{1}", "{1,2}"]
    assert out["visit_kind"][n - 1] == "global_minimum"
    assert set(out["visit_kind"][:n - 1]) <= {"strict_saddle", "nonstrict_saddle"}
    np.testing.assert_allclose(out["visit_value"][:n], [5.0, 0.5, 0.0], atol=1e-12)  # L_J = 1/2 sum_{k not in J} s_k^2
    enter, leave = out["visit_enter"][:n], out["visit_exit"][:n]
    assert np.all(enter <= leave) and np.all(leave[:-1] <= enter[1:]) and leave[-1] == 400.0
    assert list(out["visit_learned"][n:]) == [""] * (5 - n) and np.all(np.isnan(out["visit_enter"][n:]))
    assert out["drift"] < 1e-9 and out["loss_gap"] < 1e-8 and out["global_min"] == pytest.approx(0.0, abs=1e-12)
    assert out["half_time"][0] < out["half_time"][1]


def test_seed_alone_decides_the_result():
    params = {"widths": "2,2,2", "spectrum": "2,1", "scale": 0.1, "step": 0.05, "n_steps": 200, **POINT}
    a, b, c = descent_point(params, 4), descent_point(params, 4), descent_point(params, 5)
    assert a["final_loss"] == b["final_loss"] and a["final_loss"] != c["final_loss"]


@pytest.mark.parametrize("step", [2.0, 10.0])
def test_descent_with_too_large_a_step_is_diverged_not_an_error(step):
    out = TASKS["descent"]({"widths": "2,3,2", "spectrum": "3,1", "scale": 0.3, "step": step, "n_steps": 400,
                            **POINT}, seed=0)
    assert out["status"] == "diverged" and "diverged" in out["message"]
    assert np.isnan(out["final_loss"]) and np.isnan(out["drift"]) and np.all(np.isnan(out["half_time"]))
    assert out["n_visits"] == 0 and list(out["visit_kind"]) == [""] * 5


def test_every_point_returns_the_same_keys_shapes_and_types():
    ok = descent_point({"widths": "2,3,2", "spectrum": "3,1", "scale": 0.1, "step": 0.02, "n_steps": 300, **POINT}, 0)
    bad = descent_point({"widths": "2,3,2", "spectrum": "3,1", "scale": 0.1, "step": 5.0, "n_steps": 300, **POINT}, 0)
    assert ok["status"] == "ok" and list(ok) == list(bad)
    for key in ok:
        assert np.shape(ok[key]) == np.shape(bad[key]) and type(ok[key]) is type(bad[key]), key


@pytest.mark.parametrize("params, words", [
    ({"spectrum": "3,1"}, "widths"),
    ({"widths": "2,x,2"}, "comma-separated"),
    ({"widths": "2,2,2", "init": "huge"}, "init must be"),
])
def test_bad_points_say_what_is_wrong(params, words):
    with pytest.raises(GeodlnError, match=words):
        flow_point({"t_end": 1.0, **POINT, **params}, 0)


def test_a_sweep_with_a_diverging_descent_records_it_and_finishes():
    """The issue's case through the engine: a grid over the step in which the large step diverges; the sweep
    returns every point, the diverged ones with their status and NaNs, the others converging."""
    import geodln

    ds = geodln.sweep("descent", {"step": [0.02, 5.0]}, seeds="0:2", workers=1, progress=False,
                      settings={"widths": "2,3,2", "spectrum": "3,1", "scale": 0.1, "n_steps": 300, "max_visits": 5})
    status = ds.status.values.astype(object)
    assert list(status[0]) == ["ok", "ok"] and list(status[1]) == ["diverged", "diverged"]
    assert np.all(np.isnan(ds.final_loss.values[1])) and np.all(np.isfinite(ds.final_loss.values[0]))
    assert np.all(ds.final_loss.values[0] < 0.5 * (3.0**2 + 1.0) / 2)  # the descent did learn
