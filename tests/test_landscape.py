"""Critical points: published classes, hand-checked inertias, criticality of every stratum."""

from math import comb

import numpy as np
import pytest

import geodln
from geodln.dynamics.hessian import hessian
from geodln.landscape.critical import analyze_stratum, classify, point_kind, stratum_kind, trace_critical_set
from geodln.symmetry import vertical_basis
from geodln.landscape.strata import NULL, Piece, Stratum, enumerate_strata

DIAG = geodln.Data(np.eye(2), np.diag([3.0, 1.0]))  # Syx = diag(3, 1), as in the design notes


def _case(widths, learned, pieces, n_modes, data):
    return analyze_stratum(Stratum(tuple(widths), tuple(learned), tuple(pieces), n_modes), data, seed=3)


def _spectrum(widths, s):
    return geodln.Data.from_spectrum(s, widths[0], widths[-1], seed=11)


# (widths, J, pieces, spectrum or DIAG, expected kind, expected (negative, zero, positive) or None)
CASES = [
    # depth 2: no nonstrict saddles, the origin is strict
    ([2, 2, 2], (), (), DIAG, "strict_saddle", (4, 0, 4)),  # eigenvalues +-3, +-1, twice each
    ([2, 2, 2], (1,), (), DIAG, "strict_saddle", None),
    ([2, 2, 2], (2,), (), DIAG, "strict_saddle", None),
    ([2, 2, 2], (1, 2), (), DIAG, "global_minimum", None),
    ([3, 2, 3], (1,), (), [3, 2, 1], "strict_saddle", None),  # bottleneck, |J| < r_max
    ([3, 2, 3], (1, 2), (), [3, 2, 1], "global_minimum", None),  # rank-constrained minimum
    ([3, 2, 3], (1, 3), (), [3, 2, 1], "strict_saddle", None),  # swap 3 for 2
    # depth 3, the hand checks of the design notes (h = 3, widths 2,2,2,2, Syx = diag(3, 1))
    ([2, 2, 2, 2], (), (), DIAG, "nonstrict_saddle", (0, 12, 0)),  # origin: Hessian = 0
    ([2, 2, 2, 2], (), (Piece(2, 3, None, 1), Piece(2, 3, None, 2)), DIAG, "strict_saddle", (4, 4, 4)),
    ([2, 2, 2, 2], (1,), (), DIAG, "nonstrict_saddle", (0, 9, 3)),  # clean top-mode path
    ([2, 2, 2, 2], (2,), (), DIAG, "strict_saddle", (1, 9, 2)),  # smaller mode learnt
    ([2, 2, 2, 2], (1,), (Piece(1, 2),), DIAG, "strict_saddle", (1, 7, 4)),  # + one dangling link
    ([2, 2, 2, 2], (1,), (Piece(0, 1, 2, None),), DIAG, "strict_saddle", (1, 7, 4)),
    ([2, 2, 2, 2], (1, 2), (), DIAG, "global_minimum", (0, 8, 4)),
    # bottlenecks in depth 3
    ([3, 2, 2, 3], (1,), (), [3, 2, 1], "nonstrict_saddle", None),
    ([3, 2, 2, 3], (2,), (), [3, 2, 1], "strict_saddle", None),
    ([3, 2, 2, 3], (1, 2), (), [3, 2, 1], "global_minimum", None),
    ([3, 2, 2, 3], (1,), (Piece(0, 1, 2, None), Piece(2, 3, None, 3)), [3, 2, 1], "strict_saddle", None),
    # depth 4: the origin escapes at order 4, a clean path at order 4 too
    ([2, 2, 2, 2, 2], (), (), [2, 1], "nonstrict_saddle", (0, 16, 0)),
    ([2, 2, 2, 2, 2], (1,), (), [2, 1], "nonstrict_saddle", None),
    ([3, 3, 3, 3, 3], (), (Piece(0, 1, 1, None), Piece(3, 4, None, 2)), [3, 2, 1], "nonstrict_saddle", (0, 36, 0)),
    ([3, 3, 3, 3, 3], (), (Piece(0, 1, 1, None), Piece(3, 4, None, 1)), [3, 2, 1], "strict_saddle", None),
]


@pytest.mark.parametrize("widths, learned, pieces, data, kind, counts", CASES,
                         ids=[f"{c[0]}-J{c[1]}-{len(c[2])}p" for c in CASES])
def test_published_classes_and_inertia(widths, learned, pieces, data, kind, counts):
    if not isinstance(data, geodln.Data):
        data = _spectrum(widths, data)
    cp = _case(widths, learned, pieces, len(data.s), data)
    assert cp.kind == kind
    if counts is not None:
        assert (cp.hessian.negative, cp.hessian.zero, cp.hessian.positive) == counts
    assert (cp.hessian.negative > 0) == (kind == "strict_saddle")
    if kind == "nonstrict_saddle":
        assert cp.escape_order >= 3 and cp.escape["measured_order"] == pytest.approx(cp.escape_order, abs=0.3)
        assert all(d > 0 for d in cp.escape["decrease"])


