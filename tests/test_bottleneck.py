"""Catalogs of bottleneck architectures (issue 27): a hidden layer narrower than the input or
output, data with null directions.

When a new path for an unlearnt mode lands in a null input piece and later in a null output
piece, its links between them join ``x`` to ``y``: ``W`` gains ``eps^{w} y x^T``, orthogonal to
the error, which costs ``+eps^{2w}`` in the loss and can beat the path's ``-c eps^m``. Then the
escape order exceeds the number of links (:func:`geodln.landscape.strata.path_powers`), and the
escape runs along a curve, not a ray. Checked here against the two independent readings: a
finite-difference Hessian (the class) and the slope of the loss along the escape curve (the order).
"""

from collections import Counter
from itertools import product

import numpy as np
import pytest

import geodln
from geodln import build_catalog, count_strata
from geodln.dynamics.flow import GradientFlow
from geodln.landscape.critical import analyze_stratum, path_direction
from geodln.landscape.strata import NULL, EscapePath, Piece, Stratum, enumerate_strata, path_powers
from geodln.network.data import Data
from geodln.network.topology import layered
from test_family import check_member, fd_inertia

NAMED = [((4, 3, 3, 4), (4.0, 3.0, 1.0)), ((5, 3, 3, 5), (3.0, 2.0, 1.0)), ((4, 3, 3, 4), (4.0, 3.0))]


def _fd_inertia(flow: GradientFlow, theta) -> tuple:
    """(negative, zero, positive) eigenvalues of a finite-difference Hessian of the loss alone
    (:func:`test_family.fd_inertia`) at packed weights ``theta``."""
    top = flow.top
    return fd_inertia(top.widths, top.layer_weights(theta), flow.data.X, flow.data.Y)


def _curve_slope(stratum: Stratum, flow: GradientFlow, cp) -> tuple:
    """Loss drops along the escape curve at five step sizes, and the slope of log drop against log eps."""
    path = stratum.escape_path()
    dirs = np.array([path_direction(stratum, flow.top, flow.data, EscapePath(path.mode, (link,)), cp.similarity)
                     for link in path.links])
    powers = np.array(path.link_powers())
    sizes = np.where(powers > 1, cp.escape.get("scale", 1.0), 1.0)
    eps = np.geomspace(0.08, 0.01, 5)
    value = flow.loss(cp.theta)
    drops = np.array([value - flow.loss(cp.theta + (sizes * e ** powers) @ dirs) for e in eps])
    slope = np.polyfit(np.log(eps), np.log(drops), 1)[0] if np.all(drops > 0) else np.nan
    return drops, slope


def test_null_pieces_joined_by_the_middle_link_escape_at_order_four():
    """The stratum of the issue: the order-3 path for mode 3 joins v0 to u0 in its middle link."""
    st = Stratum((4, 3, 3, 4), (1, 2), (Piece(0, 1, NULL, None), Piece(2, 3, None, NULL)), 3)
    assert st.tightened() and st.escape_order() == 4
    assert st.escape_path().link_powers() == (1, 2, 1)
    data = Data.from_spectrum([4.0, 3.0, 1.0], 4, 4, seed=0)
    cp = analyze_stratum(st, data, seed=1)
    flow = GradientFlow(layered(st.widths), data)
    assert cp.kind == "nonstrict_saddle" and _fd_inertia(flow, cp.theta) == (0, 20, 13)
    drops, slope = _curve_slope(st, flow, cp)
    assert abs(slope - 4) < 0.1, (drops, slope)
    # the straight ray of the same links rises at second order: the cross term (a b eps)^2 / 2
    ray = path_direction(st, flow.top, data, st.escape_path(), cp.similarity)
    rises = [flow.loss(cp.theta + e * ray) - flow.loss(cp.theta) for e in (0.02, 0.01)]
    assert min(rises) > 0 and abs(np.log2(rises[0] / rises[1]) - 2) < 0.1


