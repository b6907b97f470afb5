"""Itinerary visits at width 64 equal those of the dense path on the same trajectory (issue 26).

One trajectory from a small start is read twice: with the matrix-free analysis of each visit's critical
point (the default above :data:`geodln.dynamics.hessian.MATRIX_FREE_ABOVE` weights) and with the dense
Hessian (the threshold raised out of reach). Whatever implements the matrix-free spectrum, the two readings
must state the same mathematics: the visits, their times (which do not involve the Hessian at all), and per
visit the learnt set, class, escape order, stratum, the full and horizontal inertia, the orbit dimension and
the negative eigenvalues. The numbers that depend on the route to the critical set (the distance, the
point itself: Gauss-Newton solves densely or by LSMR) are not compared.

Depth 2 makes every saddle strict (the unlearnt mode closes a path with two links), so each visit of the
small start, ``J = {}, {1}, {1,2}``, has negative curvature to compare.
"""

import tracemalloc

import numpy as np
import pytest

import geodln
from geodln.dynamics import hessian as hz

# s_k four times apart: from scale 1e-5 mode k is learnt at t ~ log(1/theta_0^2) / (2 s_k), so the plateaus
# J = {}, {1}, {1,2} are separated by times of the order of their lengths, and the run ends on {1,2}
# (mode 3 would follow at t ~ 45).
SPECTRUM = [4.0, 1.0, 0.25]
SCALE = 1e-5
T_END = 30.0
DENSE = 10 ** 9  # a threshold no network here reaches: every point analysed with the dense Hessian
WIDE = (24, 64, 24)  # D = 2 * 24 * 64 = 3072 > MATRIX_FREE_ABOVE: the default reading is matrix-free
NARROW = (6, 16, 6)  # D = 192, read matrix-free only with the threshold lowered to 0


def _trajectory(widths):
    top = geodln.layered(list(widths))
    flow = geodln.GradientFlow(top, geodln.Data.from_spectrum(SPECTRUM, widths[0], widths[-1], seed=0))
    return flow.integrate(geodln.init.small(top, SCALE, seed=1), T_END, rtol=1e-9, n_points=201)


def _read(traj, monkeypatch, threshold, traced: bool = False):
    """The itinerary with ``MATRIX_FREE_ABOVE = threshold``, and with ``traced`` the peak of numpy's
    allocations in bytes (tracemalloc; None otherwise: tracing triples the dense path's time)."""
    monkeypatch.setattr(hz, "MATRIX_FREE_ABOVE", threshold)
    if not traced:
        return geodln.itinerary(traj), None
    tracemalloc.start()
    try:
        visits = geodln.itinerary(traj)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return visits, peak


def _counts(inertia):
    return inertia.negative, inertia.zero, inertia.positive


def _same_visits(free, dense):
    """The two readings of one trajectory state the same visits and the same critical points."""
    assert len(free) == len(dense) >= 2
    assert any(v.kind == "strict_saddle" for v in dense), "no strict saddle: no negative eigenvalue compared"
    for a, b in zip(free, dense):
        assert (a.learned, a.kind, a.escape_order, a.stratum) == (b.learned, b.kind, b.escape_order, b.stratum)
        assert (a.escape, a.reached) == (b.escape, b.reached)
        # the times come from the samples and bisection on the flow, never from the Hessian
        for x, y in ((a.t_enter, b.t_enter), (a.t_exit, b.t_exit), (a.t_slowest, b.t_slowest)):
            assert x == pytest.approx(y, rel=1e-12, abs=1e-12)
        assert a.point is not None and b.point is not None, f"no critical point read at {b.describe()}"
        p, q = a.point, b.point
        assert _counts(p.hessian) == _counts(q.hessian)
        assert _counts(p.horizontal_hessian) == _counts(q.horizontal_hessian)
        assert p.orbit_dim == q.orbit_dim
        n = q.hessian.negative
        assert np.allclose(p.eigenvalues[:n], q.eigenvalues[:n], rtol=1e-8, atol=0)
        assert (n > 0) == (b.kind == "strict_saddle")


