"""The documentation site: it builds with warnings as errors (the ``built_docs`` fixture of conftest), its API
reference names every public name, its gallery is executed and draws the figures of ``geodln figures``, it
loads nothing from the network, and every example of the user guide runs: the ``>>>`` blocks as doctests, then
the ``geodln`` commands of its ``bash`` blocks, in a fresh folder, in the order of the page, twice (the second
run changes nothing)."""

import doctest
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sphinx.util.inventory import InventoryFile

import geodln

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GUIDE = sorted(p for p in (DOCS / "guide").glob("*.rst") if p.name != "index.rst")
PUBLIC_SUBPACKAGES = ("init", "symmetry", "laws", "geometry", "plots", "sweeps")
BUILD_COMMAND = "python -m sphinx -W --keep-going -b html docs docs/_build/html"
MEASUREMENTS = {"plot_13_scaling": ROOT / "tests" / "benchmarks" / "results" / "scaling.json"}
"""Gallery scripts that draw measurements the repository ships (not ``geodln figures``): script -> the file."""


def gallery_stem(figure) -> str:
    """The gallery script of a ``geodln figures`` figure, without ``.py``."""
    return f"plot_{figure.number:02d}_{figure.name.replace('-', '_')}"


def public_names() -> list[str]:
    """Every public name: ``geodln.X`` for X in ``geodln.__all__``, ``geodln.M.Y`` for Y in the subpackages' ``__all__``."""
    names = [f"geodln.{name}" for name in geodln.__all__]
    for package in PUBLIC_SUBPACKAGES:
        names += [f"geodln.{package}.{name}" for name in getattr(geodln, package).__all__]
    return names


def documented_objects(html: Path) -> set[str]:
    """The Python objects the built site documents (its ``objects.inv``)."""
    with open(html / "objects.inv", "rb") as f:
        inventory = InventoryFile.load(f, "", lambda base, uri: uri)
    return {name for kind, entries in inventory.items() if kind.startswith("py:") for name in entries}


def test_every_public_name_is_in_the_api_reference(built_docs):
    documented = documented_objects(built_docs)
    missing = [name for name in public_names() if name not in documented]
    assert not missing, f"public names without an API page: {missing}"
    assert len(public_names()) > 100  # the subpackages were read, not only geodln's own list


def test_the_api_pages_render_numpydoc_sections(built_docs):
    page = (built_docs / "generated" / "geodln.nearest_critical_point.html").read_text()
    for section in ("Parameters", "Returns", "Raises", "See also"):
        assert section in page
    assert "geodln.analyze_point.html" in page  # the See also entry is a link
    methods = (built_docs / "generated" / "geodln.GradientFlow.html").read_text()
    assert 'id="geodln.GradientFlow.integrate"' in methods


def test_the_gallery_is_executed_with_its_captions(built_docs):
    from geodln.plots.gallery import GALLERY

    for figure in GALLERY:
        stem = gallery_stem(figure)
        page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", (built_docs / "auto_examples" / f"{stem}.html").read_text()))
        assert f"{figure.number}. {figure.title}" in page
        assert (built_docs / "_images" / f"sphx_glr_{stem}_001.png").stat().st_size > 10_000
        assert f"geodln figures --only {figure.name}" in page


def test_the_pages_load_nothing_from_the_network(built_docs):
    remote = re.compile(r"""<(?:script|link|img|iframe)[^>]*(?:src|href)=["'](?:https?:)?//""", re.I)
    offenders = [str(p.relative_to(built_docs)) for p in built_docs.rglob("*.html") if remote.search(p.read_text())]
    assert not offenders, f"pages that load a remote resource: {offenders[:5]}"


def test_the_build_command_is_documented():
    assert BUILD_COMMAND in (ROOT / "README.md").read_text()
    assert BUILD_COMMAND in (DOCS / "index.rst").read_text()
    from conftest import DOCS_BUILD

    assert " ".join(DOCS_BUILD) in BUILD_COMMAND  # the fixture builds as the documented command does


def test_each_gallery_script_draws_the_shipped_figure(built_docs):
    """The script a user copies (run by the build) makes the same picture as ``geodln figures`` (figures/NN-name.png)."""
    from geodln.plots.gallery import GALLERY
    from geodln.plots.style import same_picture

    for figure in GALLERY:
        stem = gallery_stem(figure)
        drawn = (built_docs / "_images" / f"sphx_glr_{stem}_001.png").read_bytes()
        shipped = (ROOT / "figures" / f"{figure.stem}.png").read_bytes()
        assert same_picture(shipped, drawn), f"{stem}.py draws another picture than figures/{figure.stem}.png"


def test_every_gallery_script_is_a_figure_or_a_measurement():
    from geodln.plots.gallery import GALLERY

    figures = {gallery_stem(figure) for figure in GALLERY}
    scripts = {p.stem for p in (DOCS / "examples").glob("plot_*.py")}
    assert not figures & MEASUREMENTS.keys()
    assert scripts == figures | MEASUREMENTS.keys(), "a gallery script neither in GALLERY nor in MEASUREMENTS"
    assert all(path.is_file() for path in MEASUREMENTS.values())


def test_the_scaling_script_draws_the_shipped_measurements(built_docs):
    """Its picture is ``plot_scaling`` of the shipped results file (the build measures nothing), with its caption."""
    from geodln.plots import figure_bytes, load_scaling, plot_scaling
    from geodln.plots.style import same_picture

    stem = "plot_13_scaling"
    drawn = (built_docs / "_images" / f"sphx_glr_{stem}_001.png").read_bytes()
    assert same_picture(figure_bytes(plot_scaling(load_scaling(MEASUREMENTS[stem])), "png"), drawn)
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", (built_docs / "auto_examples" / f"{stem}.html").read_text()))
    assert "This build does not measure anything" in page and "tests/benchmarks/results/scaling.json" in page


def bash_commands(text: str) -> list[str]:
    """The ``geodln ...`` lines of the page's ``.. code-block:: bash`` blocks, in order."""
    blocks = re.findall(r"\.\. code-block:: bash\n\n((?:[ \t]+\S.*\n|\n)+)", text)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip().startswith("geodln ")]


@pytest.mark.parametrize("page", GUIDE, ids=lambda p: p.stem)
def test_the_user_guide_examples_run(page, tmp_path, monkeypatch):
    shutil.copytree(ROOT / "catalogs" / "default", tmp_path / "catalogs" / "default")  # what a fresh clone holds
    monkeypatch.chdir(tmp_path)
    text = page.read_text()
    test = doctest.DocTestParser().get_doctest(text, {}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
    snapshots = []
    for attempt in range(2):  # rerunning a finished command changes nothing (the promise of the reproducibility page)
        for command in bash_commands(text):
            proc = subprocess.run([sys.executable, "-m", "geodln.cli", *shlex.split(command)[1:]], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"run {attempt + 1} of `{command}` failed:\n{proc.stderr[-3000:]}"
        snapshots.append({str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()})
    assert snapshots[1] == snapshots[0], "a second run of the page's commands changed its files"


def test_every_guide_page_has_an_example():
    for page in GUIDE:
        text = page.read_text()
        assert ">>> " in text or bash_commands(text) or page.stem == "architecture", page.name
