"""``geodln saddles``: fill in the verified stable and unstable directions of every saddle of a catalog.

The catalog is rewritten once, at the end (schema 2), by
:func:`geodln.catalog.verify.fill_saddles`; each saddle verified meanwhile is
saved in the checkpoint beside it (:class:`geodln.catalog.verify.Checkpoint`),
so an interrupted run resumes there. A catalog whose directions this version
of geodln verified already is left as it is (``--force`` verifies again).
Exit code 1 when a direction could not be verified.
"""

from __future__ import annotations

from pathlib import Path

from ..io.files import output_lock
from ..io.parallel import scheduler_client
from .options import add_verification_engine

__all__ = ["NAME", "HELP", "DESCRIPTION", "add_arguments", "run"]

NAME = "saddles"
HELP = "fill in the stable and unstable directions of every saddle of a catalog"
DESCRIPTION = ("For every saddle of an existing catalog, find its stable and unstable directions "
               "(Hessian on the horizontal space; escape paths at nonstrict saddles), verify each by integrating "
               "the flow, and rewrite the catalog (schema 2) atomically.")


def add_arguments(parser) -> None:
    """The options of ``geodln saddles``."""
    parser.add_argument("--catalog", type=Path, required=True, help="the catalog directory")
    parser.add_argument("--quiet", action="store_true", help="no progress report")
    parser.add_argument("--force", action="store_true",
                        help="verify again although this version of geodln verified every direction already")
    add_verification_engine(parser)


def run(args, argv) -> int:
    """Verify the saddles of ``--catalog``; 0 when every direction is verified, else 1."""
    from ..catalog.store import Catalog
    from ..catalog.verify import Checkpoint, fill_saddles, verified_already

    previous = Catalog.load(args.catalog)
    if verified_already(previous) and not args.force:  # the same result: nothing recomputed, nothing written
        info = previous.manifest["saddles"]
        print(f"{args.catalog}: all {info['n_directions']} directions already verified by this version "
              f"(`{info.get('command', '?')}`); nothing written (--force verifies again)")
        return 0
    checkpoint = Checkpoint(args.catalog)
    with output_lock(args.catalog):  # the catalog is rewritten once, at the end, in one step
        with scheduler_client(args.scheduler) as client:
            catalog = fill_saddles(args.catalog, progress=not args.quiet, argv=argv, checkpoint=checkpoint.folder,
                                   client=client, workers=args.workers, spill=checkpoint.spill)
        checkpoint.remove()
    info = catalog.manifest["saddles"]
    print(f"{info['n_verified']}/{info['n_directions']} directions verified at "
          f"{sum(r['kind'] != 'global_minimum' for r in catalog.records)} saddles; wrote {catalog.path}")
    return 0 if info["n_verified"] == info["n_directions"] else 1
