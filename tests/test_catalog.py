"""Catalogs: round trip, validation of edited files, determinism, the CLI."""

import hashlib
import json
from collections import Counter

import numpy as np
import pytest

import geodln
from dataclasses import asdict

from geodln.catalog.store import SCHEMA_VERSION, Catalog, _manifest_digest, build_catalog
from geodln.tolerances import Tolerances
from geodln.cli.main import main


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("cat") / "c2222"
    catalog = build_catalog([2, 2, 2, 2], [3.0, 1.0], seed=4)
    records = json.loads(json.dumps(catalog.records))  # as built, before writing
    assert catalog.write(out) == out == catalog.path
    return records, out


def test_round_trip(written):
    catalog, out = written
    loaded = Catalog.load(out)
    assert loaded.records == catalog
    assert loaded.counts() == {"global_minimum": 1, "strict_saddle": 23, "nonstrict_saddle": 2}
    data = geodln.Data.from_spectrum([3.0, 1.0], 2, 2, seed=4)
    flow = geodln.GradientFlow(geodln.layered([2, 2, 2, 2]), data)
    for rec in loaded.records:
        A = loaded.point(rec)
        theta = flow.top.pack(A)
        assert flow.loss(theta) == pytest.approx(rec["critical_value"], abs=1e-9)
        assert np.linalg.norm(flow.rhs(theta)) < 1e-9
        spectrum = loaded.hessian_spectrum(rec)
        assert np.sum(spectrum < -1e-6) == rec["hessian"]["negative"]
    np.testing.assert_allclose(np.array(loaded.manifest["data"]["Syx"]), data.Syx, atol=1e-15)


def test_same_seed_same_catalog(written):
    catalog, _ = written
    again = build_catalog([2, 2, 2, 2], [3.0, 1.0], seed=4)
    assert json.loads(json.dumps(again.records)) == catalog


