"""Degenerate saddles (issue 27): a point next to a saddle of order m >= 3 is classified by its projection.

At such a saddle the gradient shrinks like distance^(m-1), so noise leaves a gradient below the criticality
threshold while the ranks and the Hessian see the noise. analyze_point and nearest_critical_point project
first (truncation, snap onto the stratum, the group, Newton within the stratum) and classify the projection:
its class, stratum and escape order are the exact point's, the distance they report is the noise's size, and
no class is published that the projection's Hessian contradicts.
"""

import numpy as np
import pytest

import geodln
from geodln.dynamics.hessian import hessian
from geodln.landscape.strata import Piece, Stratum, enumerate_strata

# (widths, spectrum): depths 3 and 4, widths up to 5, bottlenecks and null directions included
ARCHITECTURES = [
    ((3, 3, 3, 3), [2.0, 1.0]),
    ((4, 3, 3, 4), [3.0, 2.0, 1.0]),
    ((5, 4, 4, 5), [3.0, 2.0, 1.0]),
    ((3, 3, 3, 3, 3), [3.0, 2.0, 1.0]),
    ((5, 4, 4, 4, 5), [3.0, 2.0, 1.0]),
    ((4, 3, 3, 3, 4), [2.0, 1.0]),
    ((4, 4, 4, 4, 4), [4.0, 3.0, 2.0, 1.0]),
]
NOISES = (1e-8, 1e-7, 1e-6, 1e-5)


def _degenerate_strata(widths, n_modes):
    """The strata of J = {} with pieces whose escape order is at least 3 (nonstrict saddles)."""
    learned, strata, _ = next(enumerate_strata(widths, n_modes))  # J = {} comes first
    assert learned == ()
    return [s for s in strata if s.pieces and (s.escape_order() or 0) >= 3]


def _check_family(widths, spectrum, per_architecture, seed):
    rng = np.random.default_rng(seed)
    data = geodln.Data.from_spectrum(spectrum, widths[0], widths[-1], seed=3)
    flow = geodln.GradientFlow(geodln.layered(widths), data)
    strata = _degenerate_strata(widths, len(spectrum))
    assert strata, widths
    threshold = geodln.Tolerances().gradient * data.s[0] ** 2
    for idx in rng.choice(len(strata), min(per_architecture, len(strata)), replace=False):
        stratum = strata[idx]
        exact = geodln.analyze_stratum(stratum, data, seed=int(rng.integers(2**31)), spread=0.5)  # moved by GL
        assert exact.kind == "nonstrict_saddle"
        for noise in NOISES:
            e = noise * rng.standard_normal(exact.theta.size)
            theta = exact.theta + e
            near = geodln.nearest_critical_point(flow, theta)
            cp = near.point
            where = f"{widths} {stratum.label} noise {noise:g}"
            assert (cp.kind, cp.stratum, cp.escape_order) == (exact.kind, stratum, exact.escape_order), where
            assert 0.2 * np.linalg.norm(e) <= near.distance <= 1.5 * np.linalg.norm(e), where
            assert cp.distance == near.distance and cp.relative_distance == near.relative_distance
            assert cp.hessian.negative == 0 and not cp.ambiguous, where
            # the certificate at the projection: critical to rounding, at L_J
            assert np.linalg.norm(flow.rhs(cp.theta)) <= 1e-12 * max(1.0, data.s[0] ** 2), where
            assert cp.loss == pytest.approx(exact.critical_value, abs=1e-12)
            if np.linalg.norm(flow.rhs(theta)) <= threshold:  # the gradient says "critical": so does analyze_point
                same = geodln.analyze_point(flow, theta)
                assert (same.kind, same.stratum, same.escape_order, same.distance) == (
                    cp.kind, cp.stratum, cp.escape_order, near.distance), where


@pytest.mark.parametrize("widths, spectrum", ARCHITECTURES, ids=[str(a[0]) for a in ARCHITECTURES])
def test_noisy_degenerate_saddles_are_read_by_their_projection(widths, spectrum):
    _check_family(widths, spectrum, per_architecture=2, seed=sum(widths))


