"""Catalogs of real (non-whitened) data: W_1 -> W_1 Sxx^(-1/2) carries the whitened catalog to the user's
coordinates, where every representative is critical at L_J with the same Hessian inertia (Sylvester)."""

import numpy as np
import pytest

import geodln
from geodln.catalog.store import Catalog, build_catalog
from geodln.cli.main import main
from geodln.catalog.verify import fill_saddles
from geodln.dynamics.hessian import hessian


def _data(d_in, d_out, n, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((d_in, n)) * np.linspace(2.0, 0.5, d_in)[:, None]  # correlated, not whitened
    X = rng.standard_normal((d_in, d_in)) @ X / np.sqrt(n)
    Y = rng.standard_normal((d_out, d_in)) @ X + 0.1 * rng.standard_normal((d_out, n))
    return geodln.Data(X, Y)


@pytest.mark.parametrize("widths, seed", [([2, 2, 2, 2], 0), ([3, 2, 3], 1), ([2, 3, 2, 3], 2)])
def test_every_representative_is_critical_with_the_whitened_inertia(widths, seed):
    data = _data(widths[0], widths[-1], 40, seed)
    assert not data.whitened
    cat = build_catalog(widths, data=data, seed=seed)
    white = build_catalog(widths, data.s[: data.rank], seed=seed)  # the whitened catalog of the same spectrum
    assert [r["learned"] for r in cat.records] == [r["learned"] for r in white.records]
    flow = geodln.GradientFlow(geodln.layered(widths), data)
    top = flow.top
    for rec, ref in zip(cat.records, white.records):
        theta = top.pack(cat.point(rec))
        assert np.linalg.norm(flow.rhs(theta)) < 1e-9 * data.s[0] ** 2  # critical in the user's coordinates
        assert flow.loss(theta) == pytest.approx(data.critical_value(rec["learned"]), abs=1e-9 * data.s[0] ** 2)
        assert rec["hessian"]["negative"] == ref["hessian"]["negative"]
        assert rec["hessian"]["zero"] == ref["hessian"]["zero"] and rec["kind"] == ref["kind"]
        lam = np.linalg.eigvalsh(hessian(flow, theta))
        assert np.sum(lam < -1e-8 * max(1.0, abs(lam).max())) == ref["hessian"]["negative"]  # Sylvester
    assert cat.manifest["parameters"]["data"]["sha256"]
    np.testing.assert_allclose(cat.manifest["data"]["Sxx"], data.Sxx)


def test_cli_catalog_reads_the_flow_data_file(tmp_path, capsys):
    data = _data(2, 2, 30, 5)
    np.savez(tmp_path / "xy.npz", X=data.X, Y=data.Y)
    out = tmp_path / "c"
    args = ["catalog", "--widths", "2,2,2", "--data", str(tmp_path / "xy.npz"), "--out", str(out), "--quiet"]
    assert main(args + ["--no-saddles"]) == 0
    loaded = Catalog.load(out)
    assert loaded.manifest["parameters"]["spectrum"] == pytest.approx(data.s.tolist())
    assert main(args + ["--no-saddles"]) == 0 and "nothing recomputed" in capsys.readouterr().out
    assert main(["saddles", "--catalog", str(out)]) == 0  # the directions, added in the user's coordinates
    filled = Catalog.load(out)
    items = [d for r in filled.records if r["kind"] != "global_minimum"
             for d in r["unstable_directions"] + r["stable_directions"]]
    assert items and all(d["verified"] for d in items)
    whole = tmp_path / "whole"
    assert main(args[:-3] + ["--out", str(whole), "--quiet"]) == 0  # catalog and saddles in one command
    assert [r["unstable_dim"] for r in Catalog.load(whole).records if "unstable_dim" in r] == \
        [r["unstable_dim"] for r in filled.records if "unstable_dim" in r]


def _fd_hessian(flow, theta, h=1e-5):
    """Central differences of the gradient ``-flow.rhs``: an independent Hessian, shape=[p, p]."""
    cols = [(flow.rhs(theta - h * e) - flow.rhs(theta + h * e)) / (2 * h) for e in np.eye(theta.size)]
    H = np.array(cols).T
    return 0.5 * (H + H.T)


@pytest.mark.parametrize("widths, seed", [([2, 2, 2, 2], 0), ([3, 2, 3], 1), ([2, 3, 2, 3], 2)])
def test_saddle_directions_of_real_data_are_certified_in_the_users_coordinates(widths, seed):
    """The flows of the whitened and the user's coordinates are not conjugate (``W_1 -> W_1 Sxx^{-1/2}``
    is not orthogonal), so the directions are found and certified again for the user's flow: the Hessian
    ones are eigenvectors of the user's Hessian (congruent to the whitened one: same signs, other
    values), the path rays are the whitened ones carried over, with the same loss order."""
    data = _data(widths[0], widths[-1], 40, seed)
    cat = fill_saddles(build_catalog(widths, data=data, seed=seed))
    white = fill_saddles(build_catalog(widths, data.s[: data.rank], seed=seed))
    flow = geodln.GradientFlow(geodln.layered(widths), data)
    top = flow.top
    for rec, ref in zip(cat.records, white.records):
        if rec["kind"] == "global_minimum":
            continue
        theta = top.pack(cat.point(rec))
        H = _fd_hessian(flow, theta)
        items = rec["unstable_directions"] + rec["stable_directions"]
        assert all(d["verified"] for d in items), rec["id"]
        assert rec["unstable_dim"] == ref["unstable_dim"]

        def hessian_signs(r):
            return sorted(d["eigenvalue"] > 0 for d in r["unstable_directions"] + r["stable_directions"]
                          if d["eigenvalue"] is not None)
        assert hessian_signs(rec) == hessian_signs(ref)  # Sylvester, direction by direction
        for d in items:
            v = top.pack(cat.direction(d))
            if d["eigenvalue"] is not None:
                lam = d["eigenvalue"]
                assert np.linalg.norm(H @ v - lam * v) <= 1e-5 * max(1.0, np.abs(H).max())
            else:
                assert abs(d["evidence"]["measured_order"] - d["order"]) < 0.3
        rays = [(d["mode"], d["order"]) for d in rec["unstable_directions"] if d["eigenvalue"] is None]
        assert rays == [(d["mode"], d["order"]) for d in ref["unstable_directions"] if d["eigenvalue"] is None]


def test_data_from_moments_gives_the_same_flow():
    """Data rebuilt from (Sxx, Syx, Syy) has those moments, the same loss at every point and the same flow."""
    for seed in range(6):
        data = _data(2 + seed % 3, 1 + seed % 4, 12 + seed, seed)
        again = geodln.Data.from_moments(data.Sxx, data.Syx, data.Syy)
        for a, b in ((again.Sxx, data.Sxx), (again.Syx, data.Syx), (again.Syy, data.Syy)):
            np.testing.assert_allclose(a, b, atol=1e-12 * max(1.0, np.abs(b).max()))
        top = geodln.layered([data.d_in, 3, data.d_out])
        theta = np.random.default_rng(seed).standard_normal(top.n_params)
        f, g = geodln.GradientFlow(top, data), geodln.GradientFlow(top, again)
        assert g.loss(theta) == pytest.approx(f.loss(theta), rel=1e-12)
        np.testing.assert_allclose(g.rhs(theta), f.rhs(theta), rtol=1e-11, atol=1e-12)
    with pytest.raises(ValueError, match="not those of any data set"):
        geodln.Data.from_moments(np.eye(2), np.array([[3.0, 0.0]]), np.array([[1.0]]))  # |Syx|^2 > Sxx Syy
    with pytest.raises(ValueError, match="do not fit"):
        geodln.Data.from_moments(np.eye(2), np.ones((1, 3)), np.eye(1))

