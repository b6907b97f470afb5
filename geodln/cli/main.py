"""The ``geodln`` command.

``geodln flow``: integrate the gradient flow for a topology, data and
initialisation; write ``trajectory.npz``, ``summary.json`` and ``loss.png``.
``geodln catalog``: enumerate and classify the critical points of an
architecture and spectrum; write a catalog directory and print a summary.
``geodln saddles``: fill in the verified stable and unstable directions of
every saddle of an existing catalog.
``geodln figures``: regenerate the numbered gallery under ``figures/``.
``geodln laws``: count a network's conservation laws and say which are known.
``geodln classify``: what critical point a user's weights are, of what class.
``geodln sweep``: flows or descents over a grid of widths, spectra, scales and
seeds, on Dask, into one resumable zarr/netCDF dataset (:mod:`geodln.cli.sweep`).

No command overwrites an earlier result without ``--force``; every output is
written aside and swapped in as one unit (:mod:`geodln.io.files`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..dynamics import init as initialisations
from ..network.data import Data
from ..io.files import (json_bytes, json_default, npz_bytes, output_lock, package_version, provenance, read_provenance,
                    replace_directory)
from ..dynamics.flow import DEFAULT_METHOD, GradientFlow
from ..errors import ClassificationError
from ..network.losses import get_loss
from ..landscape.saddles import itinerary
from ..io.graphs import read_graph
from ..io.parallel import scheduler_client
from .sweep import add_parser as add_sweep_parser, comma_list, run_sweep
from ..network.topology import layered

__all__ = ["main"]

CLI_INITS = ("small", "orthogonal", "balanced", "delta_balanced", "aligned")


def _verification_engine(parser) -> None:
    """``--workers`` / ``--scheduler``: where the saddles are verified (on Dask, in batches of saddles)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None,
                       help="verify the saddles on a local Dask cluster of N one-thread processes (default: serially)")
    where.add_argument("--scheduler", metavar="ADDR", help="verify the saddles on a running Dask scheduler, "
                       "e.g. tcp://HOST:8786")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="geodln", description="Gradient flow of deep linear networks.")
    parser.add_argument("--version", action="version", version=f"geodln {package_version('geodln')}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "flow",
        help="integrate the gradient flow and write a trajectory, a summary and a picture",
        description="Integrate dA/dt = -dL/dA from an initialisation and write DIR/trajectory.npz, "
        "DIR/summary.json and DIR/loss.png.",
    )
    net = p.add_mutually_exclusive_group()
    net.add_argument("--widths", type=comma_list(int), default=[3, 4, 4, 3], help="layer widths d_0,...,d_h (default 3,4,4,3)")
    net.add_argument("--graph", type=Path, help="a network file (.graphml, .gml, .gexf, .json) with input/output nodes marked")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--spectrum", type=comma_list(float), help="singular values of Syx for whitened synthetic data (default 3,2,1)")
    src.add_argument("--data", type=Path, help="an .npz file with arrays X (d_in, N) and Y (d_out, N)")
    p.add_argument("--init", choices=CLI_INITS, default="small", help="initialisation (default small)")
    p.add_argument("--scale", type=float, default=1e-2,
                   help="weight scale; for aligned, each mode's initial end-to-end strength (default 1e-2)")
    p.add_argument("--delta", type=float, default=1e-3, help="imbalance for delta_balanced (default 1e-3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and the initialisation (default 0)")
    p.add_argument("--loss", choices=("quadratic", "logcosh", "huber"), default="quadratic")
    p.add_argument("--t-end", type=float, default=40.0, help="final time (default 40)")
    p.add_argument("--n-points", type=int, default=401, help="number of output times (default 401)")
    p.add_argument("--log-time", action="store_true", help="log-spaced output times (for long plateaus)")
    p.add_argument("--method", default=DEFAULT_METHOD, help=f"integration method: auto (stiffness-aware, geodln.integrate) or a scipy solve_ivp name "
                   f"(DOP853, RK45, Radau, BDF, LSODA, ...); default {DEFAULT_METHOD}")
    p.add_argument("--rtol", type=float, default=1e-10)
    p.add_argument("--atol", type=float, default=1e-12)
    p.add_argument("--grad-tol", type=float, default=None, help="stop once ||dA/dt|| falls below this")
    p.add_argument("--weight-decay", type=float, default=0.0, metavar="LAM",
                   help="flow of L + LAM/2 ||theta||^2; the drift is then measured from C(t) = e^(-2 LAM t) C(0) "
                   "(default 0)")
    p.add_argument("--out", type=Path, default=Path("flow-out"), help="output folder (default flow-out)")
    p.add_argument("--force", action="store_true", help="replace an earlier run in --out made with other options")
    p.add_argument("--quiet", action="store_true", help="no progress report")

    c = sub.add_parser(
        "catalog",
        help="enumerate and classify every critical point; write a catalog",
        description="Enumerate the strata of critical points of a fully connected layered network on whitened "
        "data with the given spectrum, classify each (global minimum / strict / nonstrict saddle) and check it "
        "three ways, and write OUT/manifest.json, critical_points.jsonl, summary.csv and arrays/.",
    )
    c.add_argument("--widths", type=comma_list(int), default=[3, 3, 3, 3], help="layer widths (default 3,3,3,3)")
    c.add_argument("--spectrum", type=comma_list(float), default=[3.0, 2.0, 1.0], help="distinct singular values (default 3,2,1)")
    c.add_argument("--data", type=Path, default=None,
                   help="real data: a .npz with X (d_in, N) and Y (d_out, N), as for geodln flow; the spectrum is then "
                        "that of Syx Sxx^(-1/2) and the points (and saddle directions) are in your coordinates")
    c.add_argument("--seed", type=int, default=0, help="seed of the data and the representatives (default 0)")
    c.add_argument("--max-per-set", type=int, default=None, help="cap on strata per learnt set (default: none)")
    c.add_argument("--out", type=Path, default=Path("catalogs/default"), help="output directory (default catalogs/default)")
    c.add_argument("--force", action="store_true", help="rebuild the catalog in --out even if it exists")
    c.add_argument("--count", action="store_true",
                   help="only count the strata (per learnt set J and per class), without listing them; writes nothing")
    c.add_argument("--json", action="store_true", help="with --count: print the counts as JSON")
    c.add_argument("--no-saddles", action="store_true",
                   help="skip the stable/unstable directions of the saddles (fill them later with geodln saddles)")
    c.add_argument("--quiet", action="store_true", help="no progress report and no table")
    _verification_engine(c)

    d = sub.add_parser(
        "saddles",
        help="fill in the stable and unstable directions of every saddle of a catalog",
        description="For every saddle of an existing catalog, find its stable and unstable directions "
        "(Hessian on the horizontal space; escape paths at nonstrict saddles), verify each by integrating "
        "the flow, and rewrite the catalog (schema 2) atomically.",
    )
    d.add_argument("--catalog", type=Path, required=True, help="the catalog directory")
    d.add_argument("--quiet", action="store_true", help="no progress report")
    _verification_engine(d)

    f = sub.add_parser(
        "figures",
        help="regenerate the numbered figure gallery",
        description="Make the gallery figures (each as OUT/NN-name.png and .pdf) and, for a full run, "
        "OUT/README.md with their captions. Deterministic for a seed.",
    )
    f.add_argument("--only", nargs="+", metavar="NAME", help="make only these figures (e.g. network phase-depth2)")
    f.add_argument("--out", type=Path, default=Path("figures"), help="output folder (default figures)")
    f.add_argument("--force", action="store_true", help="replace figure files in --out that differ from the new ones")
    f.add_argument("--format", default="png,pdf", help="comma-separated formats: png, pdf, svg (default png,pdf)")
    f.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    f.add_argument("--quiet", action="store_true", help="no progress report")

    w = sub.add_parser(
        "laws",
        help="count the independent conservation laws of a network and say which are known",
        description="Print D - dim Lie(W_phi)(theta) (Marcotte, Gribonval, Peyre 2023) at a random point, how many "
        "of these laws the known balances explain, and (with --degree) the polynomial laws of low degree. "
        "Writes no files.",
    )
    wnet = w.add_mutually_exclusive_group()
    wnet.add_argument("--widths", type=comma_list(int), default=[1, 2, 2, 1], help="layer widths (default 1,2,2,1)")
    wnet.add_argument("--graph", type=Path, help="a network file (.graphml, .gml, .gexf, .json) with input/output nodes marked")
    w.add_argument("--seed", type=int, default=0, help="seed of the random point (default 0)")
    w.add_argument("--degree", type=int, default=0,
                   help="also search conserved polynomials of degree <= this (default 0: no search)")

    k = sub.add_parser(
        "classify",
        help="which critical point is this network at (or near), and of what class",
        description="Read a network's weights (.npz with W1..Wh or A; .safetensors of bias-free linear layers), "
        "find the critical point it is at or shadows, and print its class, learnt modes J, critical value, "
        "stratum, Hessian inertia and escape order. Writes no files.",
    )
    k.add_argument("--weights", type=Path, required=True, help="the weight file (.npz or .safetensors)")
    ksrc = k.add_mutually_exclusive_group()
    ksrc.add_argument("--spectrum", type=comma_list(float), help="singular values of Syx for whitened synthetic data (default 3,2,1)")
    ksrc.add_argument("--data", type=Path, help="an .npz file with arrays X (d_in, N) and Y (d_out, N)")
    k.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default 0)")
    k.add_argument("--catalog", type=Path, help="a catalog of the same network and data: name the matching record")
    k.add_argument("--json", action="store_true", help="print the record as JSON")
    add_sweep_parser(sub)
    return parser