def test_path_powers_is_the_least_order():
    """T = max(n, 2 max_S (n - |S|)): checked against every integer power vector up to 4."""
    for n in (2, 3, 4):
        for xs in ([], [1], [2]):
            for ys in ([], [1], [2], [3]):
                if any(q <= p for p in xs for q in ys) or any(q >= n or p >= n for p in xs for q in ys):
                    continue  # a path enters foreign inputs before foreign outputs, and ends with a free link
                segs = [(p + 1, n) for p in xs] + [(1, q) for q in ys] + [(p + 1, q) for p in xs for q in ys]
                feasible = [sum(w) for w in product(range(1, 5), repeat=n)
                            if all(2 * sum(w[lo - 1:hi]) >= sum(w) for lo, hi in segs)]
                powers = path_powers(n, xs, ys)
                least = sum(powers) if powers else n
                assert (powers is None) == (not feasible) and (powers is None or least == min(feasible))


@pytest.mark.parametrize("widths, spectrum", NAMED)
def test_named_bottleneck_catalogs_build_and_agree(widths, spectrum):
    catalog = build_catalog(list(widths), list(spectrum), seed=0)
    counted = count_strata(widths, len(spectrum))
    assert len(catalog) == counted.total
    for rec in catalog.records:
        negative = int((catalog.hessian_spectrum(rec) < -1e-8 * spectrum[0] ** 2).sum())  # rounding ~1e-15 s_1^2
        assert (rec["kind"] == "strict_saddle") == (negative > 0) == (rec["hessian"]["negative"] > 0), rec["stratum"]
        if rec["kind"] == "nonstrict_saddle":
            assert abs(rec["escape"]["measured_order"] - rec["escape_order"]) < 0.3, rec["stratum"]
    assert dict(Counter(r["escape_order"] for r in catalog.records if r["kind"] != "global_minimum")) == counted.by_order
    # independent readings at fresh representatives of every nonstrict stratum
    data, rng = Data.from_spectrum(spectrum, widths[0], widths[-1], seed=3), np.random.default_rng(5)
    flow = GradientFlow(layered(widths), data)
    for _, strata, _ in enumerate_strata(widths, len(spectrum)):
        for st in strata:
            if st.is_top and not st.is_global_min and st.tightened():
                cp = analyze_stratum(st, data, seed=rng)
                assert _fd_inertia(flow, cp.theta)[0] == 0, st.label
                drops, slope = _curve_slope(st, flow, cp)
                assert abs(slope - st.escape_order()) < 0.15, (st.label, drops, slope)


def _family():
    """Depth 2-3, widths 1..4, a hidden width below min(d_0, d_h)."""
    for h in (2, 3):
        for widths in product(range(1, 5), repeat=h + 1):
            if min(widths[1:-1]) < min(widths[0], widths[-1]):
                yield widths


def _check_family_member(widths):
    """The whole catalog with m = min(d_0, d_h): counts, kinds and escape orders equal count_strata's, every
    class the mode-by-mode rule, one FD Hessian (:func:`test_family.check_member`)."""
    check_member(widths, min(widths[0], widths[-1]), full=True)


FAMILY = list(_family())


@pytest.mark.parametrize("widths", FAMILY[::10])
def test_bottleneck_family_sample(widths):
    _check_family_member(widths)


@pytest.mark.slow
@pytest.mark.parametrize("widths", [w for i, w in enumerate(FAMILY) if i % 10])
def test_bottleneck_family_rest(widths):
    _check_family_member(widths)


def test_analyze_point_reads_curved_escapes_of_a_users_point():
    """A point the user brings in a stratum whose escape is a curve (link powers above one) is classified with
    the catalog's class and order, its escape measured along the curve in the point's own frame; the point is
    moved by a random group element first, so the frame is not the catalog's."""
    widths, spectrum = [4, 3, 3, 4], [4.0, 3.0, 1.0]
    cat = geodln.build_catalog(widths, spectrum)
    flow = geodln.GradientFlow(geodln.layered(widths), geodln.Data.from_spectrum(spectrum, 4, 4, seed=0))
    curved = [rec for rec in cat.records if rec.get("escape") and rec["escape"].get("powers")]
    assert curved
    rng = np.random.default_rng(3)
    for rec in curved:
        S = geodln.symmetry.random_group_element(flow.top, rng)
        moved = geodln.symmetry.act(flow.top, S, cat.point(rec))
        cp = geodln.analyze_point(flow, flow.top.pack(moved))
        assert (cp.kind, cp.escape_order, cp.label) == (rec["kind"], rec["escape_order"], rec["stratum"])
        assert abs(cp.escape["measured_order"] - rec["escape_order"]) < 0.3 and min(cp.escape["decrease"]) > 0
