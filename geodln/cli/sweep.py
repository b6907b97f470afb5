"""``geodln sweep``: a study over architectures, spectra, scales and seeds from the command line.

``geodln sweep --widths 4,4,4,4 --spectrum 4,3,2,1 --scale 1e-4,1e-3,1e-2
--seeds 0:16 --t-end 2000 --out sweep.zarr`` runs one flow per point
(``--task descent --step S --n-steps N`` for gradient descent), on a local
cluster (``--workers N``, ``--workers 1`` serially) or on a running Dask
scheduler (``--scheduler tcp://HOST:PORT``), and prints one row per grid point:
the fraction of runs that converged, the median time spent at a visited
saddle and the most frequent itinerary.
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from ..io.parallel import scheduler_client
from ..landscape.critical import KINDS
from ..landscape.labels import itinerary_strings
from .options import comma_list

__all__ = ["NAME", "HELP", "DESCRIPTION", "add_arguments", "run", "summary_table"]

NAME = "sweep"
HELP = "a study over widths, spectra, scales and seeds: one labelled dataset (zarr or netCDF)"
DESCRIPTION = ("Run one flow (or gradient descent) per point of the grid widths x spectrum x scale x seeds, "
               "on a local Dask cluster or a running scheduler, saving each point as it finishes; rerunning the same "
               "command computes only the missing points. Writes OUT (.zarr or .nc) and prints a summary per grid point.")
KEPT_ON_INTERRUPT = "the finished points are kept: rerun the command to compute the rest"

SADDLES = KINDS[1:]  # the saddle classes, named as landscape.classify names them
CONVERGED_GAP = 1e-6  # a run converged when status is ok and loss_gap <= CONVERGED_GAP * max(1, |global_min|)


def _architectures(text: str) -> list[str]:
    """``"4,4,4,4;4,4,4,4,4"``: architectures (or spectra) separated by ``;``, each a comma list."""
    items = [item.strip().replace(" ", "") for item in text.split(";") if item.strip()]
    for item in items:
        comma_list(float)(item)
    if not items:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 4,4,4,4, got {text!r}")
    return items


def add_arguments(parser) -> None:
    """The options of ``geodln sweep``."""
    parser.add_argument("--widths", type=_architectures, action="append", required=True,
                   help="layer widths d_0,...,d_h of one architecture; several separated by ';' or by repeating "
                   "the option (e.g. --widths 4,4,4,4 --widths 4,4,4,4,4)")
    parser.add_argument("--spectrum", type=_architectures, action="append",
                   help="singular values of Syx (whitened synthetic data); several separated by ';' or repeated")
    parser.add_argument("--scale", type=comma_list(float), help="initial scales, comma-separated (e.g. 1e-4,1e-3,1e-2)")
    parser.add_argument("--seeds", default="0:16", help="seeds: a:b (range) or a comma list (default 0:16)")
    parser.add_argument("--task", choices=("flow", "descent"), default="flow", help="what each point runs (default flow)")
    parser.add_argument("--t-end", type=float, help="flow: final time")
    parser.add_argument("--step", type=float, help="descent: step size")
    parser.add_argument("--n-steps", type=int, help="descent: number of steps")
    parser.add_argument("--max-visits", type=int, default=None, help="length of the per-visit arrays (default 12)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="processes of the local cluster (default: one per core; 1: serial)")
    where.add_argument("--scheduler", metavar="ADDR", help="a running Dask scheduler, e.g. tcp://HOST:8786")
    parser.add_argument("--out", default="sweep.zarr", help="the store, ending in .zarr or .nc (default sweep.zarr)")
    parser.add_argument("--force", action="store_true", help="replace a store that holds another sweep")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no table")


def _settings(args) -> dict:
    if args.task == "flow":
        if args.t_end is None or args.step is not None or args.n_steps is not None:
            raise ValueError("--task flow needs --t-end T (and takes no --step/--n-steps)")
        settings = {"t_end": args.t_end}
    else:
        if args.step is None or args.n_steps is None or args.t_end is not None:
            raise ValueError("--task descent needs --step S and --n-steps N (and takes no --t-end)")
        settings = {"step": args.step, "n_steps": args.n_steps}
    if args.max_visits is not None:
        settings["max_visits"] = args.max_visits
    return settings


def run(args, argv) -> int:
    """Run the sweep the options describe; print the table and what was computed."""
    from ..sweeps.engine import sweep

    grid = {"widths": [w for group in args.widths for w in group]}
    if args.spectrum:
        grid["spectrum"] = [s for group in args.spectrum for s in group]
    if args.scale:
        grid["scale"] = args.scale
    settings = _settings(args)
    with scheduler_client(args.scheduler) as client:
        ds = sweep(args.task, grid, seeds=args.seeds, client=client, workers=args.workers, store=args.out,
                   progress=not args.quiet, settings=settings, force=args.force, argv=argv)
    if not args.quiet:
        print(summary_table(ds))
    total = int(np.prod([ds.sizes[d] for d in ds.status.dims]))
    print(f"computed {ds.attrs['computed']} of {total} runs ({total - ds.attrs['computed']} already in the store); "
          f"wrote {args.out}")
    return 0



def summary_table(ds) -> str:
    """One row per grid point: runs, failures, fraction converged, median time at a saddle, the most frequent itinerary.

    A run converged when its status is ``ok`` and ``loss_gap <= 1e-6 max(1, |global_min|)``;
    the time at a saddle is ``visit_exit - visit_enter`` over the visits whose kind is a saddle.
    Columns whose variables the task does not return are left out.
    """
    import pandas as pd

    grid_dims = [d for d in ds.status.dims if d != "seed"]
    with_visits = {"visit_learned", "visit_kind"} <= set(ds.data_vars)
    texts = itinerary_strings(ds.transpose(*grid_dims, "seed", ...)) if with_visits else None
    rows = []
    for key in np.ndindex(*[ds.sizes[d] for d in grid_dims]):
        point = ds.isel(dict(zip(grid_dims, key)))
        row = {d: point[d].item() for d in grid_dims}
        status = point.status.values
        row["runs"] = status.size
        row["failed"] = int(np.sum(status == "failed"))
        if "loss_gap" in point and "global_min" in point:
            gap, low = point.loss_gap.values, point.global_min.values
            row["converged"] = float(np.mean((status == "ok") & (gap <= CONVERGED_GAP * np.maximum(1, np.abs(low)))))
        if {"visit_kind", "visit_enter", "visit_exit"} <= set(point.data_vars):
            at_saddle = np.isin(point.visit_kind.values.astype(object), SADDLES)
            stays = (point.visit_exit.values - point.visit_enter.values)[at_saddle]
            stays = stays[np.isfinite(stays)]
            row["median saddle time"] = float(np.median(stays)) if stays.size else np.nan
        if texts is not None:
            routes = Counter(text for text, st in zip(texts[key], status) if st == "ok")
            route, count = routes.most_common(1)[0] if routes else ("-", 0)
            row["most frequent itinerary"] = f"{route} ({count}/{status.size})"
        rows.append(row)
    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        return pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.4g}")
