"""Pages in a real browser (headless Chromium): they render, and a catalog page's filters and sorting work.

The catalog page of ``geodln explore`` is opened from disk with its filters in
the address (``?class=strict_saddle``, ``?order=3``, ``?q=v1[0,1]``, ``?sort=critical_value&dir=desc``);
after its script ran, the DOM shows exactly the rows of the catalog's records
that pass the filter, in the order asked for. A screenshot shows the table
(looked at when the test was written; here checked to be a picture of the
asked size with a table's many shades, not a blank page).
"""

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from browser import dump_dom, file_url, parse_rows, screenshot

from geodln.catalog.store import Catalog
from geodln.cli.main import main

CATALOGS = Path(__file__).resolve().parents[1] / "catalogs"
SHOWN = "w2-2-2-2_s3-1"  # 26 strata of all three classes and escape orders 2 and 3


@pytest.fixture(scope="module")
def catalog_page(tmp_path_factory):
    """(catalog, path of its page) of a shipped catalog, written by ``geodln explore``."""
    out = tmp_path_factory.mktemp("explore") / f"{SHOWN}.html"
    assert main(["explore", str(CATALOGS / SHOWN), "-o", str(out)]) == 0
    return Catalog.load(CATALOGS / SHOWN), out


def _visible(dom: str) -> list[str]:
    return [r["id"] for r in parse_rows(dom) if not r["hidden"]]


def test_catalog_table_renders(catalog_page, tmp_path):
    catalog, page = catalog_page
    dom = dump_dom(file_url(page), tmp_path / "profile")
    assert 'data-ready="true"' in dom.split(">", 2)[1]  # <html ...>: the page's script ran to its end
    assert _visible(dom) == [rec["id"] for rec in catalog.records]
    assert f'<b id="n-shown">{len(catalog)}</b>' in dom


@pytest.mark.parametrize("query, keep", [
    ({"class": "strict_saddle"}, lambda r: r["kind"] == "strict_saddle"),
    ({"class": "nonstrict_saddle"}, lambda r: r["kind"] == "nonstrict_saddle"),
    ({"class": "global_minimum"}, lambda r: r["kind"] == "global_minimum"),
    ({"order": "3"}, lambda r: r["escape_order"] == 3),
    ({"order": "none"}, lambda r: r["escape_order"] is None),
    ({"class": "strict_saddle", "order": "2"}, lambda r: r["kind"] == "strict_saddle" and r["escape_order"] == 2),
    ({"q": "v1[0,1]"}, lambda r: "v1[0,1]" in r["stratum"]),
    ({"q": "no such stratum"}, lambda r: False),
], ids=["strict", "nonstrict", "minimum", "order-3", "no-order", "strict-order-2", "text", "nothing"])
def test_a_filter_in_the_address_hides_exactly_the_other_rows(catalog_page, tmp_path, query, keep):
    catalog, page = catalog_page
    dom = dump_dom(file_url(page, query), tmp_path / "profile")
    expected = [rec["id"] for rec in catalog.records if keep(rec)]
    assert expected or query["q"] == "no such stratum"  # each filter but the last keeps some rows
    assert len(expected) < len(catalog)  # ... and hides some
    assert _visible(dom) == expected
    assert len(parse_rows(dom)) == len(catalog)  # hidden, not removed
    assert f'<b id="n-shown">{len(expected)}</b>' in dom


def test_a_sort_in_the_address_orders_the_rows(catalog_page, tmp_path):
    catalog, page = catalog_page
    dom = dump_dom(file_url(page, {"sort": "critical_value", "dir": "desc", "class": "strict_saddle"}),
                   tmp_path / "profile")
    index = {rec["id"]: i for i, rec in enumerate(catalog.records)}
    values = {rec["id"]: rec["critical_value"] for rec in catalog.records}
    shown = _visible(dom)
    # by decreasing L_J, ties in the catalog's order: the sort is stable
    assert shown == sorted(shown, key=lambda rid: (-values[rid], index[rid]))
    assert len(set(values[r] for r in shown)) > 1 and 'aria-sort="descending"' in dom


def test_screenshot_shows_the_page(catalog_page, tmp_path):
    catalog, page = catalog_page
    rec = next(r for r in catalog.records if r["kind"] == "global_minimum")  # every weight nonzero
    png = screenshot(file_url(page, fragment=rec["id"]), tmp_path / "page.png", tmp_path / "profile", size=(1400, 1000))
    image = mpimg.imread(png)
    assert image.shape[:2] == (1000, 1400)
    shades = np.unique((image[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(shades) > 50  # text, coloured class dots and weighted edges, not a blank or error page
    # the coloured edges of the drawn network: pixels far from grey (the drawing of a record is shown)
    rgb = image[..., :3]
    assert (rgb.max(axis=-1) - rgb.min(axis=-1) > 0.4).sum() > 200
