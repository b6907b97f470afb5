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


def _shades(png: Path) -> int:
    """How many distinct grey levels a screenshot holds (a blank or unstyled page has a handful)."""
    image = mpimg.imread(png)
    return len(np.unique(np.round(image[..., :3].mean(axis=2) * 255)))


@pytest.mark.parametrize("page, expected", [
    ("index.html", ["User guide", "Browse the shipped catalogs", "API reference"]),
    ("guide/classify.html", ["Classify your own trained weights", "nearest_critical_point", "NotCriticalError"]),
    ("catalogs.html", [f"catalogs/{folder.name}.html" for folder in sorted(CATALOGS.iterdir())
                       if (folder / "manifest.json").is_file()]),
], ids=["index", "guide", "catalog-list"])
def test_the_documentation_site_renders(built_docs, tmp_path, page, expected):
    """The built site's index, a user-guide page and the catalog list render in the browser with their
    navigation (sidebar, links) and content; the screenshot is a styled page, not a blank one."""
    dom = dump_dom(file_url(built_docs / page), tmp_path / "profile")
    missing = [text for text in expected if text not in dom]
    assert not missing, f"{page} rendered without {missing}"
    assert 'class="sphinxsidebar"' in dom and "geodln" in dom.split("<title>", 1)[1].split("</title>", 1)[0]
    png = screenshot(file_url(built_docs / page), tmp_path / "page.png", tmp_path / "profile-shot", size=(1200, 900))
    assert mpimg.imread(png).shape[:2] == (900, 1200) and _shades(png) > 20


def test_a_catalog_page_of_the_site_filters(built_docs, tmp_path):
    """The site's copy of a shipped catalog's page is the explorer: its address filter keeps exactly the
    catalog's nonstrict saddles."""
    catalog = Catalog.load(CATALOGS / "default")
    dom = dump_dom(file_url(built_docs / "catalogs" / "default.html", {"class": "nonstrict_saddle"}),
                   tmp_path / "profile")
    assert _visible(dom) == [rec["id"] for rec in catalog.records if rec["kind"] == "nonstrict_saddle"]
