"""Stable and unstable sets at saddles, escape-time laws, itineraries."""

from dataclasses import replace

import numpy as np
import pytest

import geodln
from geodln.landscape import analyze_stratum
from geodln.saddles import escape_time, itinerary, local_manifolds, verify_direction
from geodln.strata import Stratum, enumerate_strata


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


def test_every_direction_of_a_catalog_verifies_and_matches_kind():
    data = geodln.Data.from_spectrum([3.0, 1.0], 2, 2, seed=2)
    flow = geodln.GradientFlow(geodln.layered([2, 2, 2, 2]), data)
    for _, strata, _ in enumerate_strata([2, 2, 2, 2], 2):
        for stratum in strata:
            cp = analyze_stratum(stratum, data, seed=5)
            if cp.kind == "global_minimum":
                continue
            lm = local_manifolds(flow, cp.theta, stratum, cp.similarity)
            assert lm.unstable_dim >= 1
            assert all(d.order == 2 for d in lm.unstable) == (cp.kind == "strict_saddle")
            assert all(verify_direction(flow, cp.theta, d).verified for d in lm.unstable + lm.stable)


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
