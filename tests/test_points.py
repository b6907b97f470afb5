"""Points the user brings: analyze_point on exact critical points (constructed and shipped), NotCriticalError,
ambiguity, nearest_critical_point, local_manifolds from a point, and `geodln classify`."""

import json
from pathlib import Path

import numpy as np
import pytest

import geodln
from geodln import symmetry
from geodln.catalog.store import Catalog
from geodln.cli.main import main
from geodln.dynamics.hessian import hessian
from geodln.landscape.points import analyze_point, nearest_critical_point
from geodln.landscape.saddles import local_manifolds, verify_direction
from geodln.landscape.strata import NULL, Piece, Stratum

DIAG = geodln.Data(np.eye(2), np.diag([3.0, 1.0]))
SHIPPED = sorted(p for p in (Path(__file__).parent.parent / "catalogs").iterdir() if (p / "manifest.json").is_file())
SAMPLE = 120  # records per catalog in the default run (every record with -m slow)


def _moved(stratum, data, seed):
    """The stratum's canonical representative moved by a random element of GL (not only O)."""
    rng = np.random.default_rng(seed)
    top = geodln.layered(stratum.widths)
    S = symmetry.random_group_element(top, rng, "GL", 0.5)
    return top, symmetry.act(top, S, stratum.canonical_adjacency(top, data, rng))


# (widths, J, pieces, spectrum or DIAG, class): exact critical points of depths 2 to 5
CONSTRUCTED = [
    ([2, 2, 2], (), (), DIAG, "strict_saddle"),
    ([2, 2, 2], (2,), (), DIAG, "strict_saddle"),
    ([2, 2, 2], (1, 2), (), DIAG, "global_minimum"),
    ([3, 2, 3], (1,), (), [3, 2, 1], "strict_saddle"),  # bottleneck, |J| < r_max
    ([3, 2, 3], (1, 2), (), [3, 2, 1], "global_minimum"),  # rank-constrained minimum
    ([2, 2, 2, 2], (), (), DIAG, "nonstrict_saddle"),  # Hessian = 0
    ([2, 2, 2, 2], (1,), (), DIAG, "nonstrict_saddle"),
    ([2, 2, 2, 2], (1,), (Piece(1, 2),), DIAG, "strict_saddle"),
    ([2, 2, 2, 2], (), (Piece(2, 3, None, 1), Piece(2, 3, None, 2)), DIAG, "strict_saddle"),
    ([3, 2, 2, 3], (1,), (), [3, 2, 1], "nonstrict_saddle"),  # bottleneck
    ([3, 2, 2, 3], (1,), (Piece(0, 1, 2, None), Piece(2, 3, None, 3)), [3, 2, 1], "strict_saddle"),
    ([2, 2, 2, 2, 2], (), (), [2, 1], "nonstrict_saddle"),
    ([2, 2, 2, 2, 2], (1,), (), [2, 1], "nonstrict_saddle"),
    # pieces that carry different modes: the Hessian vanishes identically, yet a mode-blind rule says strict
    ([3, 3, 3, 3, 3], (), (Piece(0, 1, 1, None), Piece(3, 4, None, 2)), [3, 2, 1], "nonstrict_saddle"),
    ([3, 3, 3, 3, 3], (), (Piece(0, 1, 1, None), Piece(3, 4, None, 1)), [3, 2, 1], "strict_saddle"),
    ([3, 3, 3, 3, 3], (1,), (Piece(0, 1, NULL, None),), [3, 2], "nonstrict_saddle"),
    ([2, 2, 2, 2, 2, 2], (), (), [2, 1], "nonstrict_saddle"),  # depth 5, order 5
    ([2, 2, 2, 2, 2, 2], (1,), (), [2, 1], "nonstrict_saddle"),
    ([2, 2, 2, 2, 2, 2], (1,), (Piece(2, 3),), [2, 1], "nonstrict_saddle"),  # the piece saves one link of five
]


@pytest.mark.parametrize("widths, learned, pieces, data, kind", CONSTRUCTED,
                         ids=[f"{c[0]}-J{c[1]}-{len(c[2])}p" for c in CONSTRUCTED])
def test_constructed_critical_points(widths, learned, pieces, data, kind):
    if not isinstance(data, geodln.Data):
        data = geodln.Data.from_spectrum(data, widths[0], widths[-1], seed=11)
    stratum = Stratum(tuple(widths), tuple(learned), tuple(pieces), data.rank)
    top, A = _moved(stratum, data, seed=len(widths) + len(pieces))
    flow = geodln.GradientFlow(top, data)
    cp = analyze_point(flow, A)
    lam = np.linalg.eigvalsh(hessian(flow, top.pack(A)))
    assert cp.kind == kind and cp.stratum == stratum and not cp.ambiguous
    assert (lam.min() < -1e-8 * max(1.0, np.abs(lam).max())) == (kind == "strict_saddle")  # the Hessian itself
    if kind == "nonstrict_saddle":
        assert cp.escape_order >= 3 and cp.escape["measured_order"] == pytest.approx(cp.escape_order, abs=0.3)
        assert min(cp.escape["decrease"]) > 0


