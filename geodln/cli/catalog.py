"""``geodln catalog``: enumerate and classify every critical point of an architecture and spectrum.

Writes a catalog directory (:class:`geodln.catalog.store.Catalog`) with the
stable and unstable directions of its saddles verified
(:func:`geodln.catalog.verify.fill_saddles`), and prints a summary table;
``--count`` only counts the strata, by dynamic programming
(:func:`geodln.landscape.counting.count_strata`). ``--graph FILE`` (any network:
a sparse mask, skip connections, a DAG) searches the critical points
numerically instead (:func:`geodln.find_critical_points`, ``--starts``): the
catalog says so in its manifest (``"method": "numerical"``, ``"exhaustive": false``). The strata and saddles wait
in the checkpoint folder beside ``--out`` (:class:`geodln.catalog.verify.Checkpoint`)
until the catalog is swapped in, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..io.files import check_output_folder, output_lock
from ..io.graphs import read_graph
from ..io.parallel import scheduler_client
from ..landscape.labels import format_learned
from ..network.topology import layered
from .options import add_verification_engine, comma_list, load_data

__all__ = ["NAME", "HELP", "DESCRIPTION", "add_arguments", "run", "summary_table"]

NAME = "catalog"
HELP = "enumerate and classify every critical point; write a catalog"
DESCRIPTION = ("Enumerate the strata of critical points of a fully connected layered network on whitened "
               "data with the given spectrum, classify each (global minimum / strict / nonstrict saddle) and check it "
               "three ways, and write OUT/manifest.json, critical_points.jsonl, summary.csv and arrays/.")


def add_arguments(parser) -> None:
    """The options of ``geodln catalog``."""
    parser.add_argument("--widths", type=comma_list(int), default=[3, 3, 3, 3], help="layer widths (default 3,3,3,3)")
    parser.add_argument("--graph", type=Path, default=None,
                        help="any network instead (.graphml, .gml, .gexf, .json with input/output nodes marked, as for "
                             "geodln flow): its critical points are searched numerically, not enumerated")
    parser.add_argument("--starts", type=_starts, default=None, metavar="KIND=N,...",
                        help="with --graph: starts of each kind, e.g. strata=all,plateau=8,random=16 (the default)")
    parser.add_argument("--spectrum", type=comma_list(float), default=[3.0, 2.0, 1.0],
                        help="distinct singular values (default 3,2,1)")
    parser.add_argument("--data", type=Path, default=None,
                        help="real data: a .npz with X (d_in, N) and Y (d_out, N), as for geodln flow; the spectrum is "
                             "then that of Syx Sxx^(-1/2) and the points (and saddle directions) are in your coordinates")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the representatives (default 0)")
    parser.add_argument("--max-per-set", type=int, default=None, help="cap on strata per learnt set (default: none)")
    parser.add_argument("--max-strata", type=int, default=None, metavar="N",
                        help="refuse a catalog of more than N strata, after --max-per-set (default 100,000: "
                             "geodln.catalog.store.MAX_STRATA; a 16-wide network with 10 modes has ~1e14)")
    parser.add_argument("--out", type=Path, default=Path("catalogs/default"),
                        help="output directory (default catalogs/default)")
    parser.add_argument("--force", action="store_true", help="rebuild the catalog in --out even if it exists")
    parser.add_argument("--count", action="store_true",
                        help="only count the strata (per learnt set J and per class), without listing them; writes nothing")
    parser.add_argument("--json", action="store_true", help="with --count: print the counts as JSON")
    parser.add_argument("--no-saddles", action="store_true",
                        help="skip the stable/unstable directions of the saddles (fill them later with geodln saddles)")
    parser.add_argument("--quiet", action="store_true", help="no progress report and no table")
    add_verification_engine(parser)


def run(args, argv) -> int:
    """Build (or find already built) the catalog the options describe, or only count its strata."""
    from ..catalog.store import MAX_STRATA, build_catalog
    from ..catalog.verify import Checkpoint, fill_saddles

    if args.graph is not None:
        return _numerical(args, argv)
    if args.starts is not None:
        raise ValueError("--starts is for a numerical search: give --graph FILE too")
    data = load_data(args, layered(args.widths)) if args.data is not None else None
    if data is not None:
        args.spectrum = data.s[: data.rank].tolist()
    if args.count:
        return _count(args)
    check_output_folder(args.out)  # before anything is made beside it: a refused run leaves nothing
    with output_lock(args.out):
        if (args.out / "manifest.json").is_file() and not args.force:
            return _already_built(args, data)
        checkpoint = Checkpoint(args.out)  # the arrays wait there, not in memory
        catalog = build_catalog(args.widths, None if data is not None else args.spectrum, seed=args.seed,
                                max_per_set=args.max_per_set, progress=not args.quiet, argv=argv, data=data,
                                spill=checkpoint.spill, max_strata=args.max_strata or MAX_STRATA)
        if not args.no_saddles:  # the folder changes only once, when everything is done
            with scheduler_client(args.scheduler) as client:
                fill_saddles(catalog, progress=not args.quiet, argv=argv, checkpoint=checkpoint.folder,
                             client=client, workers=args.workers, spill=checkpoint.spill)
        out = catalog.write(args.out, overwrite=args.force)
        checkpoint.remove()
    if not args.quiet:
        print(summary_table(catalog))
    counts = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in catalog.counts().items())
    left = sum(catalog.manifest.get("left_out", {}).values())
    capped = f"; {left} more strata left out by --max-per-set {args.max_per_set}" if left else ""
    print(f"{len(catalog)} strata ({counts}){capped}; wrote {out}")
    return 0


def _starts(text: str) -> dict:
    """``--starts strata=all,plateau=8,random=16`` as ``{kind: count}`` (``all``: None, every stratum)."""
    out = {}
    for item in filter(None, text.split(",")):
        kind, _, count = item.partition("=")
        if count == "all":
            out[kind.strip()] = None
        elif count.strip().isdigit():
            out[kind.strip()] = int(count)
        else:
            raise argparse.ArgumentTypeError(f"--starts takes KIND=N items (N an integer, or all), got {item!r}")
    return out


def _numerical(args, argv) -> int:
    """``geodln catalog --graph FILE``: the numerical search, its saddles verified, one catalog written."""
    from ..catalog.search import find_critical_points
    from ..catalog.store import Catalog
    from ..catalog.verify import fill_saddles

    if args.count or args.max_per_set is not None:
        raise ValueError("--count and --max-per-set enumerate strata of a layered network; a --graph is searched "
                         "numerically (choose its budget with --starts)")
    top = read_graph(args.graph)
    data = load_data(args, top)
    check_output_folder(args.out)
    with output_lock(args.out):
        if (args.out / "manifest.json").is_file() and not args.force:
            return _found_already(args, Catalog.load(args.out), top, data)
        catalog = find_critical_points(top, data, starts=args.starts, seed=args.seed, workers=args.workers, argv=argv)
        if not args.no_saddles:
            with scheduler_client(args.scheduler) as client:
                fill_saddles(catalog, progress=not args.quiet, argv=argv, client=client, workers=args.workers)
        out = catalog.write(args.out, overwrite=args.force)
    if not args.quiet:
        print(summary_table(catalog))
    counts = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in catalog.counts().items())
    print(f"{len(catalog)} critical points found numerically ({counts}; not proven complete) from "
          f"{sum(catalog.manifest['starts'].values())} starts; wrote {out}")
    return 0


def _found_already(args, previous, top, data) -> int:
    """``--out`` holds a numerical catalog: report it if this search made it (nothing recomputed), else refuse."""
    from ..catalog.store import data_fingerprint, topology_record
    from ..landscape.numerical import check_starts
    from ..tolerances import Tolerances

    m = previous.manifest
    asked = {kind: n for kind, n in check_starts(args.starts, top).items() if kind != "given"}
    same = (m.get("method") == "numerical" and m.get("topology") == topology_record(top)
            and m.get("parameters", {}).get("asked") == asked and m.get("seed") == args.seed
            and m.get("parameters", {}).get("data") == data_fingerprint(data) and previous.tolerances == Tolerances()
            and ("saddles" in m or args.no_saddles))
    if not same:
        raise ValueError(f"{args.out} holds a catalog made otherwise (`{m.get('command', '?')}`); pass --force to "
                         "replace it, or choose another --out")
    _report_found(args, previous)
    return 0


def _report_found(args, previous) -> None:
    """The table of a catalog found in ``--out`` and the sentence saying that nothing was recomputed."""
    if not args.quiet:
        print(summary_table(previous))
    print(f"{args.out} already holds this catalog (`{previous.manifest.get('command', '?')}`, "
          f"{previous.manifest.get('created_at', '?')}): nothing recomputed. Pass --force to rebuild it, "
          "or --out DIR for a new one.")


def _already_built(args, data) -> int:
    """``--out`` holds a catalog: report it if it is this one (nothing recomputed), refuse it if not."""
    from ..catalog.store import Catalog, data_fingerprint
    from ..tolerances import Tolerances

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
    _report_found(args, previous)
    return 0


def _count(args) -> int:
    """``geodln catalog --count``: the number of strata per learnt set and per class, by dynamic programming."""
    from ..landscape.counting import count_strata

    counts = count_strata(args.widths, len(args.spectrum))
    if args.json:
        print(json.dumps({"widths": args.widths, "n_modes": len(args.spectrum), "total": counts.total,
                          "by_kind": counts.by_kind,
                          "by_order": {str(order): n for order, n in counts.by_order.items()},
                          "by_learned": {format_learned(J): n for J, n in counts.by_learned.items()}}, indent=2))
        return 0
    by_size = {}
    for J, n in counts.by_learned.items():
        by_size.setdefault(len(J), []).append((J, n))
    if len(counts.by_learned) <= 64:  # one row per learnt set
        rows = [(format_learned(J), n) for group in by_size.values() for J, n in group]
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


def summary_table(catalog, max_rows: int = 200) -> str:
    """One row per stratum (or, for large catalogs, per learnt set): J, value, kind, inertia, escape
    order, and the numbers of unstable/stable directions when the saddles are filled in."""
    rows = catalog.records
    if len(rows) > max_rows:
        return _table_by_learned(rows)
    lines = [f"{'id':8} {'J':9} {'L_J':>9}  {'kind':17} {'-/0/+':>9}  {'m':>2}  {'uns/st':>6}  stratum"]
    for r in rows:
        h = r["hessian"]
        inertia = f"{h['negative']}/{h['zero']}/{h['positive']}"
        m = "-" if r["escape_order"] is None else str(r["escape_order"])
        dims = f"{r['unstable_dim']}/{r['stable_dim']}" if r.get("unstable_dim") is not None else "-"
        lines.append(f"{r['id']:8} {format_learned(r['learned']):9} {r['critical_value']:9.4f}  {r['kind']:17} "
                     f"{inertia:>9}  {m:>2}  {dims:>6}  {r.get('stratum', '')}")
    return "\n".join(lines)


def _table_by_learned(rows) -> str:
    """The summary table of a large catalog: one row per learnt set, its strata counted by class."""
    lines = [f"{'J':9} {'L_J':>9}  {'strata':>6}  {'global':>6}  {'strict':>6}  {'nonstrict':>9}"]
    groups, values = {}, {}
    for r in rows:  # one pass: the records may be read from disk one at a time
        groups.setdefault(tuple(r["learned"]), []).append(r["kind"])
        values[tuple(r["learned"])] = r["critical_value"]
    for J, kinds in groups.items():
        lines.append(f"{format_learned(J):9} {values[J]:9.4f}  {len(kinds):6d}  {kinds.count('global_minimum'):6d}  "
                     f"{kinds.count('strict_saddle'):6d}  {kinds.count('nonstrict_saddle'):9d}")
    return "\n".join(lines)
