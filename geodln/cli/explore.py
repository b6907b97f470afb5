"""``geodln explore``: a catalog as one self-contained HTML page, to browse without writing code.

The page (:func:`geodln.plots.explorer.explorer_html`) has a sortable,
filterable table of strata and, per record, the network at its
representative point and its verified directions; its CSS, script and
drawings are inline, so it opens offline. The file is written atomically; a
file that geodln did not write is never replaced, a page of geodln's only
with ``--force`` (the page of the same catalog by the same version is the
same result: nothing is written).
"""

from __future__ import annotations

from pathlib import Path

from ..io.files import atomic_path, output_lock, package_version, provenance

__all__ = ["NAME", "HELP", "DESCRIPTION", "KEPT_ON_INTERRUPT", "add_arguments", "run"]

NAME = "explore"
HELP = "write a catalog as one browsable, self-contained HTML page"
DESCRIPTION = ("Write one static HTML file (no CDN, nothing fetched; inline CSS, script and SVG) for a catalog: "
               "its architecture, spectrum, counts and provenance, a sortable table of strata filterable by text, "
               "class and escape order (also from the address: ?class=strict_saddle&order=3&q=v1), and per record "
               "the network at its representative point and its verified stable/unstable directions.")

KEPT_ON_INTERRUPT = "the output file holds what it held before the run"


def add_arguments(parser) -> None:
    """The options of ``geodln explore``."""
    parser.add_argument("catalog", type=Path, metavar="CATALOG", help="the catalog directory (e.g. catalogs/default)")
    parser.add_argument("-o", "--out", type=Path, default=None,
                        help="the HTML file to write (default: NAME.html in the current folder, NAME the catalog's)")
    parser.add_argument("--force", action="store_true", help="replace a page that geodln explore wrote earlier")


def run(args, argv) -> int:
    """Write the page of ``args.catalog`` to ``args.out``; refuse a file that is not a page of geodln's."""
    from ..catalog.store import Catalog
    from ..plots.explorer import explorer_html, page_provenance

    catalog = Catalog.load(args.catalog)  # a clear error when it is not a catalog, before anything is written
    out = args.out if args.out is not None else Path(f"{args.catalog.resolve().name}.html")
    _check_target(out)
    source = {"catalog": str(args.catalog), "catalog_checksum": catalog.manifest["checksums"]["manifest.json"]}
    with output_lock(out):
        previous = page_provenance(out) if out.exists() else None
        if out.exists() and previous is None:
            raise ValueError(f"{out} exists and was not written by geodln explore: refusing to overwrite it "
                             "(choose another -o/--out)")
        if previous is not None and not args.force:
            if (previous.get("parameters", {}).get("catalog_checksum") == source["catalog_checksum"]
                    and previous.get("geodln_version") == package_version("geodln")):
                print(f"{out} already holds the page of this catalog (`{previous.get('command', '?')}`): "
                      "nothing written (--force writes it again)")
                return 0
            raise ValueError(f"{out} holds the page of another catalog or version "
                             f"(`{previous.get('command', '?')}`); pass --force to replace it, or choose another -o")
        page = explorer_html(catalog, provenance(argv, **source))
        with atomic_path(out) as tmp:
            tmp.write_text(page, encoding="utf-8")
    print(f"{len(catalog)} strata; wrote {out} ({len(page.encode()) / 1e6:.1f} MB)")
    return 0


def _check_target(out: Path) -> None:
    """Refuse an output that is a folder or a symbolic link (the page would replace the link, not its target)."""
    if out.is_symlink():
        raise ValueError(f"{out} is a symbolic link: refusing to replace it (give the file it points to, or another -o)")
    if out.exists() and not out.is_file():
        raise ValueError(f"{out} exists and is not a file: refusing to replace it (choose another -o/--out)")
