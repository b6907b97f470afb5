"""Benchmark: classify the clean critical point of every learnt set J, dense vs Lanczos.

Widths 10,10,10,10 with 10 distinct modes: 2^10 = 1024 sets J, each with its
clean critical point (complete paths only). For each, the inertia of the
Hessian is computed two ways in the same run:

- dense: the exact Hessian (one batched forward-over-reverse pass) and
  ``numpy.linalg.eigvalsh``: the full inertia (negative / zero / positive);
- Lanczos: ``scipy.sparse.linalg.eigsh`` on the Hessian-vector product: the
  extreme eigenvalues, enough for the class (strict iff the smallest is
  negative) but not for the counts of a large, degenerate kernel.

Both must agree on the smallest eigenvalue and hence on the class.

Run: ``python tests/benchmarks/catalog.py`` (``--quick`` for widths 6,6,6,6).

``--scale``: time to count, to classify and to verify the full catalog of
3,3,3,3; 4,4,4,4; 3,3,3,3,3; 5,5,5,5; 2,2,2,2,2,2,2 (as many modes as the
narrowest end allows, spectrum m, m-1, ..., 1), each in a fresh process,
for this checkout (serially, and on a local Dask cluster of ``--workers``
processes, its start-up included) and (``--before DIR``, e.g. ``/work/main``)
another one, in one run; ``--only`` picks architectures. Each run also reports
its peak memory (resident set). Every run verifies as ``geodln catalog`` does,
with every saddle checkpointed (that writing is in its verify time) and, in a
checkout that can, records and arrays spilled to disk. BLAS runs on one thread
(``OPENBLAS_NUM_THREADS=1``): for these small matrices more threads only
fight over the cores (measured: a 75 x 300 SVD 36 times slower with the
default threads on a loaded 2-core machine).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from itertools import combinations

import numpy as np

import geodln
from geodln import symmetry
from geodln.dynamics.hessian import hessian, inertia, lanczos_extremes
from geodln.landscape.strata import Stratum
from geodln.tolerances import DEFAULT_TOLERANCES


def clean_points(width, n_modes, seed=0):
    widths = [width] * 4
    data = geodln.Data.from_spectrum(np.linspace(n_modes, 1, n_modes), width, width, seed=seed)
    top = geodln.layered(widths)
    flow = geodln.GradientFlow(top, data)
    rng = np.random.default_rng(seed)
    points = []
    sets = [J for size in range(n_modes + 1) for J in combinations(range(1, n_modes + 1), size)]
    for J in sets:
        stratum = Stratum(tuple(widths), J, (), n_modes)  # the clean point: complete paths only
        S = symmetry.random_group_element(top, rng, "GL", spread=0.0)
        points.append((stratum, top.pack(symmetry.act(top, S, stratum.canonical_adjacency(top, data, rng)))))
    return flow, points


SCALE = ["3,3,3,3", "4,4,4,4", "3,3,3,3,3", "5,5,5,5", "2,2,2,2,2,2,2"]
TIMER = """
import inspect, json, resource, sys, tempfile, time
from pathlib import Path
import numpy as np
from geodln.catalog.store import build_catalog
try:
    from geodln.catalog.verify import fill_saddles
except ImportError:  # a checkout from before the move
    from geodln.catalog.store import fill_saddles
widths, workers = [int(w) for w in sys.argv[1].split(",")], int(sys.argv[2])
m = min(widths[0], widths[-1])
t0 = time.perf_counter()
try:
    from geodln.landscape.counting import count_strata
    total = count_strata(widths, m).total
except ImportError:
    total = None
