"""Sphinx configuration of geodln's documentation (offline: no intersphinx, no CDN).

Build (warnings are errors, the gallery is executed)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the gallery draws off screen

try:  # an installed or PYTHONPATH geodln first; else the source tree beside docs/
    import geodln
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import geodln

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))  # the gallery's image scraper

project = "geodln"
author = "geodln authors"
copyright = "2025-2026, geodln authors"
release = geodln.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "examples/GALLERY_HEADER.rst", "_catalogs"]
root_doc = "index"

# API reference: one page per public name, written by autosummary from the
# docstrings and rendered by numpydoc (class members are listed by the
# autosummary class template, not a second time by numpydoc).
autosummary_generate = True
autosummary_imported_members = True
autodoc_preserve_defaults = True  # signatures show ``Tolerances()``, not its long repr
autodoc_typehints = "none"  # the numpydoc Parameters sections give the types and shapes
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# The gallery: one short script per figure of ``geodln figures``, run at every build.
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "reference_url": {},
    "show_memory": False,
    "write_computation_times": False,  # its page loads jQuery and DataTables from CDNs
    "plot_gallery": "True",
    "image_scrapers": ("geodln_scraper",),
    "abort_on_example_error": True,
}

html_theme = "alabaster"
html_theme_options = {
    "description": "Gradient flow and loss landscape of deep linear networks",
    "fixed_sidebar": True,
    "page_width": "1180px",
    "sidebar_width": "250px",
    "show_relbars": True,
}
html_title = f"geodln {release}"
html_static_path = []
html_show_sourcelink = False

# Browsable catalogs: every shipped catalog as one self-contained page written by ``geodln explore``
# (sortable, filterable, the network at each record) into the site as ``catalogs/NAME.html``, and listed
# on ``catalogs.rst`` by a table this build writes (``_catalogs/list.rst``, not in git).
import json  # noqa: E402
import subprocess  # noqa: E402

SHIPPED = Path(geodln.__file__).resolve().parents[1] / "catalogs"


def _catalog_pages(app) -> None:
    """Write each shipped catalog's page with the ``geodln explore`` command and list them in an rst table."""
    pages = Path(app.outdir) / "catalogs"
    pages.mkdir(parents=True, exist_ok=True)
    rows = []
    for folder in sorted(p for p in SHIPPED.iterdir() if (p / "manifest.json").is_file()):
        subprocess.run([sys.executable, "-m", "geodln.cli", "explore", str(folder), "-o", str(pages / f"{folder.name}.html"),
                        "--force"], check=True, capture_output=True, text=True)
        manifest = json.loads((folder / "manifest.json").read_text())
        counts = manifest.get("counts", {})
        widths = ",".join(map(str, manifest["parameters"]["widths"]))
        spectrum = ",".join(f"{s:g}" for s in manifest["parameters"]["spectrum"])
        rows.append(f"   * - `{folder.name} <catalogs/{folder.name}.html>`__\n     - {widths}\n     - {spectrum}\n"
                    f"     - {manifest['n_records']}\n     - {counts.get('strict_saddle', 0)}\n"
                    f"     - {counts.get('nonstrict_saddle', 0)}\n")
    listing = Path(app.srcdir) / "_catalogs"
    listing.mkdir(exist_ok=True)
    (listing / "list.rst").write_text(
        ".. list-table::\n   :header-rows: 1\n\n   * - catalog\n     - widths\n     - singular values\n"
        "     - strata\n     - strict saddles\n     - nonstrict saddles\n" + "".join(rows))


def setup(app):
    app.connect("builder-inited", _catalog_pages)
