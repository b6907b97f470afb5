"""``geodln explore``: the page of every shipped catalog holds its records, its numbers, its drawings; file safety."""

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from browser import parse_rows
from matplotlib.colors import to_rgb

from geodln.catalog.store import Catalog, build_catalog
from geodln.cli.main import main
from geodln.landscape.labels import format_learned
from geodln.network.topology import layered
from geodln.plots.explorer import COLUMNS, explorer_html, network_svg, page_provenance

CATALOGS = sorted(p.parent for p in (Path(__file__).resolve().parents[1] / "catalogs").glob("*/manifest.json"))
COLUMN = {key: i for i, (key, *_) in enumerate(COLUMNS)}
EDGE = re.compile(r'<path d="[^"]*" stroke="(#[0-9a-f]{6})" stroke-width="[0-9.]+"><title>A\[(\d+),(\d+)\] = ([^<]+)</title>')


@pytest.fixture(scope="module", params=CATALOGS, ids=[p.name for p in CATALOGS])
def page(request, tmp_path_factory):
    """(catalog, the page's text) for each shipped catalog, written by the command."""
    out = tmp_path_factory.mktemp("page") / "page.html"
    assert main(["explore", str(request.param), "-o", str(out)]) == 0
    return Catalog.load(request.param), out.read_text(encoding="utf-8")


def test_every_record_is_one_row_with_the_catalogs_numbers(page):
    catalog, html = page
    rows = parse_rows(html)
    assert Counter(r["id"] for r in rows) == Counter(rec["id"] for rec in catalog.records)
    assert all(n == 1 for n in Counter(r["id"] for r in rows).values()) and not any(r["hidden"] for r in rows)
    for row, rec in zip(rows, catalog.records, strict=True):
        cells = row["cells"]
        cell = {key: cells[i] for key, i in COLUMN.items()}
        assert cell["id"]["text"] == rec["id"] and cell["learned"]["text"] == format_learned(rec["learned"])
        assert cell["kind"]["sort"] == rec["kind"] == row["attrs"]["data-kind"]
        order = rec["escape_order"]
        assert cell["escape_order"]["sort"] == ("" if order is None else str(order))
        assert row["attrs"]["data-order"] == ("none" if order is None else str(order))
        assert [int(cell[k]["text"]) for k in ("negative", "zero", "positive")] == [
            rec["hessian"][k] for k in ("negative", "zero", "positive")]
        assert float(cell["critical_value"]["sort"]) == rec["critical_value"]  # exactly: the value to sort by
        assert float(cell["critical_value"]["text"]) == pytest.approx(rec["critical_value"], rel=1e-5, abs=1e-12)
        for key in ("unstable_dim", "stable_dim"):
            assert cell[key]["sort"] == ("" if rec.get(key) is None else str(rec[key]))
        assert cell["stratum"]["text"] == rec.get("stratum", "")


def test_header_counts_and_provenance(page, tmp_path):
    catalog, html = page
    m = catalog.manifest
    assert f'<b id="n-strata">{len(catalog)}</b>' in html
    assert f'<b id="widths">{", ".join(map(str, m["parameters"]["widths"]))}</b>' in html
    by_class = re.search(r'<ul id="by-class">(.*?)</ul>', html).group(1)
    for kind, n in m["counts"].items():
        assert re.search(rf'<span class="dot {kind}"></span>{n} ', by_class), kind
    orders = Counter(r["escape_order"] for r in catalog.records)
    by_order = re.search(r'<ul id="by-order">(.*?)</ul>', html).group(1)
    assert sum(int(n) for n in re.findall(r"<li>(\d+) ", by_order)) == len(catalog)
    for order, n in orders.items():
        assert (f"<li>{n} of escape order {order}</li>" if order is not None else f"<li>{n} without one") in by_order
    assert m["command"] in html and m["created_at"] in html
    (tmp_path / "copy.html").write_text(html, encoding="utf-8")
    provenance = page_provenance(tmp_path / "copy.html")  # read back as the command reads a file it may replace
    assert provenance["parameters"]["catalog_checksum"] == m["checksums"]["manifest.json"]


def test_self_contained(page):
    _, html = page
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html) and not re.search(r"\bsrc=", html)
    assert set(re.findall(r'href="(.)', html)) <= {"#"}  # only links within the page
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg"}  # a namespace, never fetched


