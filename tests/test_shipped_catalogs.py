"""The catalogs shipped in catalogs/: valid, verified, consistent with the theorem and the quotient."""

from pathlib import Path

import numpy as np
import pytest

import geodln
from geodln.catalog.store import Catalog

SHIPPED = sorted(p for p in (Path(__file__).parent.parent / "catalogs").iterdir() if (p / "manifest.json").is_file())


def test_the_required_catalogs_ship():
    widths = {tuple(Catalog.load(p).manifest["parameters"]["widths"]) for p in SHIPPED}
    assert {(2, 2, 2), (3, 2, 3), (2, 2, 2, 2), (3, 3, 3, 3), (3, 2, 2, 3), (3, 3, 3, 3, 3)} <= widths


@pytest.fixture(params=SHIPPED, ids=[p.name for p in SHIPPED], scope="module")
def catalog(request):
    return Catalog.load(request.param)


def test_every_saddle_direction_is_verified(catalog):
    assert catalog.manifest["schema_version"] == 2
    for rec in catalog.records:
        if rec["kind"] == "global_minimum":
            continue
        items = rec["unstable_directions"] + rec["stable_directions"]
        assert rec["unstable_dim"] >= 1 and all(item["verified"] for item in items), rec["id"]
        strict_split = {item["order"] for item in rec["unstable_directions"]} == {2}
        assert strict_split == (rec["kind"] == "strict_saddle"), rec["id"]


def test_classes_agree_with_the_stored_numbers(catalog):
    """Independent of the rules that assigned them: the stored Hessian spectrum and escape."""
    m = len(catalog.manifest["parameters"]["spectrum"])
    r = min(min(catalog.manifest["parameters"]["widths"]), m)
    for rec in catalog.records:
        spectrum = catalog.hessian_spectrum(rec)
        tol = 1e-6 * max(1.0, np.abs(spectrum).max())
        assert (rec["kind"] == "strict_saddle") == bool(spectrum.min() < -tol), rec["id"]
        if rec["kind"] == "nonstrict_saddle":
            assert rec["escape_order"] >= 3
            assert abs(rec["escape"]["measured_order"] - rec["escape_order"]) < 0.3
            assert all(d > 0 for d in rec["escape"]["decrease"])
        top_set = rec["learned"] == list(range(1, len(rec["learned"]) + 1))
        assert (rec["kind"] == "global_minimum") == (top_set and len(rec["learned"]) == r)


def test_same_learnt_set_one_point_of_the_end_to_end_quotient(catalog):
    """The quotient by the hidden-layer group maps A to its end-to-end map W: one W per J."""
    top = geodln.layered(catalog.manifest["parameters"]["widths"])
    by_set = {}
    for rec in catalog.records:
        by_set.setdefault(tuple(rec["learned"]), []).append(top.end_to_end(top.pack(catalog.point(rec))))
    for maps in by_set.values():
        assert max(np.abs(W - maps[0]).max() for W in maps) < 1e-10
    firsts = list(by_set.values())
    for i in range(len(firsts)):
        for j in range(i):
            assert np.abs(firsts[i][0] - firsts[j][0]).max() > 0.1


def test_a_sample_of_records_is_re_derived_on_this_machine(catalog):
    """Under this machine's BLAS build, the data are rebuilt from the seed and a sample of records (every
    global minimum and nonstrict saddle, and up to six others) is read afresh from its stored point by
    analyze_point: the same learnt set, class, Hessian inertia, orbit dimension and escape order, and the
    critical value to 1e-9 relative. Counts and classes are facts; values hold to the stated tolerance."""
    params = catalog.manifest["parameters"]
    widths, spectrum = params["widths"], params["spectrum"]
    data = geodln.Data.from_spectrum(spectrum, widths[0], widths[-1], seed=catalog.manifest["seed"])
    np.testing.assert_allclose(data.Syx, np.array(catalog.manifest["data"]["Syx"]), rtol=0, atol=1e-12)
    flow = geodln.GradientFlow(geodln.layered(widths), data)
    rng = np.random.default_rng(0)
    special = [rec for rec in catalog.records if rec["kind"] != "strict_saddle"]
    others = [rec for rec in catalog.records if rec["kind"] == "strict_saddle"]
    sample = special + [others[i] for i in rng.choice(len(others), min(6, len(others)), replace=False)]
    for rec in sample:
        cp = geodln.analyze_point(flow, flow.top.pack(catalog.point(rec)))
        assert (cp.kind, cp.learned, cp.escape_order, cp.orbit_dim) == (
            rec["kind"], rec["learned"], rec["escape_order"], rec["orbit_dim"]), rec["id"]
        assert {k: cp.hessian.as_dict()[k] for k in ("negative", "zero", "positive")} == {
            k: rec["hessian"][k] for k in ("negative", "zero", "positive")}, rec["id"]
        assert cp.critical_value == pytest.approx(rec["critical_value"], rel=1e-9, abs=1e-12)
