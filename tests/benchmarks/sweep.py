"""Benchmark of the sweep engine ``geodln.sweep``: its cost per point, and its speedup on 2 workers.

The same 64-run flow sweep (widths 4,4,4,4, spectrum 4,3,2,1, four initial
scales x 16 seeds, ``t_end`` 2000 by default) is timed four ways:

(a) a bare loop calling the ``flow`` task on every point, in this process;
(b) ``geodln.sweep("flow", ..., workers=1)``: serial, no store;
(c) the same with a zarr store (every point saved as it finishes);
(d) ``geodln.sweep("flow", ..., client=client)`` on a ``LocalCluster`` of 2
    one-thread worker processes started beforehand (and, separately, the time
    to start that cluster, which ``workers=2`` pays on every call).

Goals (issue 13): the engine's overhead (b - a) / a <= 5%; speedup a / d >= 1.8
on 2 cores. Each variant runs once (a run takes tens of seconds; the spread
between repeated runs is printed when ``--repeat`` > 1). BLAS is pinned to one
thread in this process, as Dask pins it in its workers, so both sides compute alike.

Run from the repository root::

    python tests/benchmarks/sweep.py                 # 64 runs, t_end 2000
    python tests/benchmarks/sweep.py --seeds 4       # 16 runs (smoke)
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import geodln  # noqa: E402
from geodln.sweeps.grid import make_grid  # noqa: E402
from geodln.sweeps.tasks import TASKS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=16, help="seeds per scale (default 16: 64 runs)")
    parser.add_argument("--t-end", type=float, default=2000.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each variant (the best is reported)")
    args = parser.parse_args()
    grid = {"widths": ["4,4,4,4"], "spectrum": ["4,3,2,1"], "scale": [1e-4, 1e-3, 1e-2, 1e-1]}
    settings = {"t_end": args.t_end}
    points = make_grid(grid, args.seeds, settings)
    n = points.size
    print(f"{n} flow runs: widths 4,4,4,4, spectrum 4,3,2,1, scales {grid['scale']}, {args.seeds} seeds, "
          f"t_end {args.t_end:g}; {os.cpu_count()} cores")

    def best(fn):
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
        return min(times), times, result

    flow = TASKS["flow"]
    bare, bare_all, _ = best(lambda: [flow(params, seed) for _, params, seed in points.points()])
    serial, serial_all, ds = best(lambda: geodln.sweep("flow", grid, seeds=args.seeds, settings=settings, workers=1,
                                                      progress=False))
    with tempfile.TemporaryDirectory() as tmp:
        stores = iter(range(args.repeat))
        stored, _, _ = best(lambda: geodln.sweep("flow", grid, seeds=args.seeds, settings=settings, workers=1,
                                                 store=Path(tmp) / f"s{next(stores)}.zarr", progress=False))

    from distributed import Client, LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    client.wait_for_workers(2)
    startup = time.perf_counter() - start
    try:
        parallel, parallel_all, ds2 = best(lambda: geodln.sweep("flow", grid, seeds=args.seeds, settings=settings,
                                                                client=client, progress=False))
    finally:
        client.close()
        cluster.close()

    same = bool((ds.final_loss.values == ds2.final_loss.values).all() and (ds.status.values == ds2.status.values).all())
    print(f"(a) bare loop over the task    {bare:8.2f} s   {1e3 * bare / n:7.1f} ms/run   {_spread(bare_all)}")
    print(f"(b) sweep, serial               {serial:8.2f} s   overhead {100 * (serial - bare) / bare:+6.2f}% "
          f"({1e3 * (serial - bare) / n:+.2f} ms/run; goal <= 5%)   {_spread(serial_all)}")
    print(f"(c) sweep, serial, zarr store   {stored:8.2f} s   overhead {100 * (stored - bare) / bare:+6.2f}% "
          f"({1e3 * (stored - bare) / n:+.2f} ms/run)")
    print(f"(d) sweep, 2 workers            {parallel:8.2f} s   speedup {bare / parallel:.2f}x over (a) "
          f"(goal >= 1.8x)   {_spread(parallel_all)}")
    print(f"    starting the 2-worker LocalCluster: {startup:.2f} s (speedup {bare / (parallel + startup):.2f}x "
          f"with it, as workers=2 pays it)")
    print(f"    statuses {dict(zip(*_counts(ds.status.values)))}; serial and parallel datasets agree: {same}")


def _spread(times) -> str:
    return f"(runs: {', '.join(f'{t:.2f}' for t in times)})" if len(times) > 1 else ""


def _counts(values):
    import numpy as np

    return np.unique(values.astype(str), return_counts=True)


if __name__ == "__main__":
    main()