def test_depth_two_has_no_nonstrict_saddles():
    data = _spectrum([3, 3, 3], [3, 2, 1])
    kinds = {analyze_stratum(s, data, seed=0).kind for _, strata, _ in enumerate_strata([3, 3, 3], 3) for s in strata}
    assert "nonstrict_saddle" not in kinds and "global_minimum" in kinds


@pytest.mark.parametrize("widths, spectrum", [([2, 2, 2, 2], [3, 1]), ([3, 2, 2, 3], [3, 2, 1]), ([2, 3, 2, 3, 2], [2, 1])])
def test_every_stratum_is_critical_at_its_value(widths, spectrum):
    data = _spectrum(widths, spectrum)
    seen = {}
    for learned, strata, left_out in enumerate_strata(widths, len(spectrum)):
        assert left_out == 0 and strata
        for stratum in strata:
            cp = analyze_stratum(stratum, data, seed=1)
            assert cp.grad_norm < 1e-9 * spectrum[0] ** 2
            assert cp.loss == pytest.approx(data.critical_value(learned), abs=1e-9)
            seen.setdefault(learned, set()).add(round(cp.loss, 9))
    r = min(min(widths), len(spectrum))
    assert all(len(values) == 1 for values in seen.values())  # one critical value per J
    assert len(seen) == sum(comb(len(spectrum), k) for k in range(r + 1))


def test_vertical_space_lies_in_the_hessian_kernel():
    """At a critical point H [Xi, A] = 0: the loss is constant along the fiber."""
    data = _spectrum([3, 3, 3, 3], [3, 2, 1])
    cp = _case([3, 3, 3, 3], (1,), (Piece(1, 2),), 3, data)
    flow = geodln.GradientFlow(geodln.layered([3, 3, 3, 3]), data)
    Qv = vertical_basis(flow.top, cp.theta)
    assert Qv.shape[1] == cp.orbit_dim > 0
    assert np.abs(hessian(flow, cp.theta) @ Qv).max() < 1e-10


def test_fewer_modes_than_dimensions_use_null_directions():
    """m = 2 < min(d_0, d_h) = 3: dangling pieces may carry directions orthogonal to every mode."""
    data = _spectrum([3, 3, 3, 3], [3.0, 1.0])
    for learned, strata, _ in enumerate_strata([3, 3, 3, 3], 2, max_per_set=40):
        for stratum in strata:
            cp = analyze_stratum(stratum, data, seed=2)
            assert cp.loss == pytest.approx(data.critical_value(learned), abs=1e-9)
    assert any(p.source == NULL for _, g, _ in enumerate_strata([3, 3, 3, 3], 2) for s in g for p in s.pieces)


def test_lists_and_tuples_make_the_same_stratum():
    assert Stratum([2, 2, 2, 2], [1], [], 2) == Stratum((2, 2, 2, 2), (1,), (), 2)
    assert Stratum([2, 2, 2, 2], [1], [], 2).escape_order() == 3


def test_inertia_does_not_depend_on_the_data_scale():
    for scale in (1e-6, 1.0, 1e4):
        data = geodln.Data(np.eye(2), np.diag([3.0, 1.0]) * scale)
        cp = _case([2, 2, 2, 2], (1,), (), 2, data)
        assert (cp.kind, cp.hessian.negative, cp.hessian.zero, cp.hessian.positive) == ("nonstrict_saddle", 0, 9, 3)


def test_null_directions_appear_only_with_spare_dimensions():
    strata = [s for _, group, _ in enumerate_strata([3, 2, 2, 3], 2) for s in group]
    assert any(p.source == NULL for s in strata for p in s.pieces)
    strata = [s for _, group, _ in enumerate_strata([2, 2, 2, 2], 2) for s in group]
    assert not any(p.source == NULL or p.target == NULL for s in strata for p in s.pieces)


def test_cap_must_be_positive():
    with pytest.raises(ValueError, match="max_per_set must be a positive integer"):
        list(enumerate_strata([2, 2, 2], 2, max_per_set=0))


def test_cap_counts_what_it_leaves_out():
    full = {J: len(s) for J, s, _ in enumerate_strata([3, 3, 3, 3], 3)}
    for J, strata, left_out in enumerate_strata([3, 3, 3, 3], 3, max_per_set=5):
        assert len(strata) == min(5, full[J]) and len(strata) + left_out == full[J]


def test_too_many_modes_for_the_network():
    with pytest.raises(ValueError, match="do not fit"):
        list(enumerate_strata([2, 3, 2], 3))


