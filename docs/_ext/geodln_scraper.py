"""The gallery's image scraper: geodln's figures are matplotlib Figures made without pyplot.

``geodln.plots`` builds every figure with the object-oriented API, so pyplot's
figure manager (which sphinx-gallery's own matplotlib scraper reads) never
sees them. This scraper saves every ``Figure`` an example leaves among its
global variables instead, once each, in the order the example made them, as
the PNG that ``geodln figures`` writes (:func:`geodln.plots.figure_bytes`), so
that the gallery's pictures can be compared with ``figures/``.
"""

import weakref

from pathlib import Path

from matplotlib.figure import Figure
from sphinx_gallery.scrapers import figure_rst

from geodln.plots import figure_bytes

_SAVED = weakref.WeakSet()  # figures already shown by an earlier code block of the example


def scrape_figures(block, block_vars, gallery_conf):
    """Save the example's new figures to the gallery's image paths and return their reST."""
    figures = [value for value in block_vars["example_globals"].values()
               if isinstance(value, Figure) and value not in _SAVED]
    paths = []
    for fig, path in zip(figures, block_vars["image_path_iterator"]):
        Path(path).write_bytes(figure_bytes(fig, "png"))
        _SAVED.add(fig)
        paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"]) if paths else ""


def _get_sg_image_scraper():
    """The hook sphinx-gallery calls when ``image_scrapers`` names this module."""
    return scrape_figures