def test_the_mode_blind_counterexample_has_a_zero_hessian():
    data = geodln.Data.from_spectrum([3, 2, 1], 3, 3, seed=11)
    stratum = Stratum((3, 3, 3, 3, 3), (), (Piece(0, 1, 1, None), Piece(3, 4, None, 2)), 3)
    top, A = _moved(stratum, data, seed=0)
    cp = analyze_point(geodln.GradientFlow(top, data), A)
    assert (cp.hessian.negative, cp.hessian.positive) == (0, 0) and cp.kind == "nonstrict_saddle"


def _clean_path(s, eps, top):
    """Widths 2,2,2,2, Syx = diag(s): the clean path for mode 1 plus an internal link of weight eps."""
    c = s[0] ** (1 / 3)
    e = np.eye(2)
    Ws = [c * np.outer(e[0], e[0]), c * np.outer(e[0], e[0]) + eps * np.outer(e[1], e[1]), c * np.outer(e[0], e[0])]
    return top.from_layer_weights(Ws)


def test_a_small_genuine_singular_value_is_strict():
    """0.023 on a dangling link is a piece (strict saddle), not a zero (the old fixed threshold said nonstrict)."""
    top = geodln.layered([2, 2, 2, 2])
    flow = geodln.GradientFlow(top, DIAG)
    cp = analyze_point(flow, _clean_path([3.0, 1.0], 0.023, top))
    assert cp.kind == "strict_saddle" and cp.hessian.negative == 1 and cp.label == "J={1} + [1,2]"
    assert not cp.ambiguous


def test_a_rank_within_the_noise_is_a_remnant():
    """A link of 1e-7 (inside the rank rule's band of doubt) is a remnant, not a piece: the point is projected
    onto the clean path it shadows, 1e-7 away, and classified there with no doubt left (issue 27: the class
    named is the projection's, never a guess between two strata)."""
    top = geodln.layered([2, 2, 2, 2])
    flow = geodln.GradientFlow(top, DIAG)
    theta = _clean_path([3.0, 1.0], 1e-7, top)
    cp = analyze_point(flow, theta)
    assert (cp.label, cp.kind, cp.escape_order) == ("J={1}", "nonstrict_saddle", 3) and not cp.ambiguous
    assert cp.distance == pytest.approx(1e-7, rel=1e-6) and cp.distance == pytest.approx(np.linalg.norm(cp.theta - theta))
    assert cp.relative_distance == pytest.approx(1e-7 / (np.sqrt(3) * 3 ** (1 / 3)), rel=1e-6)


def test_a_mixed_piece_has_no_canonical_stratum_but_a_class():
    """An input piece carrying (v1 + v2)/sqrt(2) to layer 1: critical, in no enumerated stratum."""
    data = geodln.Data.from_spectrum([3, 2, 1], 3, 3, seed=4)
    top = geodln.layered([3, 3, 3, 3, 3])
    x = (data.V[:, 0] + data.V[:, 1]) / np.sqrt(2)
    Ws = [np.outer([1.0, 0, 0], x), np.zeros((3, 3)), np.zeros((3, 3)), np.zeros((3, 3))]
    flow = geodln.GradientFlow(top, data)
    cp = analyze_point(flow, top.from_layer_weights(Ws))
    assert cp.stratum is None and cp.mixed and cp.kind == "nonstrict_saddle" and cp.hessian.negative == 0


def test_non_whitened_data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((2, 6))
    data = geodln.Data(X, np.diag([3.0, 1.0]) @ X + 0.1 * rng.standard_normal((2, 6)))
    top = geodln.layered([2, 2, 2, 2])
    c = data.s[0] ** (1 / 3)
    u, v = data.U[:, 0], data._inv_sqrt @ data.V[:, 0]  # W_1 = c e1 v1^T Sxx^{-1/2}
    e = np.array([1.0, 0.0])
    theta = top.from_layer_weights([c * np.outer(e, v), c * np.outer(e, e), c * np.outer(u, e)])
    cp = analyze_point(geodln.GradientFlow(top, data), theta)
    assert cp.kind == "nonstrict_saddle" and cp.learned == [1] and cp.label == "J={1}" and cp.escape_order == 3


def test_a_point_that_is_not_critical_is_refused():
    top = geodln.layered([2, 2, 2, 2])
    flow = geodln.GradientFlow(top, DIAG)
    theta = _clean_path([3.0, 1.0], 0.0, top) + 1e-3 * np.random.default_rng(0).standard_normal(top.n_params)
    with pytest.raises(geodln.NotCriticalError, match="grad") as err:
        analyze_point(flow, theta)
    assert isinstance(err.value, geodln.GeodlnError) and err.value.nearest_value == pytest.approx(0.5)
    with pytest.raises(geodln.NotCriticalError):
        local_manifolds(flow, theta)
    near = nearest_critical_point(flow, theta)
    assert near.point.label == "J={1}" and near.point.kind == "nonstrict_saddle" and 0 < near.distance < 1e-2