@pytest.mark.parametrize("widths, spectrum", [([3, 3, 3, 3, 3], [3, 2, 1]), ([2, 3, 2, 3, 2], [2, 1]),
                                              ([3, 2, 3, 2, 3], [3, 2, 1])])
def test_every_stratum_of_deeper_networks_is_classified_consistently(widths, spectrum):
    """The path rule, the theorem read mode by mode, the Hessian and the measured
    escape order agree on every stratum (~2500 of them; analyze_stratum raises otherwise)."""
    data = _spectrum(widths, spectrum)
    kinds = set()
    for _, strata, _ in enumerate_strata(widths, len(spectrum)):
        for stratum in strata:
            kinds.add(analyze_stratum(stratum, data, seed=7).kind)
    assert kinds == {"global_minimum", "strict_saddle", "nonstrict_saddle"}


def _clean_critical_point(widths, spectrum, learned, seed=0):
    """A clean critical point: complete paths carrying the modes ``learned`` with their data strengths."""
    top = geodln.layered(widths)
    data = geodln.Data.from_spectrum(spectrum, widths[0], widths[-1], seed=seed)
    strengths = np.zeros(max(learned))
    strengths[[k - 1 for k in learned]] = data.s[[k - 1 for k in learned]]
    return top, data, top.adjacency(geodln.init.aligned(top, data, strengths, seed=seed + 1))


def test_critical_set_is_traced_and_unbounded():
    top, data, A_star = _clean_critical_point([2, 3, 3, 2], [3.0, 1.0], [1])
    flow = geodln.GradientFlow(top, data)
    trace = trace_critical_set(flow, A_star, n_directions=2, t_max=6.0, n_points=13, seed=0)
    assert trace.critical_value == pytest.approx(data.critical_value([1]), abs=1e-12)
    assert trace.max_loss_deviation < 1e-10 * max(1.0, trace.critical_value)
    assert trace.max_relative_gradient < 1e-12
    for norms in trace.norm:  # convex in t, growing without bound at one end at least
        assert max(norms[0], norms[-1]) > 20 * norms[len(norms) // 2]
    with pytest.raises(ValueError, match="not a critical point"):
        trace_critical_set(flow, A_star + 0.1 * top.mask)


# ------------------------------------------------- one classification rule


@pytest.mark.parametrize("widths, spectrum", [([2, 2, 2, 2], [3.0, 1.0]), ([3, 2, 2, 3], [3.0, 2.0, 1.0]),
                                              ([3, 3, 3, 3], [3.0, 2.0, 1.0]), ([2, 3, 2, 3, 2], [2.0, 1.0])])
def test_a_point_is_classified_like_its_stratum(widths, spectrum):
    """Reading the tightened condition off the weights of a representative (moved by a random orthogonal
    element, so no coordinate is special) gives the class of its stratum, for every stratum."""
    data = geodln.Data.from_spectrum(spectrum, widths[0], widths[-1], seed=7)
    flow = geodln.GradientFlow(geodln.layered(widths), data)
    kinds = set()
    for _, strata, _ in enumerate_strata(widths, len(spectrum)):
        for stratum in strata:
            cp = analyze_stratum(stratum, data, seed=1)
            assert point_kind(flow, cp.theta, cp.learned) == cp.kind == stratum_kind(stratum), stratum.label
            kinds.add(cp.kind)
    assert kinds == {"global_minimum", "strict_saddle", "nonstrict_saddle"}


def test_tightened_is_read_mode_by_mode_on_points():
    """Widths 3,3,3,3,3, J = {}: an input chain carrying v1 to layer 1 and an output chain carrying u2
    from layer 3. No single split of the layers serves both modes, yet the Hessian vanishes identically:
    the point is a nonstrict saddle, and the one rule says so (the old rank rule called it strict)."""
    widths = (3, 3, 3, 3, 3)
    data = geodln.Data.from_spectrum([3.0, 2.0, 1.0], 3, 3, seed=2)
    stratum = Stratum(widths, (), (Piece(0, 1, 1, None), Piece(3, 4, None, 2)), 3)
    cp = analyze_stratum(stratum, data, seed=0)
    flow = geodln.GradientFlow(geodln.layered(widths), data)
    assert np.abs(hessian(flow, cp.theta)).max() < 1e-12
    assert cp.kind == point_kind(flow, cp.theta, ()) == "nonstrict_saddle"


def test_classify_is_the_published_rule():
    assert classify([1, 2], n_modes=3, r_max=2, tightened=False) == "global_minimum"  # rank-limited minimum
    assert classify([1, 3], n_modes=3, r_max=3, tightened=True) == "strict_saddle"  # not a top set
    assert classify([1], n_modes=3, r_max=3, tightened=True) == "nonstrict_saddle"
    assert classify([1], n_modes=3, r_max=3, tightened=False) == "strict_saddle"
    assert classify([], n_modes=1, r_max=1, tightened=True) == "nonstrict_saddle"
