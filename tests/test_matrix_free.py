"""Matrix-free analysis of a point (issue 26): the same spectrum, inertia and orbit as the dense path."""

from pathlib import Path

import numpy as np
import pytest

import geodln
from geodln.catalog.store import Catalog
from geodln.dynamics import hessian as hz
from geodln.landscape.critical import curvature
from geodln.tolerances import DEFAULT_TOLERANCES as TOL

SHIPPED = sorted(p for p in (Path(__file__).parent.parent / "catalogs").iterdir() if (p / "manifest.json").is_file())


def _both(monkeypatch, flow, theta):
    """``curvature`` on the dense path and on the matrix-free one (forced by the threshold)."""
    monkeypatch.setattr(hz, "MATRIX_FREE_ABOVE", 10 ** 9)
    dense = curvature(flow, theta, TOL)
    monkeypatch.setattr(hz, "MATRIX_FREE_ABOVE", 0)
    return dense, curvature(flow, theta, TOL)


def _assert_same(dense, free):
    assert dense.full.as_dict().keys() == free.full.as_dict().keys()
    for a, b in ((dense.full, free.full), (dense.horizontal, free.horizontal)):
        assert (a.negative, a.zero, a.positive) == (b.negative, b.zero, b.positive)
    assert dense.orbit_dim == free.orbit_dim
    size = max(1.0, np.abs(dense.eigenvalues).max())
    assert np.allclose(dense.eigenvalues, free.eigenvalues, rtol=0, atol=1e-12 * size)
    neg = dense.eigenvalues < -dense.full.tol
    assert np.allclose(free.eigenvalues[neg], dense.eigenvalues[neg], rtol=1e-8, atol=0)


@pytest.mark.parametrize("path", SHIPPED[:5], ids=[p.name for p in SHIPPED[:5]])
def test_shipped_records_matrix_free(monkeypatch, path):
    catalog = Catalog.load(path)
    par = catalog.manifest["parameters"]
    top = geodln.layered(par["widths"])
    data = geodln.Data.from_spectrum(par["spectrum"], par["widths"][0], par["widths"][-1], seed=par["seed"])
    assert catalog.matches(top, data)
    flow = geodln.GradientFlow(top, data)
    for rec in catalog.records:
        dense, free = _both(monkeypatch, flow, top.pack(catalog.point(rec)))
        _assert_same(dense, free)
        assert (free.full.negative > 0) == (rec["kind"] == "strict_saddle")


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED[5:], ids=[p.name for p in SHIPPED[5:]])
def test_every_record_of_the_larger_shipped_catalogs_matrix_free(monkeypatch, path):
    """With the fast test above: every record of every shipped catalog."""
    test_shipped_records_matrix_free(monkeypatch, path)


@pytest.mark.slow
@pytest.mark.parametrize("widths", [(6, 5, 5, 6), (5, 8, 8, 8, 5)])
def test_random_constructed_critical_points_matrix_free(monkeypatch, widths):
    rng = np.random.default_rng(sum(widths))
    s = [5.0, 4.0, 3.0, 2.0, 1.0]
    data = geodln.Data.from_spectrum(s, widths[0], widths[-1], seed=1)
    strata = [st for _, group, _ in geodln.enumerate_strata(widths, len(s), max_per_set=1) for st in group]
    kinds = set()
    for stratum in [strata[0], strata[-1]] + [strata[i] for i in rng.choice(len(strata), size=6, replace=False)]:
        cp = geodln.analyze_stratum(stratum, data, seed=rng)
        dense, free = _both(monkeypatch, geodln.GradientFlow(geodln.layered(widths), data), cp.theta)
        _assert_same(dense, free)
        assert (free.full.negative > 0) == (cp.kind == "strict_saddle")
        kinds.add(cp.kind)
    assert len(kinds) >= 2  # the draw covers strict and non-strict points (J={} and the last set)


def test_a_full_rank_operator_range_is_everything():
    M = np.random.default_rng(0).standard_normal((50, 50))
    Q = hz.operator_range(lambda X: M @ X, 50, 50)
    assert Q.shape == (50, 50) and np.allclose(Q.T @ Q, np.eye(50))