def test_local_manifolds_derives_the_stratum():
    """At a nonstrict saddle with no stratum given, the escape paths are found (and verified)."""
    data = geodln.Data.from_spectrum([3, 1], 2, 2, seed=2)
    stratum = Stratum((2, 2, 2, 2), (1,), (), 2)
    top, A = _moved(stratum, data, seed=1)
    flow = geodln.GradientFlow(top, data)
    lm = local_manifolds(flow, top.pack(A))
    assert lm.unstable and all(d.order == 3 for d in lm.unstable)
    assert all(verify_direction(flow, top.pack(A), d).verified for d in lm.unstable)


def _records(path, full):
    cat = Catalog.load(path)
    records = cat.records
    if not full and len(records) > SAMPLE:
        idx = np.random.default_rng(0).choice(len(records), SAMPLE, replace=False)
        records = [records[i] for i in sorted(idx)]
    return cat, records


def _check_catalog(path, full):
    cat, records = _records(path, full)
    prm = cat.manifest["parameters"]
    data = geodln.Data.from_spectrum(prm["spectrum"], prm["widths"][0], prm["widths"][-1], seed=prm["seed"])
    top = geodln.layered(prm["widths"])
    flow = geodln.GradientFlow(top, data)
    rng = np.random.default_rng(1)
    for rec in records:
        A = symmetry.act(top, symmetry.random_group_element(top, rng, "GL", 0.5), cat.point(rec))
        cp = analyze_point(flow, A)
        h = cp.hessian
        assert (cp.kind, cp.escape_order, cp.label) == (rec["kind"], rec["escape_order"], rec["stratum"]), rec["id"]
        assert [p.a for p in cp.stratum.pieces] == [p[0] for p in rec["pieces"]]
        assert (h.negative, h.zero, h.positive) == tuple(rec["hessian"][k] for k in ("negative", "zero", "positive"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_record_moved_by_the_group(path):
    """Every record of the small catalogs, a sample of SAMPLE records of the 1706-record 3,3,3,3,3 one."""
    _check_catalog(path, full=False)


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_record_moved_by_the_group_all(path):
    _check_catalog(path, full=True)


def test_cli_classify(tmp_path, capsys):
    data = geodln.Data.from_spectrum([3, 2, 1], 3, 3, seed=0)
    stratum = Stratum((3, 3, 3, 3), (1,), (), 3)
    top, A = _moved(stratum, data, seed=2)
    np.savez(tmp_path / "net.npz", **{f"W{i}": W for i, W in enumerate(top.layer_weights(top.pack(A)), start=1)})
    assert main(["classify", "--weights", str(tmp_path / "net.npz"), "--spectrum", "3,2,1",
                 "--catalog", "catalogs/default"]) == 0
    out = capsys.readouterr().out
    assert "nonstrict saddle" in out and "J = {1}" in out and "catalog record cp" in out
    assert main(["classify", "--weights", str(tmp_path / "net.npz"), "--spectrum", "3,2,1", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["kind"] == "nonstrict_saddle" and record["escape_order"] == 3 and record["distance"] == 0
    assert record["grad_norm"] <= record["gradient_threshold"]  # the certificate is in the record
    assert list(tmp_path.iterdir()) == [tmp_path / "net.npz"]  # no files written
    # a class depends on the data: without them, a usage error, not a class of synthetic data
    assert main(["classify", "--weights", str(tmp_path / "net.npz")]) == 2
    assert "--data FILE" in capsys.readouterr().err


@pytest.mark.parametrize("seed", range(40))
def test_plateau_truncation_removes_every_remnant_whatever_the_rounding(seed):
    """Layers with singular values {1, 0.8} x s_1^(1/h) (learnt) and remnants of a few percent below them:
    the truncation removes exactly the remnants, the largest one included (a cut placed at a remnant's own
    value kept or dropped it by rounding, which flipped a plateau's class between strict and nonstrict)."""
    from geodln.landscape.points import _truncate

    rng = np.random.default_rng(seed)
    top = geodln.layered([4, 4, 4, 4])
    s = np.sort(rng.uniform(1.0, 9.0, 3))[::-1]
    flow = geodln.GradientFlow(top, geodln.Data.from_spectrum(s, 4, 4, seed=seed))
    unit = s[0] ** (1 / top.depth)
    remnants = rng.uniform(1e-3, 2e-2, (3, 2))
    layers = []
    for i in range(3):
        U, _ = np.linalg.qr(rng.standard_normal((4, 4)))
        V, _ = np.linalg.qr(rng.standard_normal((4, 4)))
        layers.append((U * (np.concatenate([[1.0, 0.8], remnants[i]]) * unit)) @ V.T)
    theta, count, cut = _truncate(flow, top.from_layer_weights(layers), 10.0)
    assert count == remnants.size and remnants.max() < cut < 0.8
    for W in top.layer_weights(theta):
        assert np.allclose(np.linalg.svd(W, compute_uv=False) / unit, [1.0, 0.8, 0.0, 0.0], atol=1e-12)
