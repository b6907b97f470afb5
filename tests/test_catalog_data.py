"""Catalogs of real (non-whitened) data: W_1 -> W_1 Sxx^(-1/2) carries the whitened catalog to the user's
coordinates, where every representative is critical at L_J with the same Hessian inertia (Sylvester)."""

import numpy as np
import pytest

import geodln
from geodln.catalog import Catalog, build_catalog
from geodln.cli import main
from geodln.hessian import hessian


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
    assert main(args) != 0  # saddles of real data are not computed yet: said, not ignored
    assert "--no-saddles" in capsys.readouterr().err
    assert main(args + ["--no-saddles"]) == 0
    loaded = Catalog.load(out)
    assert loaded.manifest["parameters"]["spectrum"] == pytest.approx(data.s.tolist())
    assert main(args + ["--no-saddles"]) == 0 and "nothing recomputed" in capsys.readouterr().out
    assert main(["saddles", "--catalog", str(out)]) == 2 and "real data" in capsys.readouterr().err