def _initial_weights(args, top, data) -> np.ndarray:
    """The start, seeded exactly as in Python: ``--seed S`` is ``init.small(top, scale, seed=S)`` (and the
    synthetic data is ``Data.from_spectrum(..., seed=S)``)."""
    if args.init == "delta_balanced":
        return initialisations.delta_balanced(top, delta=args.delta, scale=args.scale, seed=args.seed)
    if args.init == "aligned":
        n_modes = min(min(top.widths), len(data.s))
        return initialisations.aligned(top, data, np.full(n_modes, args.scale), seed=args.seed)
    return initialisations.by_name(args.init)(top, scale=args.scale, seed=args.seed)  # small, orthogonal, balanced


def _npz(path):
    """An opened ``.npz`` archive, or a ValueError (never numpy's advice to unpickle a data file)."""
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a .npz archive of arrays (np.savez writes one): {type(err).__name__}") from None


def _load_data(args, top) -> Data:
    if args.data is not None:
        with _npz(args.data) as arrays:
            missing = {"X", "Y"} - set(arrays.files)
            if missing:
                raise ValueError(f"{args.data} lacks the arrays {sorted(missing)}; it needs X (d_in, N) and Y (d_out, N)")
            return Data(arrays["X"], arrays["Y"])
    spectrum = args.spectrum if args.spectrum is not None else [3.0, 2.0, 1.0]
    return Data.from_spectrum(spectrum, top.widths[0], top.widths[-1], seed=args.seed)


