"""``geodln figures``: regenerate the numbered gallery (:func:`geodln.plots.gallery.make_gallery`)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["NAME", "HELP", "DESCRIPTION", "add_arguments", "run"]

NAME = "figures"
HELP = "regenerate the numbered figure gallery"
DESCRIPTION = ("Make the gallery figures (each as OUT/NN-name.png and .pdf) and, for a full run, "
               "OUT/README.md with their captions. Deterministic for a seed.")


def add_arguments(parser) -> None:
    """The options of ``geodln figures``."""
    parser.add_argument("--only", nargs="+", metavar="NAME", help="make only these figures (e.g. network phase-depth2)")
    parser.add_argument("--out", type=Path, default=Path("figures"), help="output folder (default figures)")
    parser.add_argument("--force", action="store_true", help="replace figure files in --out that differ from the new ones")
    parser.add_argument("--format", default="png,pdf", help="comma-separated formats: png, pdf, svg (default png,pdf)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress report")


def run(args, argv) -> int:
    """Make the figures; matplotlib is imported only here."""
    from ..plots.gallery import make_gallery

    written = make_gallery(args.out, only=args.only, formats=args.format.split(","), seed=args.seed,
                           progress=not args.quiet, force=args.force)
    print(f"wrote {len(written)} files to {args.out}")
    return 0