def test_truncated_file_is_a_clear_error(written, tmp_path):
    _, out = written
    copy = tmp_path / "copy"
    __import__("shutil").copytree(out, copy)
    lines = (copy / "critical_points.jsonl").read_text()
    (copy / "critical_points.jsonl").write_text(lines[: len(lines) // 2])
    with pytest.raises(ValueError, match="edited or truncated"):
        Catalog.load(copy)


def test_hand_edited_record_is_a_clear_error(written, tmp_path):
    _, out = written
    copy = tmp_path / "copy"
    __import__("shutil").copytree(out, copy)
    text = (copy / "critical_points.jsonl").read_text().replace('"strict_saddle"', '"global_minimum"', 1)
    (copy / "critical_points.jsonl").write_text(text)
    with pytest.raises(ValueError, match="edited or truncated"):
        Catalog.load(copy)
    # an edit that also forges the checksum is still caught by the schema
    forged = text.replace('"orbit_dim": ', '"orbit_dim": "x", "was": ', 1)
    (copy / "critical_points.jsonl").write_text(forged)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["checksums"]["critical_points.jsonl"] = hashlib.sha256(forged.encode()).hexdigest()
    manifest["checksums"]["manifest.json"] = _manifest_digest(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="line 1: field 'orbit_dim'"):
        Catalog.load(copy)
    manifest.pop("checksums")
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="has no checksums"):
        Catalog.load(copy)


def test_not_a_catalog(tmp_path):
    with pytest.raises(ValueError, match="no manifest.json"):
        Catalog.load(tmp_path)


def test_spectrum_must_be_distinct():
    with pytest.raises(ValueError, match="strictly decreasing"):
        build_catalog([2, 2, 2], [1.0, 1.0])


def test_cli_catalog_prints_table_and_writes(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["catalog", "--widths", "2,2,2", "--spectrum", "2,1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "global_minimum" in printed and "4 strata" in printed
    loaded = Catalog.load(out)
    assert [r["kind"] for r in loaded.records].count("strict_saddle") == 3
    assert (out / "summary.csv").read_text().count("\n") == 5
    rows = list(__import__("csv").DictReader((out / "summary.csv").open()))
    assert [json.loads(r["learned"]) for r in rows] == [r["learned"] for r in loaded.records]
    assert all(int(r["unstable_dim"]) >= 1 for r in rows if r["kind"] != "global_minimum")
    assert loaded.manifest["parameters"]["widths"] == [2, 2, 2]


def test_saddles_fill_in_verified_directions(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["catalog", "--widths", "2,2,2,2", "--spectrum", "3,1", "--no-saddles", "--out", str(out), "--quiet"]) == 0
    bare = Catalog.load(out)
    assert bare.manifest["schema_version"] == SCHEMA_VERSION and "saddles" not in bare.manifest
    assert not any("unstable_dim" in rec for rec in bare.records)
    assert main(["saddles", "--catalog", str(out), "--quiet"]) == 0
    assert "directions verified" in capsys.readouterr().out
    loaded = Catalog.load(out)
    assert loaded.manifest["schema_version"] == SCHEMA_VERSION and loaded.manifest["saddles"]["n_verified"] > 0
    top = geodln.layered([2, 2, 2, 2])
    for rec in loaded.records:
        if rec["kind"] == "global_minimum":
            continue
        items = rec["unstable_directions"] + rec["stable_directions"]
        assert rec["unstable_dim"] == len(rec["unstable_directions"]) >= 1
        assert rec["unstable_dim"] + rec["stable_dim"] + rec["center_dim"] == top.n_params
        assert all(item["verified"] for item in items)
        orders = {item["order"] for item in rec["unstable_directions"]}
        assert (orders == {2}) == (rec["kind"] == "strict_saddle")  # the split equals the kind
        for item in items:
            D = loaded.direction(item)
            assert D.shape == (top.n, top.n) and np.all(D[top.mask == 0] == 0)
            assert np.linalg.norm(D) == pytest.approx(1.0)


def test_refuses_to_replace_a_folder_that_is_not_a_catalog(written, tmp_path):
    _, out = written
    victim = tmp_path / "thesis"
    victim.mkdir()
    (victim / "chapter1.tex").write_text("precious")
    with pytest.raises(ValueError, match="no geodln catalog: refusing"):
        Catalog.load(out).write(victim)
    assert (victim / "chapter1.tex").read_text() == "precious"


def test_in_memory_catalog_holds_its_arrays_and_its_tolerances(written):
    records, out = written
    strict = Tolerances(inertia=1e-9)
    catalog = build_catalog([2, 2, 2], [2.0, 1.0], seed=1, tolerances=strict)
    assert catalog.path is None and catalog.tolerances == strict
    assert catalog.manifest["tolerances"] == asdict(strict)
    for rec in catalog.records:  # no file needed to read the arrays of a built catalog
        assert catalog.point(rec).shape == (6, 6) and catalog.hessian_spectrum(rec).shape == (8,)
    assert Catalog.load(out).tolerances == Tolerances()


@pytest.mark.parametrize("edit", [
    lambda m: m["counts"].update(strict_saddle=99),
    lambda m: m["data"]["singular_values"].__setitem__(0, 4.0),
    lambda m: m["parameters"].update(seed=1),
])
def test_an_edited_manifest_is_refused(written, tmp_path, edit):
    """The manifest is covered by a checksum too: edited counts, data or parameters do not load silently."""
    _, out = written
    copy = tmp_path / "copy"
    __import__("shutil").copytree(out, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    edit(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=2))
    with pytest.raises(ValueError, match="manifest.json does not match its own checksum"):
        Catalog.load(copy)


def test_a_manifest_that_is_not_an_object_is_a_clear_error(tmp_path):
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON list, not the object"):
        Catalog.load(tmp_path)


def test_cli_count_prints_the_counts_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["catalog", "--widths", "2,2,2,2", "--spectrum", "3,1", "--count", "--json", "--out", str(out)]) == 0
    counts = json.loads(capsys.readouterr().out)
    built = build_catalog([2, 2, 2, 2], [3.0, 1.0])
    assert counts["total"] == len(built) and counts["by_kind"] == built.counts()
    assert counts["by_learned"] == {"{}": 17, "{1}": 4, "{2}": 4, "{1,2}": 1}
    orders = Counter(str(r.get("escape_order")) for r in built.records if r["kind"] != "global_minimum")
    assert counts["by_order"] == dict(orders) == {"2": 23, "3": 2}
    assert not out.exists()
    assert main(["catalog", "--widths", "10,10,10,10", "--spectrum", ",".join(map(str, range(10, 0, -1))), "--count"]) == 0
    printed = capsys.readouterr().out
    assert "5,367,676" in printed and "10 of order 3" in printed


def test_thresholds_retired_since_a_catalog_was_made_are_ignored():
    """A catalog made when verification still had ``n_checks`` (a grid of check times, now events)
    reads with today's thresholds; an unknown threshold is still an error."""
    from geodln.tolerances import Tolerances

    cat = build_catalog([2, 2, 2], [2.0, 1.0])
    cat.manifest["tolerances"] = dict(cat.manifest["tolerances"], n_checks=80)
    assert cat.tolerances == Tolerances()
    cat.manifest["tolerances"]["no_such_threshold"] = 1.0
    with pytest.raises(TypeError, match="no_such_threshold"):
        cat.tolerances
