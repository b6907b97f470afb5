"""What several ``geodln`` commands share: argument types, option groups and the reading of data files.

``--widths 4,3,2,1`` and ``--spectrum 3,2,1`` are read by one type,
:func:`comma_list`; ``--spectrum | --data`` (flow, classify) and
``--workers | --scheduler`` (catalog, saddles) are one option group each, so
that their help text is written once.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..network.data import Data
from ..sweeps.grid import parse_numbers

__all__ = ["comma_list", "add_data_options", "add_verification_engine", "load_data", "add_memory_limit", "check_memory", "format_spectrum"]

DEFAULT_SPECTRUM = [3.0, 2.0, 1.0]  # the singular values of Syx when neither --spectrum nor --data is given


def comma_list(kind):
    """An argparse type: a comma list of ``kind`` through :func:`geodln.sweeps.grid.parse_numbers`
    (the one reader of ``--widths``, ``--spectrum`` and ``--scale`` in every command)."""
    def parse(text: str) -> list:
        try:
            return parse_numbers(text, kind, "value")
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return parse


def add_data_options(parser) -> None:
    """``--spectrum S | --data FILE``: synthetic whitened data of a spectrum, or a user's ``.npz``."""
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--spectrum", type=comma_list(float), help="singular values of Syx for whitened synthetic data (default 3,2,1)")
    src.add_argument("--data", type=Path, help="an .npz file with arrays X (d_in, N) and Y (d_out, N)")


def add_verification_engine(parser) -> None:
    """``--workers`` / ``--scheduler``: where the saddles are verified (on Dask, in batches of saddles)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None,
                       help="verify the saddles on a local Dask cluster of N one-thread processes (default: serially)")
    where.add_argument("--scheduler", metavar="ADDR", help="verify the saddles on a running Dask scheduler, "
                       "e.g. tcp://HOST:8786")


def _npz(path):
    """An opened ``.npz`` archive, or a ValueError (never numpy's advice to unpickle a data file)."""
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a .npz archive of arrays (np.savez writes one): {type(err).__name__}") from None


def load_data(args, top) -> Data:
    """The data the options name: ``args.data`` (arrays ``X`` (d_in, N), ``Y`` (d_out, N)), else
    ``Data.from_spectrum(args.spectrum or 3,2,1, d_in, d_out, seed=args.seed)`` for the topology ``top``."""
    if args.data is not None:
        with _npz(args.data) as arrays:
            missing = {"X", "Y"} - set(arrays.files)
            if missing:
                raise ValueError(f"{args.data} lacks the arrays {sorted(missing)}; it needs X (d_in, N) and Y (d_out, N)")
            return Data(arrays["X"], arrays["Y"])
    spectrum = args.spectrum if args.spectrum is not None else DEFAULT_SPECTRUM
    return Data.from_spectrum(spectrum, top.widths[0], top.widths[-1], seed=args.seed)


def add_memory_limit(parser, what: str) -> None:
    """``--memory-limit GB``: refuse a run whose stated memory (``what`` needs it) exceeds it."""
    parser.add_argument("--memory-limit", type=float, metavar="GB",
                        help=f"refuse when {what} needs more than this many GB (default: the machine's "
                             "available memory, MemAvailable of /proc/meminfo)")


def check_memory(command: str, what: str, need: int, limit_gb: float | None) -> None:
    """State on stderr the memory ``what`` needs (an upper bound) before it starts, and refuse with a
    ``ValueError`` when it exceeds ``limit_gb`` (default: the machine's available memory)."""
    import sys

    limit, source = (_available_memory(), "available (MemAvailable)") if limit_gb is None else (limit_gb * 1e9, "--memory-limit")
    print(f"geodln {command}: {what} needs at most {need / 1e9:.3g} GB"
          + ("" if limit is None else f", {limit / 1e9:.3g} GB {source}"), file=sys.stderr)
    if limit is not None and need > limit:
        raise ValueError(f"{what} needs up to {need / 1e9:.3g} GB, more than the {limit / 1e9:.3g} GB {source}: run it on "
                         "a machine with more memory, or raise --memory-limit to try anyway")


def _available_memory() -> float | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (None where there is no such file)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def format_spectrum(s) -> str:
    """The data's singular values for a report: the nonzero ones (4 decimals) and how many zeros follow (the
    values at most ``1e-12 s_1``, as :attr:`geodln.Data.rank` counts them).

    >>> format_spectrum([3.0, 1.0, 1e-17, 0.0])
    '[3.0, 1.0] and 2 zeros'
    """
    s = np.asarray(s, dtype=float)
    nonzero = s[s > 1e-12 * s.max()] if s.size else s
    zeros = s.size - nonzero.size
    return f"{np.round(nonzero, 4).tolist()}" + (f" and {zeros} zero{'s' if zeros > 1 else ''}" if zeros else "")
