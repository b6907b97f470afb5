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
exclude_patterns = ["_build", "**.ipynb_checkpoints", "examples/GALLERY_HEADER.rst"]
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