def test_each_record_has_one_section_with_the_weights_of_its_point(page):
    """The drawing is the point: one edge per nonzero weight A[j, k] of the mask, its tooltip the weight,
    red for a positive and blue for a negative one (the diverging map's two ends)."""
    catalog, html = page
    sections = re.findall(r'<section class="record" id="([^"]+)">(.*?)</section>', html, re.S)
    assert [sid for sid, _ in sections] == [rec["id"] for rec in catalog.records]
    top = layered(catalog.manifest["parameters"]["widths"])
    for (_, body), rec in list(zip(sections, catalog.records))[:150]:  # the first 150 of the large catalog suffice
        A = catalog.point(rec)
        drawn = {(int(j), int(k)): (float(w), color) for color, j, k, w in EDGE.findall(body)}
        assert set(drawn) == {(j, k) for j, k in zip(*np.nonzero(top.mask)) if A[j, k] != 0}
        for (j, k), (w, color) in drawn.items():
            assert w == pytest.approx(A[j, k], rel=1e-3)
            r, _, b = to_rgb(color)
            assert (r > b) == (A[j, k] > 0), (rec["id"], j, k, A[j, k], color)
        n_dirs = len(rec.get("unstable_directions") or []) + len(rec.get("stable_directions") or [])
        assert body.count("<td>unstable</td>") + body.count("<td>stable</td>") == n_dirs
        assert body.count(">verified</td>") == sum(d["verified"] for side in ("unstable_directions", "stable_directions")
                                                   for d in rec.get(side) or [])


def test_network_svg_draws_every_edge_of_a_skip_topology():
    import networkx as nx

    from geodln.network.topology import Topology

    G = nx.DiGraph([("x", "h"), ("h", "y"), ("x", "y")])
    top = Topology.from_graph(G, inputs=["x"], outputs=["y"])
    A = top.mask * np.array([2.0, -1.0, 0.5])[:, None]  # one nonzero weight per edge, each row one sign
    svg = network_svg(top, A)
    assert len(EDGE.findall(svg)) == 3 and svg.count("<circle ") == 3
    assert svg.count("L") == 1 + 1 + 23  # two straight edges, and the skip edge x -> y an arc of 24 points
    arc = max(re.findall(r'd="M([^"]+)"', svg), key=len)
    assert all(0 <= float(v) for point in arc.split("L") for v in point.split())  # the arc stays in the picture
    with pytest.raises(ValueError, match="must be"):
        network_svg(top, np.zeros((2, 2)))


def test_text_is_escaped():
    catalog = build_catalog([2, 2, 2], [3.0, 1.0])
    evil = '<img src=x onerror="alert(1)">&'
    catalog.records[0]["stratum"] = evil
    catalog.manifest["command"] = evil
    html = explorer_html(catalog, {"geodln_version": "0", "command": "</script><script>alert(2)</script>"})
    assert evil not in html and "alert(2)</script>" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;" in html
    assert parse_rows(html)[0]["cells"][COLUMN["stratum"]]["text"] == evil


def test_refuses_to_overwrite_without_force(tmp_path, capsys):
    small, other = (str(p) for p in CATALOGS[:2])
    out = tmp_path / "page.html"
    assert main(["explore", small, "-o", str(out)]) == 0
    first = out.read_bytes()
    assert main(["explore", small, "-o", str(out)]) == 0  # the same page: nothing written
    assert "nothing written" in capsys.readouterr().out and out.read_bytes() == first
    assert main(["explore", other, "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_bytes() == first
    assert main(["explore", other, "-o", str(out), "--force"]) == 0
    assert parse_rows(out.read_text())[0]["id"] and out.read_bytes() != first
    assert page_provenance(out)["parameters"]["catalog"] == other
    assert not [p for p in tmp_path.iterdir() if p.name != "page.html"]  # no temporary file or lock left


def test_refuses_a_file_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "notes.html"
    out.write_text("<html><body>my notes</body></html>")
    link = tmp_path / "link.html"
    link.symlink_to(out)
    for target in (out, link, tmp_path):
        assert main(["explore", str(CATALOGS[0]), "-o", str(target), "--force"]) == 2
        assert "refusing" in capsys.readouterr().err
    assert out.read_text() == "<html><body>my notes</body></html>" and link.is_symlink()


def test_clear_error_on_what_is_not_a_catalog(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.json").write_text("{}")
    for bad in ("folder", "file.json", "missing"):
        assert main(["explore", bad]) == 2
        assert "manifest.json" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.json", "folder"]  # nothing written
    assert main(["explore", str(CATALOGS[0])]) == 0  # the default output: NAME.html here
    assert (tmp_path / f"{CATALOGS[0].name}.html").is_file()
