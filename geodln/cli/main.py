"""The ``geodln`` command: one parser built from the command modules, one dispatch, one error policy.

Each command is a module of :mod:`geodln.cli` that declares

- ``NAME``, ``HELP`` (its line in ``geodln --help``) and ``DESCRIPTION`` (of ``geodln NAME --help``),
- ``add_arguments(parser)``: its options, on its own sub-parser,
- ``run(args, argv) -> int``: the work, returning the exit code (``argv`` goes into the provenance of what it writes),
- optionally ``KEPT_ON_INTERRUPT``: what an interrupted run leaves (default: the output as it was).

A new command is one such module added to :data:`COMMANDS`. :func:`main`
turns the errors every command may raise into exit codes: 2 for a bad option
value, file or parameter (``ValueError``, ``OSError``; argparse's usage errors
too), 3 when the checks of a classification disagree, 130 on Ctrl-C.
No command overwrites an earlier result without ``--force``; every output is
written aside and swapped in as one unit (:mod:`geodln.io.files`).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import ClassificationError
from ..io.files import package_version
from . import catalog, classify, explore, figures, flow, laws, saddles, sweep

__all__ = ["main", "build_parser", "COMMANDS"]

# In the order of `geodln --help`.
COMMANDS = (flow, catalog, saddles, explore, figures, laws, classify, sweep)
KEPT_BY_DEFAULT = "the output folder holds what it held before the run"


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``geodln``: one sub-parser per module of :data:`COMMANDS`, chosen as ``args.command``."""
    parser = argparse.ArgumentParser(prog="geodln", description="Gradient flow of deep linear networks.")
    parser.add_argument("--version", action="version", version=f"geodln {package_version('geodln')}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_arguments(sub.add_parser(command.NAME, help=command.HELP, description=command.DESCRIPTION))
    return parser


def main(argv=None) -> int:
    """Entry point of the ``geodln`` console script: parse, run the command, turn its errors into exit codes."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    command = next(c for c in COMMANDS if c.NAME == args.command)
    try:
        return command.run(args, argv)
    except KeyboardInterrupt:
        kept = getattr(command, "KEPT_ON_INTERRUPT", KEPT_BY_DEFAULT)
        print(f"geodln {args.command}: interrupted; {kept}", file=sys.stderr)
        return 130
    except (ValueError, OSError) as err:
        print(f"geodln {args.command}: error: {err}", file=sys.stderr)
        return 2
    except ClassificationError as err:  # a consistency check failed: report it, do not guess
        print(f"geodln {args.command}: the checks disagree, nothing written: {err}", file=sys.stderr)
        return 3
