"""Stable and unstable sets at saddles, escape-time laws, itineraries."""

from dataclasses import replace

import numpy as np
import pytest

import geodln
from geodln.landscape.critical import analyze_stratum
from geodln.landscape.saddles import escape_time, itinerary, local_manifolds, verify_direction
from geodln.landscape.strata import Stratum, enumerate_strata


def _scalar(depth, s=1.0):
    top = geodln.layered([1] * (depth + 1))
    return geodln.GradientFlow(top, geodln.Data(np.eye(1), np.array([[s]])))


def test_depth_two_scalar_origin():
    """Unstable direction (1, 1), stable (1, -1), each verified by the flow."""
    flow = _scalar(2, s=2.0)
    lm = local_manifolds(flow, np.zeros(2))
    assert (lm.unstable_dim, lm.stable_dim, lm.center_dim) == (1, 1, 0)
    (up,), (down,) = lm.unstable, lm.stable
    np.testing.assert_allclose(np.abs(up.vector), [2**-0.5] * 2, atol=1e-12)
    assert up.vector[0] * up.vector[1] > 0 and down.vector[0] * down.vector[1] < 0
    assert up.eigenvalue == pytest.approx(-2.0) and down.eigenvalue == pytest.approx(2.0)
    assert verify_direction(flow, np.zeros(2), up).verified and verify_direction(flow, np.zeros(2), down).verified


def test_a_mislabelled_direction_fails_verification():
    """The checks can fail: swap the claims at the strict saddle of 1,1,1."""
    flow = _scalar(2, s=2.0)
    lm = local_manifolds(flow, np.zeros(2))
    (up,), (down,) = lm.unstable, lm.stable
    assert not verify_direction(flow, np.zeros(2), replace(up, unstable=False)).verified
    assert not verify_direction(flow, np.zeros(2), replace(down, unstable=True)).verified


def test_depth_three_scalar_origin_is_nonstrict_with_path_rays():
    flow = _scalar(3)
    stratum = Stratum((1, 1, 1, 1), (), (), 1)
    cp = analyze_stratum(stratum, flow.data, seed=0)
    assert cp.kind == "nonstrict_saddle" and cp.escape_order == 3
    lm = local_manifolds(flow, np.zeros(3), stratum, cp.similarity)
    (up,), (down,) = lm.unstable, lm.stable
    np.testing.assert_allclose(up.vector, [3**-0.5] * 3, atol=1e-12)  # the balanced positive ray
    assert np.prod(down.vector) < 0 and np.allclose(np.abs(down.vector), 3**-0.5)
    assert verify_direction(flow, np.zeros(3), up).verified
    back = verify_direction(flow, np.zeros(3), down)
    assert back.verified and back.evidence["return_time"] == back.times[0] > 0


def _fit(x, y):
    return np.polyfit(x, y, 1)[0]


def test_escape_time_strict_is_logarithmic():
    """T ~ (1/lambda) log(1/eps) with lambda = s at the origin of 1,1,1."""
    s = 2.0
    flow = _scalar(2, s)
    eps = np.geomspace(1e-6, 1e-3, 5)
    times = [escape_time(flow, np.zeros(2), [1.0, 1.0], e) for e in eps]
    assert _fit(np.log(1 / eps), times) == pytest.approx(1 / s, rel=0.1)


@pytest.mark.parametrize("depth, eps_range", [(3, (1e-3, 1e-2)), (4, (1e-2, 4e-2))])
def test_escape_time_nonstrict_is_a_power_law(depth, eps_range):
    """T ~ eps^-(m-2) at the origin of a depth-m scalar chain (order m = depth)."""
    flow = _scalar(depth)
    eps = np.geomspace(*eps_range, 4)
    times = [escape_time(flow, np.zeros(depth), np.ones(depth), e) for e in eps]
    assert _fit(np.log(eps), np.log(times)) == pytest.approx(-(depth - 2), rel=0.1)


@pytest.mark.parametrize("widths, spectrum", [
    ((2, 2, 2, 2), (3.0, 1.0)), ((3, 2, 2, 3), (3.0, 2.0, 1.0)),
    pytest.param((2, 2, 2, 2, 2), (3.0, 1.0), marks=pytest.mark.slow)])