FLOW_FILES = ("trajectory.npz", "summary.json", "loss.png")
_NOT_PARAMETERS = ("command", "force", "quiet")  # options that do not change what a run computes


def _parameters(args) -> dict:
    """The options that determine a run's output, as they are stored in its provenance."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in _NOT_PARAMETERS}


def run_flow(args, argv) -> int:
    out = args.out
    with output_lock(out):
        previous = read_provenance(out / "summary.json", "parameters")
        if previous is not None and not args.force:
            if previous["parameters"] == json.loads(json.dumps(_parameters(args), default=json_default)):
                print(f"{out} already holds this run (`{previous.get('command', '?')}`, {previous.get('created_at', '?')}): "
                      f"nothing recomputed; final loss {previous.get('final_loss')}. Pass --force to run it again.")
                return 0
            raise ValueError(f"{out} holds a flow run made with other options (`{previous.get('command', '?')}`); "
                             "pass --force to replace it, or choose another --out")
        return _flow(args, argv, replace=previous is not None)


def _flow(args, argv, replace: bool) -> int:
    out = args.out
    top = read_graph(args.graph) if args.graph is not None else layered(args.widths)
    data = _load_data(args, top)
    flow = GradientFlow(top, data, loss=get_loss(args.loss), weight_decay=args.weight_decay)
    theta0 = _initial_weights(args, top, data)
    traj = flow.integrate(
        theta0, args.t_end, method=args.method, rtol=args.rtol, atol=args.atol, n_points=args.n_points,
        log_time=args.log_time, grad_tol=args.grad_tol, progress=not args.quiet,
    )
    if not traj.success or not np.all(np.isfinite(traj.loss)):
        print(f"geodln flow: the integration failed at t = {traj.t[-1]:.6g} of {args.t_end:g}: {traj.message}. "
              f"Nothing written{' (the earlier run at ' + str(out) + ' is intact)' if replace else ''}.",
              file=sys.stderr)
        return 4
    r_max = min(top.widths)
    visits = itinerary(traj) if flow.loss_fn.name == "quadratic" else []
    summary = provenance(argv, **_parameters(args)) | {
        "topology": {"widths": top.widths, "n": top.n, "n_params": top.n_params, "kind": repr(top)},
        "loss_function": flow.loss_fn.name,
        "final_loss": float(traj.loss[-1]),
        "global_min_value": data.global_min_value(r_max),
        "data_singular_values": data.s,
        "final_singular_values": traj.singular_values[-1],
        "conservation_law": flow.default_law,
        "conserved_drift": float(traj.conserved_drift.max()),
        "t_final": float(traj.t[-1]),
        "itinerary": [{"learned": list(v.learned), "critical_value": v.value, "height": v.height, "kind": v.kind,
                       "t_enter": v.t_enter, "t_exit": v.t_exit, "escape_order": v.escape_order,
                       "stratum": v.stratum, "distance": v.distance, "t_slowest": v.t_slowest} for v in visits],
        "nfev": int(traj.nfev),
        "success": traj.success,
        "message": traj.message,
    }
    from ..plots import figure_bytes, plot_trajectory  # matplotlib only when drawing

    marks = [(v.learned, v.t_enter, v.t_exit) for v in visits]
    files = {
        "trajectory.npz": npz_bytes(dict(
            t=traj.t, loss=traj.loss, A=traj.adjacency(), theta=traj.theta,
            mask=top.mask, layer=top.layer, nodes=np.array([str(v) for v in top.nodes]),
            singular_values=traj.singular_values, conserved_drift=traj.conserved_drift,
            Syx=data.Syx, Sxx=data.Sxx,
        )),
        "summary.json": json_bytes(summary),
        "loss.png": figure_bytes(plot_trajectory(traj, log_time=args.log_time or None, itinerary=marks)),
    }
    replace_directory(out, files, ours=FLOW_FILES if replace else ())  # the run's files as one unit
    print(f"{top!r}, data s = {np.round(data.s, 4).tolist()}, loss {flow.loss_fn.name}")
    print(f"t = {traj.t[-1]:.4g}: loss {traj.loss[-1]:.6g} (global minimum {summary['global_min_value']:.6g}), "
          f"conserved drift {summary['conserved_drift']:.2e}, {traj.nfev} evaluations, {traj.message}")
    if visits:
        print("itinerary: " + " -> ".join(
            f"{_set(v.learned)} (L = {v.value:.4g}, {v.kind.replace('_', ' ')}"
            f"{'' if v.escape_order is None else f', m = {v.escape_order}'}, t {v.t_enter:.3g}..{v.t_exit:.3g})"
            for v in visits))
    print(f"wrote {out / 'trajectory.npz'}, {out / 'summary.json'}, {out / 'loss.png'}")
    return 0


def run_catalog(args, argv) -> int:
    from ..catalog.store import Catalog, build_catalog, data_fingerprint
    from ..catalog.verify import fill_saddles
    from ..tolerances import Tolerances

    data = _load_data(args, layered(args.widths)) if args.data is not None else None
    if data is not None:
        args.spectrum = data.s[: data.rank].tolist()
    if args.count:
        return _count(args)
    with output_lock(args.out):
        if (args.out / "manifest.json").is_file() and not args.force:
            previous = Catalog.load(args.out)
            wanted = {"widths": args.widths, "spectrum": [float(x) for x in args.spectrum], "seed": args.seed,
                      "max_per_set": args.max_per_set}
            if data is not None:
                wanted["data"] = data_fingerprint(data)
            same = (previous.manifest.get("parameters") == wanted and previous.tolerances == Tolerances()
                    and ("saddles" in previous.manifest or args.no_saddles))
            if not same:
                raise ValueError(f"{args.out} holds a catalog made with other parameters "
                                 f"(`{previous.manifest.get('command', '?')}`); pass --force to replace it, "
                                 "or choose another --out")
            if not args.quiet:
                print(summary_table(previous))
            print(f"{args.out} already holds this catalog (`{previous.manifest.get('command', '?')}`, "
                  f"{previous.manifest.get('created_at', '?')}): nothing recomputed. Pass --force to rebuild it, "
                  "or --out DIR for a new one.")
            return 0
        spill = _checkpoint(args.out) / "arrays"  # the arrays wait there, not in memory
        catalog = build_catalog(args.widths, None if data is not None else args.spectrum, seed=args.seed,
                                max_per_set=args.max_per_set, progress=not args.quiet, argv=argv, data=data,
                                spill=spill)
        if not args.no_saddles:  # the folder changes only once, when everything is done
            with scheduler_client(args.scheduler) as client:
                fill_saddles(catalog, progress=not args.quiet, argv=argv, checkpoint=_checkpoint(args.out),
                             client=client, workers=args.workers, spill=spill)
        out = catalog.write(args.out, overwrite=args.force)
        _drop_checkpoint(args.out)
    if not args.quiet:
        print(summary_table(catalog))
    counts = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in catalog.counts().items())
    left = sum(catalog.manifest.get("left_out", {}).values())
    capped = f"; {left} more strata left out by --max-per-set {args.max_per_set}" if left else ""
    print(f"{len(catalog)} strata ({counts}){capped}; wrote {out}")
    return 0


def _count(args) -> int:
    """``geodln catalog --count``: the number of strata per learnt set and per class, by dynamic programming."""
    from ..landscape.counting import count_strata

    counts = count_strata(args.widths, len(args.spectrum))
    if args.json:
        print(json.dumps({"widths": args.widths, "n_modes": len(args.spectrum), "total": counts.total,
                          "by_kind": counts.by_kind,
                          "by_order": {str(order): n for order, n in counts.by_order.items()},
                          "by_learned": {_set(J): n for J, n in counts.by_learned.items()}}, indent=2))
        return 0
    by_size = {}
    for J, n in counts.by_learned.items():
        by_size.setdefault(len(J), []).append((J, n))
    if len(counts.by_learned) <= 64:  # one row per learnt set
        rows = [(_set(J), n) for group in by_size.values() for J, n in group]
    else:  # one row per size |J|
        rows = [(f"|J| = {size} ({len(group)} set{'s' if len(group) > 1 else ''})", sum(n for _, n in group))
                for size, group in by_size.items()]
    width = max(len(label) for label, _ in rows)
    print(f"strata of {','.join(map(str, args.widths))} with {len(args.spectrum)} modes, counted without listing them:")
    for label, n in rows:
        print(f"  {label:{width}}  {n:>14,}")
    kinds = ", ".join(f"{n:,} {kind.replace('_', ' ')}" for kind, n in counts.by_kind.items())
    print(f"  {'total':{width}}  {counts.total:>14,}  ({kinds})")
    orders = ", ".join(f"{n:,} of order {order}" for order, n in counts.by_order.items())
    print(f"  saddles by escape order (loss falls like -eps^order; 2 = strict): {orders or 'none'}")
    return 0


def run_saddles(args, argv) -> int:
    from ..catalog.verify import fill_saddles

    with output_lock(args.catalog):  # the catalog is rewritten once, at the end, in one step
        with scheduler_client(args.scheduler) as client:
            catalog = fill_saddles(args.catalog, progress=not args.quiet, argv=argv, checkpoint=_checkpoint(args.catalog),
                                   client=client, workers=args.workers, spill=_checkpoint(args.catalog) / "arrays")
        _drop_checkpoint(args.catalog)
    info = catalog.manifest["saddles"]
    print(f"{info['n_verified']}/{info['n_directions']} directions verified at "
          f"{sum(r['kind'] != 'global_minimum' for r in catalog.records)} saddles; wrote {catalog.path}")
    return 0 if info["n_verified"] == info["n_directions"] else 1


def _checkpoint(out: Path) -> Path:
    """Where the saddles of the catalog ``out`` are saved one by one while they are verified
    (a hidden folder beside it), so that an interrupted run resumes there."""
    return out.parent / f".{out.name}.geodln-checkpoint"


def _drop_checkpoint(out: Path) -> None:
    """Remove the checkpoint of ``out`` once the catalog is written (only the files geodln saved there)."""
    from ..catalog.store import DIRECTIONS, POINTS, SIMILARITIES, SPECTRA

    folder = _checkpoint(out)
    spill = [folder / "arrays" / name for name in ("records.jsonl", "records-with-saddles.jsonl", "summary.csv",
                                                    *(Path(f).name for f in (POINTS, SPECTRA, SIMILARITIES, DIRECTIONS)))]
    if folder.is_dir():
        for item in [*folder.glob("cp*.npz"), *folder.glob(".cp*.npz.geodln-tmp-*"), *spill]:  # and killed writes
            item.unlink(missing_ok=True)
        for empty in (folder / "arrays", folder):
            if empty.is_dir() and not any(empty.iterdir()):
                empty.rmdir()


def summary_table(catalog, max_rows: int = 200) -> str:
    """One row per stratum (or, for large catalogs, per learnt set): J, value, kind, inertia, escape
    order, and the numbers of unstable/stable directions when the saddles are filled in."""
    rows = catalog.records
    lines = [f"{'id':8} {'J':9} {'L_J':>9}  {'kind':17} {'-/0/+':>9}  {'m':>2}  {'uns/st':>6}  stratum"]
    if len(rows) > max_rows:
        lines = [f"{'J':9} {'L_J':>9}  {'strata':>6}  {'global':>6}  {'strict':>6}  {'nonstrict':>9}"]
        groups, values = {}, {}
        for r in rows:  # one pass: the records may be read from disk one at a time
            groups.setdefault(tuple(r["learned"]), []).append(r["kind"])
            values[tuple(r["learned"])] = r["critical_value"]
        for J, kinds in groups.items():
            value = values[J]
            lines.append(f"{_set(J):9} {value:9.4f}  {len(kinds):6d}  {kinds.count('global_minimum'):6d}  "
                         f"{kinds.count('strict_saddle'):6d}  {kinds.count('nonstrict_saddle'):9d}")
        return "\n".join(lines)
    for r in rows:
        h = r["hessian"]
        inertia = f"{h['negative']}/{h['zero']}/{h['positive']}"
        m = "-" if r["escape_order"] is None else str(r["escape_order"])
        dims = f"{r['unstable_dim']}/{r['stable_dim']}" if r.get("unstable_dim") is not None else "-"
        lines.append(f"{r['id']:8} {_set(r['learned']):9} {r['critical_value']:9.4f}  {r['kind']:17} {inertia:>9}  "
                     f"{m:>2}  {dims:>6}  {r.get('stratum', '')}")
    return "\n".join(lines)


def _set(J) -> str:
    return "{" + ",".join(map(str, J)) + "}"


def run_figures(args, argv) -> int:
    from ..plots.gallery import make_gallery

    written = make_gallery(args.out, only=args.only, formats=args.format.split(","), seed=args.seed,
                           progress=not args.quiet, force=args.force)
    print(f"wrote {len(written)} files to {args.out}")
    return 0


def run_laws(args, argv) -> int:
    from ..laws import conservation_laws, polynomial_laws

    top = read_graph(args.graph) if args.graph is not None else layered(args.widths)
    print(conservation_laws(top, seed=args.seed).summary())
    if args.degree:
        print(polynomial_laws(top, degree=args.degree, seed=args.seed).summary())
    return 0


def run_classify(args, argv) -> int:
    from ..catalog.store import Catalog
    from ..landscape.points import nearest_critical_point, point_record
    from ..io.weights import read_weights

    weights = read_weights(args.weights)
    top = weights.top
    data = _load_data(args, top)
    if args.catalog is not None:
        catalog = Catalog.load(args.catalog)
        data_ = catalog.manifest["data"]
        if list(catalog.manifest["parameters"]["widths"]) != list(top.widths) or not (
                np.allclose(np.asarray(data_["Syx"]), data.Syx, atol=1e-9) and np.allclose(np.asarray(data_["Sxx"]), data.Sxx, atol=1e-9)):
            raise ValueError(f"{args.catalog} is a catalog of another network or other data than {args.weights}")
    near = nearest_critical_point(GradientFlow(top, data), weights.theta)
    cp = near.point
    record = point_record(cp) | {"distance": near.distance, "grad_norm_given": near.grad_norm, "weights": weights.source}
    if args.catalog is not None:
        record["record_id"] = next((r["id"] for r in catalog.records if r.get("stratum") == cp.label), None)
    if args.json:
        print(json.dumps(record, default=json_default, indent=2))
        return 0
    h = cp.hessian
    print(f"{weights.source}: widths {list(top.widths)}, data s = {np.round(data.s, 4).tolist()}")
    where = "at" if near.distance == 0 else f"near (distance {near.distance:.3g}, ||grad|| {near.grad_norm:.3g} there)"
    print(f"{where} a {cp.kind.replace('_', ' ')}: J = {_set(cp.learned)}, L_J = {cp.critical_value:.6g}")
    print(f"stratum {cp.label}" + (f" (catalog record {record['record_id']})" if record.get("record_id") else ""))
    print(f"Hessian -/0/+ = {h.negative}/{h.zero}/{h.positive}, escape order "
          f"{'-' if cp.escape_order is None else cp.escape_order}"
          + ("" if not cp.escape else f" (mode {cp.escape['mode']}, measured {cp.escape['measured_order']:.2f})"))
    for item in cp.ambiguous:
        print(f"ambiguous: singular values of {item['product']}: {np.round(item['singular_values'], 6).tolist()}")
    return 0


def main(argv=None) -> int:
    """Entry point of the ``geodln`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    runners = {"flow": run_flow, "catalog": run_catalog, "saddles": run_saddles, "figures": run_figures,
               "laws": run_laws, "classify": run_classify, "sweep": run_sweep}
    try:
        return runners[args.command](args, argv)
    except KeyboardInterrupt:
        kept = ("the finished points are kept: rerun the command to compute the rest" if args.command == "sweep"
                else "the output folder holds what it held before the run")
        print(f"geodln {args.command}: interrupted; {kept}", file=sys.stderr)
        return 130
    except (ValueError, OSError) as err:
        print(f"geodln {args.command}: error: {err}", file=sys.stderr)
        return 2
    except ClassificationError as err:  # a consistency check failed: report it, do not guess
        print(f"geodln {args.command}: the checks disagree, nothing written: {err}", file=sys.stderr)
        return 3