t1 = time.perf_counter()
# as `geodln catalog` runs: every saddle checkpointed and, where the checkout can, records and arrays spilled to disk
scratch = Path(tempfile.mkdtemp())
spill = {"spill": scratch / "arrays"} if "spill" in inspect.signature(build_catalog).parameters else {}
checkpoint = {"checkpoint": scratch / "checkpoint"} if "checkpoint" in inspect.signature(fill_saddles).parameters else {}
cat = build_catalog(widths, np.arange(m, 0, -1.0), seed=0, **spill)
t2 = time.perf_counter()
fill_saddles(cat, **({"workers": workers} if workers > 1 else {}), **spill, **checkpoint)  # cluster start-up counts
t3 = time.perf_counter()
print(json.dumps({"strata": len(cat), "counted": total, "count": t1 - t0, "classify": t2 - t1, "verify": t3 - t2,
                  "directions": cat.manifest["saddles"]["n_directions"], "verified": cat.manifest["saddles"]["n_verified"],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def time_catalog(widths: str, checkout: Path, timeout: float, workers: int = 1) -> dict | None:
    env = dict(os.environ, PYTHONPATH=str(checkout), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    try:
        run = subprocess.run([sys.executable, "-c", TIMER, widths, str(workers)], env=env, capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if run.returncode:
        raise RuntimeError(run.stderr)
    return json.loads(run.stdout.splitlines()[-1])


def scale(args):
    here = Path(__file__).resolve().parents[2]
    checkouts = [("after", here, 1)] + [(f"{w} wkrs", here, w) for w in args.workers if w > 1]
    checkouts += [("before", Path(args.before), 1)] if args.before else []
    print(f"{'widths':15} {'':6} {'strata':>7} {'count s':>8} {'classify s':>10} {'verify s':>9} {'total s':>8} "
          f"{'peak MB':>8}  directions")
    for widths in args.only or SCALE:
        row = {}
        for name, checkout, workers in checkouts:
            r = time_catalog(widths, checkout, args.timeout, workers)
            row[name] = r
            if r is None:
                print(f"{widths:15} {name:6} (more than {args.timeout:.0f} s)")
                continue
            total = r["count"] + r["classify"] + r["verify"]
            print(f"{widths:15} {name:6} {r['strata']:7d} {r['count']:8.2f} {r['classify']:10.2f} {r['verify']:9.2f} "
                  f"{total:8.2f} {r['peak_mb']:8.0f}  {r['verified']}/{r['directions']} verified", flush=True)
        if row.get("before") and row.get("after"):
            b, a = row["before"], row["after"]
            print(f"{'':15} ratio  verify before/after {b['verify'] / a['verify']:.1f}, "
                  f"total {(b['classify'] + b['verify']) / (a['count'] + a['classify'] + a['verify']):.1f}")
        for name in row:
            if name.endswith("wkrs") and row[name] and row.get("after"):
                print(f"{'':15} ratio  verify serial/{name} {row['after']['verify'] / row[name]['verify']:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--scale", action="store_true", help="count / classify / verify times of full catalogs")
    parser.add_argument("--before", help="another checkout to time the same way (e.g. /work/main)")
    parser.add_argument("--only", nargs="*", help="architectures for --scale, e.g. 4,4,4,4")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per catalog before giving up")
    parser.add_argument("--workers", type=int, nargs="*", default=[2],
                        help="also verify on a local Dask cluster of this many workers (default 2; none: serial only)")
    args = parser.parse_args()
    if args.scale:
        return scale(args)
    width = 6 if args.quick else 10
    t0 = time.perf_counter()
    flow, points = clean_points(width, width)
    t_build = time.perf_counter() - t0
    print(f"widths {[width] * 4}, {len(points)} sets J, {flow.top.n_params} weights; built in {t_build:.2f} s")

    t0 = time.perf_counter()
    dense = [inertia(np.linalg.eigvalsh(hessian(flow, theta))) for _, theta in points]
    t_dense = time.perf_counter() - t0
    t0 = time.perf_counter()
    lanczos = [lanczos_extremes(flow, theta, k=1) for _, theta in points]
    t_lanczos = time.perf_counter() - t0

    for d, (small, large) in zip(dense, lanczos):
        assert abs(d.min - small[0]) <= 1e-6 * max(1.0, abs(d.max)), "dense and Lanczos disagree on the minimum"
        assert (d.negative > 0) == (small[0] < -DEFAULT_TOLERANCES.inertia * max(1.0, abs(large[-1]))), "dense and Lanczos disagree"
    kinds = {"strict": 0, "psd": 0}
    for (stratum, _), d in zip(points, dense):
        assert (d.negative > 0) == (not stratum.is_top), stratum.label  # strict iff J is not a top set
        kinds["strict" if d.negative else "psd"] += 1
    print(f"dense eigh path:      {t_dense:7.2f} s  ({1e3 * t_dense / len(points):.2f} ms per point, full inertia)")
    print(f"Hessian-vector/Lanczos:{t_lanczos:7.2f} s  ({1e3 * t_lanczos / len(points):.2f} ms per point, extremes)")
    print(f"ratio dense / Lanczos: {t_dense / t_lanczos:.2f}")
    print(f"{kinds['strict']} strict saddles, {kinds['psd']} positive semidefinite (top sets); counts agree")


if __name__ == "__main__":
    main()
