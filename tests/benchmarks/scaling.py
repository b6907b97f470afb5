"""Scaling benchmark (issue 26): the flow's cost against width and depth, and the classification's against D.

Flow: widths ``d^(h+1)``, a whitened target of rank ``r = min(d, 10)`` with singular
values ``linspace(r, 1, r)`` and a start of ``N(0, (0.1 / sqrt(d))^2)`` weights (each
layer's gain about 0.1 at every width, so the time scales of the saddle-to-saddle
phase are alike across the grid), integrated on ``[0, T]`` at rtol 1e-8, atol 1e-12
by ``auto``, geodln's DOP853 (SciPy) and diffrax's Dopri8 (``jax.jit``, float64;
compile time reported apart). Grid: widths 8 to 512 at depth 4, depths 2 to 8 at
width 32 (``--widths``, ``--depths``; the default omits what a 2-core machine cannot
finish in minutes: at width 512 only ``auto``, see ``--only-auto-above``). Width 512 (``D = 2^20``), measured
once on its own (``--one flow auto 512 4 10``, the 2 cores shared, load 4-5): 540 s wall-clock (54 s per unit
time) at about 60% of a core, 324 s of CPU with the set-up, peak 304 MB above a 669 MB base, drift 4e-12;
merged into the table, it moves ``auto``'s fitted time exponent from 1.23 to 1.19 and its memory one from 0.90
to 0.89.

Classification: :func:`geodln.analyze_point` on the constructed critical point
``J = {1, ..., 5}`` (:func:`geodln.init.aligned` with the first five strengths equal
to the target's singular values: critical exactly, balanced) of widths ``d^4``, target of
rank ``min(d, 10)`` as above, for ``d`` in ``--classify-widths``; a run over ``--timeout`` seconds is recorded as such.

Each measurement runs in a fresh process (``--one``), so its peak memory is its own:
``peak_mb`` is the resident peak of the run alone (the kernel's high-water mark reset
after the set-up and, for diffrax, the compilation) and ``base_mb`` the resident size
before it; ``seconds`` is wall-clock time, ``cpu_s`` the process' CPU time (rows measured
after it was added). Rounds alternate between solvers (A, B, C, A, B, C, ...) and the medians
are kept: robust to the load of a shared machine. BLAS and XLA run on one thread
(:mod:`integrate`'s settings).

Writes ``tests/benchmarks/results/scaling.json`` (the table :func:`geodln.plots.scaling.plot_scaling`
draws, with the fitted exponents) and ``tests/benchmarks/results/scaling.png`` (beside the table; figures/ holds only what ``geodln figures`` writes). Run from the repository root::

    python tests/benchmarks/scaling.py                        # the default grid (about 30 min on 2 cores)
    python tests/benchmarks/scaling.py --widths 8,16 --depths 2 --classify-widths 8 --rounds 1   # smoke run
    python tests/benchmarks/scaling.py --plot-only            # redraw the figure from the results file
    python tests/benchmarks/scaling.py --only classify        # re-measure the classification, keep the flow rows
    python tests/benchmarks/scaling.py --only flow --widths 512 --depths "" --rounds 1   # one more flow cell

``--only flow`` or ``--only classify`` measures that part alone (with the other options as usual) and merges it
into the existing results file (:func:`merge`): its rows replace those of the same cells (kind, solver, width,
depth), every other row is kept, the exponents are refitted, and the run's settings are appended to
``"updates"``. After a classification stopped at one width, the larger widths get a row ``"not run"``, so a
merge leaves no row of older code behind.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import integrate as bench  # noqa: E402  (the cases and runners of the integrate benchmark; sets the threads)

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "benchmarks" / "results" / "scaling.json"
FIGURE = ROOT / "tests" / "benchmarks" / "results" / "scaling.png"
SOLVERS = ("auto", "DOP853", "diffrax-Dopri8")
FIT_FROM = 4096  # weights from which the exponents are fitted (below, fixed costs per step dominate)


# ------------------------------------------------------------- one process
def _rss_mb(field: str) -> float:
    """``VmRSS`` or ``VmHWM`` of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    """Restart the kernel's resident high-water mark from the current size (Linux ``clear_refs`` 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def _measure(run) -> dict:
    """Time and peak memory of ``run()`` in this process (the modules it loads on first use loaded before)."""
    import scipy.integrate  # noqa: F401  (what geodln loads on first use: its pages are not the run's memory)
    import scipy.linalg  # noqa: F401
    import scipy.sparse.linalg  # noqa: F401

    _reset_peak()
    base = _rss_mb("VmRSS")
    t0, cpu0 = time.perf_counter(), time.process_time()
    info = run() or {}
    seconds = time.perf_counter() - t0
    # the CPU seconds beside the wall-clock ones: on a loaded machine the run's share of a core is below 1
    return {"seconds": seconds, "cpu_s": time.process_time() - cpu0, "base_mb": base,
            "peak_mb": _rss_mb("VmHWM") - base, **info}


def one_flow(solver: str, d: int, h: int, T: float) -> dict:
    flow, theta0 = bench.layered_case(d, h, min(d, 10), scale=0.1 / np.sqrt(d))
    out = {"kind": "flow", "solver": solver, "width": d, "depth": h, "D": flow.top.n_params, "T": T}
    if solver.startswith("diffrax-"):
        got = bench.diffrax_runner(flow, theta0, T, solver.split("-", 1)[1])
        if got is None:
            return {**out, "status": "jax or diffrax missing"}
        out["compile_s"] = got[0]
        run = got[1]
    else:
        def run():
            return bench._geodln(flow, theta0, T, solver)
    result = {}

    def timed():
        result["end"], result["nfev"], result["njvp"] = run()
    m = _measure(timed)
    out.update(m, nfev=int(result["nfev"]), njvp=int(result["njvp"]), status="ok",
               s_per_time=m["seconds"] / T, drift=bench.drift(flow, theta0, result["end"]))
    return out


MEMORY_CAP_GB = 6.0  # address space of one classification (a shared machine: fail with MemoryError, not swap)


def one_classify(d: int) -> dict:
    import resource

    import geodln

    cap = int(MEMORY_CAP_GB * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    top = geodln.layered([d] * 4)
    r = min(d, 10)
    data = geodln.Data.from_spectrum(np.linspace(r, 1, r), d, d, seed=0)
    flow = geodln.GradientFlow(top, data)
    theta = geodln.init.aligned(top, data, data.s[:5], seed=0)
    found = {}

    def run():
        found["cp"] = geodln.analyze_point(flow, theta)
    m = _measure(run)
    cp = found["cp"]
    return {"kind": "classify", "width": d, "depth": 3, "D": top.n_params, **m, "status": "ok",
            "learned": [int(k) for k in cp.learned], "class": str(cp.kind),
            "inertia": [int(cp.hessian.negative), int(cp.hessian.zero), int(cp.hessian.positive)]}


# ------------------------------------------------------------------ driver
def _spawn(args: list, timeout: float) -> dict:
    """One measurement in a fresh process: its JSON line, or a record of why there is none."""
    cmd = [sys.executable, __file__, "--one", *map(str, args)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
    except subprocess.TimeoutExpired:
        return {"status": f"over {timeout:g} s"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode or not lines:
        return {"status": "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(lines[-1])


def _median_row(rows: list) -> dict:
    """The row of the median time among the rounds of one cell, with every round's time kept."""
    good = [r for r in rows if r.get("status") == "ok"]
    if not good:
        return rows[-1]
    times = [r["seconds"] for r in good]
    row = dict(sorted(good, key=lambda r: r["seconds"])[len(good) // 2])
    row.update(seconds=statistics.median(times), s_per_time=statistics.median(times) / row["T"] if "T" in row
               else None, rounds=times, peak_mb=max(r["peak_mb"] for r in good))
    return row


def flow_grid(widths, depths, T, rounds, timeout, only_auto_above):
    cells = [(d, 4) for d in widths] + [(32, h) for h in depths if (32, h) not in [(d, 4) for d in widths]]
    table = []
    for d, h in cells:
        solvers = SOLVERS if d <= only_auto_above else ("auto",)
        runs = {s: [] for s in solvers}
        for _ in range(rounds):
            for s in solvers:  # interleaved: A, B, C, A, B, C
                got = _spawn(["flow", s, d, h, T], timeout)
                runs[s].append({"kind": "flow", "solver": s, "width": d, "depth": h, "T": T, **got})
        for s in solvers:
            row = _median_row(runs[s])
            table.append(row)
            print(f"flow {s:>15} width {d:4d} depth {h} D {row.get('D', '-')!s:>8}: "
                  f"{row.get('s_per_time') or float('nan'):9.4f} s per unit time, peak {row.get('peak_mb', float('nan')):8.1f} MB"
                  f", {row.get('status')}", flush=True)
    return table


def classify_grid(widths, rounds, timeout):
    table = []
    failed = None
    for d in widths:
        if failed is not None:  # larger ones take longer still; the row says so (and replaces an older one on a merge)
            table.append({"kind": "classify", "width": d, "depth": 3, "status": f"not run: width {failed} was not ok"})
            continue
        rows = [{"kind": "classify", "width": d, "depth": 3, **_spawn(["classify", d], timeout)} for _ in range(rounds)]
        row = _median_row(rows)
        table.append(row)
        print(f"classify width {d:4d} D {row.get('D', '-')!s:>8}: {row.get('seconds', float('nan')):8.2f} s, peak "
              f"{row.get('peak_mb', float('nan')):8.1f} MB, {row.get('status')} {row.get('class', '')} {row.get('inertia', '')}", flush=True)
        if row.get("status") != "ok":
            failed = d
    return table


def _cell(row) -> tuple:
    """What a row measured: kind, solver, width, depth (a re-measurement of the same cell replaces it)."""
    return row["kind"], row.get("solver", "analyze_point"), row["width"], row["depth"]


def merge(results: dict, table: list, settings: dict) -> dict:
    """``results`` with the rows of ``table`` in place of the rows of the same cells (new cells at the end).

    The exponents are refitted on the merged table; ``settings`` (those of the partial run) is appended to
    ``results["updates"]`` with the cells it measured, so the file says which rows came from which run.
    """
    new = {_cell(r): r for r in table}
    old = {_cell(r) for r in results["table"]}
    merged = [new.get(_cell(r), r) for r in results["table"]] + [r for c, r in new.items() if c not in old]
    update = {**settings, "cells": [list(c) for c in new]}
    return {**results, "table": merged, "exponents": exponents(merged),
            "updates": results.get("updates", []) + [update]}


def exponents(table) -> dict:
    """Fitted ``a`` of ``cost ~ D^a`` (least squares in log-log, points with ``D >= FIT_FROM``): per solver and cost."""
    fits = {}
    groups = {(r["kind"], r.get("solver", "analyze_point")) for r in table}
    for kind, solver in sorted(groups):
        rows = [r for r in table if r["kind"] == kind and r.get("solver", "analyze_point") == solver
                and r.get("status") == "ok" and r["D"] >= FIT_FROM and (kind == "classify" or r["depth"] == 4)]
        if len(rows) < 2:
            continue
        D = np.log([r["D"] for r in rows])
        key = "s_per_time" if kind == "flow" else "seconds"
        fits[f"{kind}/{solver}"] = {
            "time": float(np.polyfit(D, np.log([r[key] for r in rows]), 1)[0]),
            "memory": float(np.polyfit(D, np.log([max(r["peak_mb"], 1e-3) for r in rows]), 1)[0]),
            "D_range": [int(min(r["D"] for r in rows)), int(max(r["D"] for r in rows))]}
    return fits


def draw(results) -> None:
    from geodln.plots.scaling import plot_scaling
    from geodln.plots.style import save_figure

    save_figure(plot_scaling(results), FIGURE)
    print(f"wrote {FIGURE.relative_to(ROOT)}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--widths", default="8,16,32,64,128,256,512")
    p.add_argument("--depths", default="2,3,4,6,8")
    p.add_argument("--T", type=float, default=10.0, help="end time of each flow")
    p.add_argument("--classify-widths", default="8,16,32,64,128,256")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per measurement")
    p.add_argument("--only-auto-above", type=int, default=256, help="widths above it: auto only")
    p.add_argument("--plot-only", action="store_true")
    p.add_argument("--only", choices=("flow", "classify"),
                   help="measure only this part and merge it into the results file (see merge)")
    p.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        kind, *rest = args.one
        row = one_flow(rest[0], int(rest[1]), int(rest[2]), float(rest[3])) if kind == "flow" else one_classify(int(rest[0]))
        row.pop("end", None)
        print(json.dumps(row))
        return
    if args.plot_only:
        return draw(json.loads(RESULTS.read_text()))
    ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    table = []
    if args.only != "classify":
        table += flow_grid(ints(args.widths), ints(args.depths), args.T, args.rounds, args.timeout, args.only_auto_above)
    if args.only != "flow":
        table += classify_grid(ints(args.classify_widths), 1, args.timeout)
    settings = {**vars(args), "fit_from": FIT_FROM, "threads": os.environ.get("OPENBLAS_NUM_THREADS"),
                "machine": f"{os.cpu_count()} cores"}
    if args.only:
        results = merge(json.loads(RESULTS.read_text()), table, settings)
    else:
        results = {"settings": settings, "table": table, "exponents": exponents(table)}
    print(json.dumps(results["exponents"], indent=1))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    draw(results)


if __name__ == "__main__":
    main()