def test_every_direction_of_a_catalog_verifies_and_matches_kind(widths, spectrum):
    """Every claim verified by the flow; stable path rays stay at the saddle's level up to the horizon."""
    data = geodln.Data.from_spectrum(list(spectrum), widths[0], widths[-1], seed=2)
    flow = geodln.GradientFlow(geodln.layered(widths), data)
    for _, strata, _ in enumerate_strata(widths, len(spectrum)):
        for stratum in strata:
            cp = analyze_stratum(stratum, data, seed=5)
            if cp.kind == "global_minimum":
                continue
            lm = local_manifolds(flow, cp.theta, stratum, cp.similarity)
            assert lm.unstable_dim >= 1
            assert all(d.order == 2 for d in lm.unstable) == (cp.kind == "strict_saddle")
            checks = [verify_direction(flow, cp.theta, d) for d in lm.unstable + lm.stable]
            assert all(c.verified for c in checks)
            assert all(c.evidence["drop_at_horizon"] < 1e-6 for c in checks if "drop_at_horizon" in c.evidence)


def test_deep_chain_rays_are_verified_past_t_max():
    """Order 6 at the origin of a depth-6 scalar chain: the flow leaves along the positive ray
    only after ~ (eps/sqrt(6))^-4 / (4 s), past the default t_max = 2e4, so the horizon grows
    with the order; the reversed balanced ray returns and stays at the saddle's level."""
    flow = _scalar(6)
    stratum = Stratum((1,) * 7, (), (), 1)
    cp = analyze_stratum(stratum, flow.data, seed=0)
    assert cp.escape_order == 6
    lm = local_manifolds(flow, np.zeros(6), stratum, cp.similarity)
    (up,), (down,) = lm.unstable, lm.stable
    away, back = verify_direction(flow, np.zeros(6), up), verify_direction(flow, np.zeros(6), down)
    assert away.verified and away.times[0] > geodln.Tolerances().t_max
    assert back.verified and back.evidence["drop_at_horizon"] < 1e-12


def test_a_reversed_ray_another_mode_can_ride_is_not_claimed_stable():
    """3,3,3,3,3 at J={} + v1[0,1]: mode 1 reaches layer 1 and can ride mode 2's reversed
    ray (order 4) with two new links through one of the ray's links (r = 1 < m - 2 = 2). The
    ray is not claimed; integrated anyway, it first comes back, then leaves and learns mode 1."""
    widths, spectrum = (3,) * 5, [3.0, 2.0, 1.0]
    data = geodln.Data.from_spectrum(spectrum, 3, 3, seed=0)
    flow = geodln.GradientFlow(geodln.layered(widths), data)
    stratum = Stratum(widths, (), (geodln.landscape.strata.Piece(0, 1, 1, None),), 3)
    cp = analyze_stratum(stratum, data, seed=0)
    lm = local_manifolds(flow, cp.theta, stratum, cp.similarity)
    assert lm.stable == [] and sorted(d.mode for d in lm.unstable) == [1, 2, 3]
    ray = next(d for d in lm.unstable if d.mode == 2)
    path = stratum.path_for(2)
    links = [np.asarray(geodln.landscape.critical.path_direction(stratum, flow.top, data, geodln.landscape.strata.EscapePath(2, (link,)),
                                                        cp.similarity)) for link in path.links]
    down = np.sum(links, axis=0) - 2 * links[0]
    down /= np.linalg.norm(down)
    assert np.dot(down, ray.vector) < 1  # a different ray: the product points along -u_2 v_2^T
    traj = flow.integrate(cp.theta + 0.1 * down, 2e4, n_points=5)
    assert traj.loss[0] > cp.loss  # it starts above the saddle ...
    assert traj.loss[-1] == pytest.approx(data.critical_value((1,)), abs=1e-6)  # ... and leaves: mode 1 learnt


def test_itinerary_of_a_small_start():
    """Widths 4,4,4,4, s = 4,2,1, scale 1e-2: {} -> {1} -> {1,2} -> {1,2,3} at 10.5, 2.5, 0.5."""
    top = geodln.layered([4, 4, 4, 4])
    data = geodln.Data.from_spectrum([4.0, 2.0, 1.0], 4, 4, seed=0)
    flow = geodln.GradientFlow(top, data)
    traj = flow.integrate(geodln.init.small(top, 1e-2, seed=1), 120.0, log_time=True, n_points=400, rtol=1e-9)
    visits = itinerary(traj)
    assert [v.learned for v in visits] == [(), (1,), (1, 2), (1, 2, 3)]
    for visit, height in zip(visits, [10.5, 2.5, 0.5]):
        assert visit.height == pytest.approx(height, rel=1e-3)
        assert visit.kind == "nonstrict_saddle" and visit.t_exit > visit.t_enter
    assert visits[-1].kind == "global_minimum"
    assert all(a.t_exit < b.t_enter for a, b in zip(visits, visits[1:]))