@pytest.mark.slow
@pytest.mark.parametrize("widths, spectrum", ARCHITECTURES, ids=[str(a[0]) for a in ARCHITECTURES])
def test_noisy_degenerate_saddles_every_sample(widths, spectrum):
    _check_family(widths, spectrum, per_architecture=12, seed=1000 + sum(widths))


def test_the_issues_example():
    """Widths 5,4,4,4,5, J = {} with one input piece: an order-3 saddle whose Hessian vanishes identically.
    Noise of 1e-6 leaves a gradient far below the threshold and a noisy Hessian of either sign; the point
    was read as the origin (order 4) and called strict. It is the order-3 nonstrict saddle, 1e-6 away."""
    widths = (5, 4, 4, 4, 5)
    data = geodln.Data.from_spectrum([3.0, 2.0, 1.0], 5, 5, seed=0)
    flow = geodln.GradientFlow(geodln.layered(widths), data)
    stratum = Stratum(widths, (), (Piece(0, 1, 1, None),), 3)
    exact = geodln.analyze_stratum(stratum, data, seed=1)
    assert (exact.hessian.negative, exact.hessian.positive) == (0, 0)
    e = 1e-6 * np.random.default_rng(0).standard_normal(exact.theta.size)
    theta = exact.theta + e
    grad = np.linalg.norm(flow.rhs(theta))
    noisy = np.linalg.eigvalsh(hessian(flow, theta))
    assert grad < 1e-9 * 9.0 and noisy.min() < -1e-6 and noisy.max() > 1e-6  # what misled the old reading
    for cp in (geodln.analyze_point(flow, theta), geodln.nearest_critical_point(flow, theta).point):
        assert (cp.kind, cp.label, cp.escape_order) == ("nonstrict_saddle", "J={} + v1[0,1]", 3)
        assert (cp.hessian.negative, cp.hessian.zero, cp.hessian.positive) == (0, 72, 0)
        assert cp.escape["measured_order"] == pytest.approx(3, abs=0.3)
        assert 0.5 * np.linalg.norm(e) <= cp.distance <= np.linalg.norm(e)
        assert cp.relative_distance == pytest.approx(cp.distance / max(np.linalg.norm(theta), 2 * 3 ** 0.25))


def test_a_class_the_hessian_contradicts_is_refused_with_the_numbers():
    """With a zero band wider than the Hessian's spectrum the strict saddle J = {2} shows no negative
    eigenvalue: the rule's class is not published, the refusal gives the inertia and the eigenvalue."""
    data = geodln.Data.from_spectrum([3.0, 1.0], 2, 2, seed=0)
    exact = geodln.analyze_stratum(Stratum((2, 2, 2), (2,), (), 2), data, seed=0)
    flow = geodln.GradientFlow(geodln.layered([2, 2, 2]), data)
    with pytest.raises(geodln.ClassificationError, match=r"strict_saddle .*0 negative eigenvalues \(smallest -"):
        geodln.analyze_point(flow, exact.theta, geodln.Tolerances(inertia=0.99))


def test_a_gradient_below_the_threshold_far_from_the_critical_set_is_refused():
    """Depth 4 near the origin (order 4): noise 1e-3 leaves a gradient ~1e-9 s_1^2 at distance 1e-3:
    analyze_point refuses (the distance certifies, not the gradient); nearest_critical_point projects."""
    widths = (3, 3, 3, 3, 3)
    data = geodln.Data.from_spectrum([3.0, 2.0, 1.0], 3, 3, seed=0)
    flow = geodln.GradientFlow(geodln.layered(widths), data)
    tol = geodln.Tolerances(gradient=1e-6)  # lax enough for the gradient to pass
    theta = 1e-3 * np.random.default_rng(1).standard_normal(flow.top.n_params)
    assert np.linalg.norm(flow.rhs(theta)) <= 1e-6 * 9.0
    with pytest.raises(geodln.NotCriticalError, match="critical_distance"):
        geodln.analyze_point(flow, theta, tol)
    near = geodln.nearest_critical_point(flow, theta, tol)
    assert near.point.label == "J={}" and near.distance == pytest.approx(np.linalg.norm(theta))