def test_fast_variant_both_paths_on_a_narrow_network(monkeypatch):
    """Width 16 (D = 192): the matrix-free path forced with the threshold at 0 (about 5 s in all)."""
    traj = _trajectory(NARROW)
    assert traj.flow.top.n_params <= hz.MATRIX_FREE_ABOVE
    free, _ = _read(traj, monkeypatch, 0)
    dense, _ = _read(traj, monkeypatch, DENSE)
    _same_visits(free, dense)
    assert [v.learned for v in dense] == [(), (1,), (1, 2)]


@pytest.mark.slow
def test_itinerary_at_width_64_equals_the_dense_path(monkeypatch):
    """Width 64 (D = 3072) at the default threshold, and no D x D matrix formed on the way.

    tracemalloc sees every numpy array, so one float64 D x D matrix (8 D^2 bytes, 75 MB here) would
    alone put the traced peak above 8 D^2: the bound is exact, not a heuristic. The matrix-free reading
    holds O(D k) numbers for k range or Krylov vectors, k of the order of the Hessian's rank plus the
    orbit dimension (at most about 650 here); measured: 36 MB for the matrix-free reading (6 s), 479 MB
    for the dense one (above the bound, as it must be; 12 min traced, on a shared machine).
    """
    traj = _trajectory(WIDE)
    D = traj.flow.top.n_params
    assert hz.matrix_free(D)
    free, peak = _read(traj, monkeypatch, hz.MATRIX_FREE_ABOVE, traced=True)
    assert peak < 8 * D * D, f"matrix-free peak {peak / 1e6:.1f} MB: a D x D matrix ({8 * D * D / 1e6:.1f} MB) was formed"
    dense, _ = _read(traj, monkeypatch, DENSE)
    _same_visits(free, dense)
    assert [v.learned for v in dense] == [(), (1,), (1, 2)]


def test_the_reading_holds_a_few_states_however_many_it_reads(monkeypatch):
    """A run sampled so coarsely (4 samples) that its plateaus are subdivided three levels deep (about a
    hundred inner states are made): the itinerary is read in one pass, so the inner states alive at any moment
    are those of one subdivision per level (counted by the arrays' lifetimes, not estimated), and the
    exit check's states those of one piece of CHECK_MEMORY, all within the memory geodln flow states for
    the itinerary (itinerary_memory); the visits are those of a run sampled finely."""
    import weakref

    from geodln.landscape import itinerary as it

    top = geodln.layered([16, 24, 24, 16])
    flow = geodln.GradientFlow(top, geodln.Data.from_spectrum([3.0, 2.0, 1.0], 16, 16, seed=0))
    theta0 = geodln.init.small(top, scale=1e-2, seed=0)
    fine, coarse = (flow.integrate(theta0, 100.0, n_points=n) for n in (2001, 4))
    monkeypatch.setattr(it, "CHECK_MEMORY", 5 * 8 * top.n_params)  # the check in pieces of five states
    made, alive, most, solve = {}, {}, {}, flow.solve

    def counted(x0, span, **kw):
        sol = solve(x0, span, **kw)
        kind = "bisection" if len(kw["t_eval"]) == 1 else "check" if kw["rtol"] < coarse.rtol else "plateau"
        n = sol.y.shape[1]
        made[kind], alive[kind] = made.get(kind, 0) + n, alive.get(kind, 0) + n
        most[kind] = max(most.get(kind, 0), alive[kind])
        owner = sol.y
        while owner.base is not None:  # the array that owns the states' memory: every view keeps it alive
            owner = owner.base
        weakref.finalize(owner, lambda: alive.update({kind: alive[kind] - n}))
        return sol

    monkeypatch.setattr(flow, "solve", counted)
    visits, peak = _read(coarse, monkeypatch, 0, traced=True)  # each visit's point analysed by blocks
    assert peak <= it.itinerary_memory(flow, len(coarse)), "the stated bound of geodln flow's itinerary holds"
    assert made["plateau"] > 90 and made["check"] > 100  # more than the bounds below
    assert most["plateau"] <= it.PLATEAU_DEPTH * (it.PLATEAU_PIECES - 1), most
    assert most["check"] <= 5, most
    monkeypatch.setattr(flow, "solve", solve)
    expected = geodln.itinerary(fine)
    assert [v.learned for v in visits] == [v.learned for v in expected] == [(), (1, 2), (1, 2, 3)]
    for v, w in zip(visits, expected):
        assert v.t_exit == pytest.approx(w.t_exit, rel=1e-6, abs=1e-6)
