"""Benchmark of the gradient-flow vector field ``GradientFlow.rhs``.

For fully connected layered networks ``layered([width] * (h + 1))`` on whitened
data with ``width`` distinct singular values, three ways to compute
``-dL/dtheta`` are checked against each other (relative error < 1e-10) and
timed:

(a) ``GradientFlow.rhs(theta)``, the library (block by block, packed theta);
(b) a hand-written layer-wise numpy gradient on a list of layer matrices:
    prefix products ``P_i = W_i ... W_1``, ``E = Syx - W Sxx``, then
    ``dW_i = (W_h ... W_{i+1})^T E (W_{i-1} ... W_1)^T`` by back-propagation;
(c) the dense adjacency reference ``vector_field_dense(A, mask, F, [h])`` with
    ``F = P_in E^T P_out^T`` (n x n, slow; timed with 1-3 runs and skipped
    when one evaluation is estimated to take more than ~30 s).

A plain ``width x width`` matrix product is timed as well, and the achieved
GFLOP/s of (a) and (b) (flops of the layer-wise algorithm, ``2 m n k`` per
matmul) are printed next to it. Timings are best-of-5 with ``time.perf_counter``
after a warm-up, rhs and layer-wise measured alternately; each measurement loops
over enough calls that the five take about 1 s per function (``--target``).

Goals: rhs within 1.1x of the layer-wise code; the dense formula at least 200x
slower than rhs at (h, width) = (8, 128) (see DESIGN.md, "Cost").

Run from the repository root::

    python tests/benchmarks/flow.py            # all sizes (about 20 s)
    python tests/benchmarks/flow.py --quick    # smallest size only (smoke run)

This is a standalone script, not a pytest test. The BLAS threading is left as
the environment sets it (``OPENBLAS_CORETYPE``, ``OMP_NUM_THREADS``, ...).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

from geodln import Data, layered
from geodln.dynamics.flow import GradientFlow, vector_field_dense

SIZES = ((4, 32), (8, 128), (16, 64))
RTOL = 1e-10
RHS_GOAL = 1.1  # rhs / layer-wise at most this
DENSE_GOAL = 200.0  # dense / rhs at least this at (8, 128)
DENSE_GOAL_SIZE = (8, 128)
DENSE_BUDGET = 30.0  # seconds per dense evaluation above which (c) is skipped


# ----------------------------------------------------------------- timing
def _calibrate(fn, target: float) -> int:
    """Calls per measurement so that one measurement of ``fn`` takes about ``target`` s."""
    t0 = time.perf_counter()
    fn()
    t1 = time.perf_counter() - t0
    inner = max(1, int(round(target / max(t1, 1e-9))))
    if inner > 1:  # refine on a loop of calls (one call is noisy)
        k = min(inner, 100)
        t0 = time.perf_counter()
        for _ in range(k):
            fn()
        t1 = (time.perf_counter() - t0) / k
        inner = max(1, int(round(target / max(t1, 1e-9))))
    return inner


def bench(fns: dict, target: float = 1.0, repeats: int = 5) -> dict:
    """Best and median time per call of each ``fn()`` in ``fns``, in seconds.

    Each function is warmed up and calibrated, then the measurements of the
    functions are interleaved (round robin, ``repeats`` rounds) so that slow
    drifts of the machine hit all of them alike; each measurement loops over
    ``inner`` calls, sized so that the ``repeats`` measurements of one function
    take about ``target`` seconds together.
    """
    inner = {}
    for name, fn in fns.items():
        fn()  # warm-up
        inner[name] = _calibrate(fn, target / repeats)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(inner[name]):
                fn()
            times[name].append((time.perf_counter() - t0) / inner[name])
    return {name: (min(ts), statistics.median(ts)) for name, ts in times.items()}


def bench_few(fn, runs: int) -> float:
    """Best of ``runs`` single calls (for slow functions; no separate warm-up)."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


# ----------------------------------------------------- layer-wise gradient
def layerwise_gradient(Ws, Syx, Sxx):
    """``[-dL/dW_1, ..., -dL/dW_h]`` for ``L = 1/2 ||Y - W_h ... W_1 X||^2``.

    ``Ws = [W_1, ..., W_h]``, ``W_i`` of shape ``(d_i, d_{i-1})``.
    """
    h = len(Ws)
    P = [Ws[0]]  # P[i] = W_{i+1} ... W_1
    for W in Ws[1:]:
        P.append(W @ P[-1])
    E = Syx - P[-1] @ Sxx  # -dL/dW
    grads = [None] * h
    G = E  # G = (W_h ... W_{i+2})^T E while computing grads[i]
    for i in range(h - 1, 0, -1):
        grads[i] = G @ P[i - 1].T
        G = Ws[i].T @ G
    grads[0] = G
    return grads


def layerwise_flops(widths, d_in: int, d_out: int) -> int:
    """Flops of :func:`layerwise_gradient` (``2 m n k`` per matmul)."""
    h = len(widths) - 1
    d0 = widths[0]
    flops = sum(2 * widths[i + 1] * widths[i] * d0 for i in range(1, h))  # prefix products
    flops += 2 * d_out * d_in * d_in  # W Sxx
    flops += sum(2 * widths[i] * widths[i + 1] * d0 for i in range(1, h))  # G updates
    flops += sum(2 * widths[i + 1] * d0 * widths[i] for i in range(1, h))  # dW_i, i >= 2
    return flops


def pack_layer_grads(top, grads) -> np.ndarray:
    """Packed ``theta``-shaped vector from ``[dW_1, ..., dW_h]`` (block (i-1, i) is ``dW_i^T``)."""
    out = np.empty(top.n_params)
    for blk, g in zip(top.blocks, grads):
        out[blk.segment] = g.T.ravel()
    return out


def dense_F(top, data, theta) -> np.ndarray:
    """``F = P_in (Syx - W Sxx)^T P_out^T``, shape=[n, n]."""
    W = top.end_to_end(theta)
    E = data.Syx - W @ data.Sxx
    F = np.zeros((top.n, top.n))
    sl = top.level_slices
    F[sl[0], sl[-1]] = E.T
    return F


def dense_flops(n: int, h: int) -> int:
    """Flops of ``vector_field_dense(..., lengths=[h])``: h powers, 2h products for the sum."""
    return 3 * h * 2 * n**3


def rel_err(x, ref) -> float:
    return float(np.linalg.norm(x - ref) / max(np.linalg.norm(ref), np.finfo(float).tiny))


# ------------------------------------------------------------------ driver
def run_size(h: int, width: int, seed: int = 0, target: float = 1.0) -> dict:
    rng = np.random.default_rng(seed)
    top = layered([width] * (h + 1))
    data = Data.from_spectrum(np.linspace(2.0, 0.1, width), width, width, seed=rng)
    flow = GradientFlow(top, data)
    theta = rng.standard_normal(top.n_params) / np.sqrt(width)
    Ws = [np.ascontiguousarray(W) for W in top.layer_weights(theta)]
    Syx, Sxx = data.Syx, data.Sxx
    n = top.n

    # -- agreement
    g_rhs = flow.rhs(theta)
    g_lw = pack_layer_grads(top, layerwise_gradient(Ws, Syx, Sxx))
    err_lw = rel_err(g_lw, g_rhs)
    assert err_lw < RTOL, f"(h={h}, width={width}): rhs vs layer-wise relative error {err_lw:.3g}"

    # -- timings of (a) and (b), before the large n x n arrays below touch the allocator
    res = bench({"rhs": lambda: flow.rhs(theta), "lw": lambda: layerwise_gradient(Ws, Syx, Sxx)}, target)
    (t_rhs, t_rhs_med), (t_lw, t_lw_med) = res["rhs"], res["lw"]

    # -- plain matmuls: width (for GFLOP/s), n (to estimate the dense cost)
    a, b = rng.standard_normal((2, width, width))
    t_mm = bench({"matmul": lambda: a @ b}, target)["matmul"][0]
    gflops_mm = 2 * width**3 / t_mm / 1e9
    an, bn = rng.standard_normal((2, n, n))
    t_mm_n = bench_few(lambda: an @ bn, 3)
    est_dense = dense_flops(n, h) / (2 * n**3) * t_mm_n

    t_dense, err_dense = None, None
    if est_dense <= DENSE_BUDGET:
        A, mask, F = top.adjacency(theta), top.mask, dense_F(top, data, theta)
        t0 = time.perf_counter()
        dA = vector_field_dense(A, mask, F, lengths=[h])  # also the warm-up
        t_first = time.perf_counter() - t0
        err_dense = rel_err(dA, top.adjacency(g_rhs))
        assert err_dense < RTOL, f"(h={h}, width={width}): dense vs rhs relative error {err_dense:.3g}"
        runs = 3 if t_first < 3.0 else (1 if t_first > 10.0 else 2)
        t_dense = bench_few(lambda: vector_field_dense(A, mask, F, lengths=[h]), runs)

    flops = layerwise_flops(top.widths, data.d_in, data.d_out)
    return dict(
        h=h, width=width, n=n, t_rhs=t_rhs, t_rhs_med=t_rhs_med, t_lw=t_lw, t_lw_med=t_lw_med,
        t_dense=t_dense, est_dense=est_dense, err_lw=err_lw, err_dense=err_dense,
        gf_rhs=flops / t_rhs / 1e9, gf_lw=flops / t_lw / 1e9, gf_mm=gflops_mm, t_mm=t_mm,
    )


def fmt_time(t) -> str:
    if t is None:
        return "skipped"
    if t < 1e-3:
        return f"{t * 1e6:.1f} us"
    if t < 1.0:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.2f} s"


def print_env() -> None:
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if var in os.environ:
            print(f"{var}={os.environ[var]}")
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        print("threadpoolctl not available")
        return
    for pool in threadpool_info():
        print("BLAS: " + ", ".join(f"{k}={pool.get(k)}" for k in
                                    ("internal_api", "version", "architecture", "num_threads", "threading_layer"))
              + f" ({os.path.basename(os.path.dirname(pool['filepath']))})")


def print_table(rows) -> None:
    head = ("h", "width", "n", "t_rhs", "t_layerwise", "rhs/lw", "t_dense", "dense/rhs",
            "GF/s rhs", "GF/s lw", "GF/s matmul")
    lines = []
    for r in rows:
        dense_ratio = "-" if r["t_dense"] is None else f"{r['t_dense'] / r['t_rhs']:.0f}x"
        lines.append((
            str(r["h"]), str(r["width"]), str(r["n"]), fmt_time(r["t_rhs"]), fmt_time(r["t_lw"]),
            f"{r['t_rhs'] / r['t_lw']:.3f}", fmt_time(r["t_dense"]), dense_ratio,
            f"{r['gf_rhs']:.2f}", f"{r['gf_lw']:.2f}", f"{r['gf_mm']:.2f}",
        ))
    w = [max(len(x) for x in col) for col in zip(head, *lines)]
    print("  ".join(x.rjust(k) for x, k in zip(head, w)))
    print("  ".join("-" * k for k in w))
    for line in lines:
        print("  ".join(x.rjust(k) for x, k in zip(line, w)))


def print_goals(rows) -> None:
    print()
    print("times: best of 5; GFLOP/s of rhs and layer-wise count the layer-wise algorithm's matmuls;")
    print("matmul: one width x width @ width x width product")
    for r in rows:
        ratio = r["t_rhs"] / r["t_lw"]
        ok = "OK  " if ratio <= RHS_GOAL else "MISS"
        print(f"[{ok}] (h={r['h']}, width={r['width']}) rhs/layer-wise = {ratio:.3f} (goal <= {RHS_GOAL}); "
              f"medians {fmt_time(r['t_rhs_med'])} / {fmt_time(r['t_lw_med'])}; "
              f"rel. err layer-wise {r['err_lw']:.1e}"
              + ("" if r["err_dense"] is None else f", dense {r['err_dense']:.1e}"))
    for r in rows:
        if (r["h"], r["width"]) == DENSE_GOAL_SIZE:
            if r["t_dense"] is None:
                print(f"[SKIP] (h={r['h']}, width={r['width']}) dense skipped "
                      f"(estimated {r['est_dense']:.0f} s per evaluation)")
            else:
                ratio = r["t_dense"] / r["t_rhs"]
                ok = "OK  " if ratio >= DENSE_GOAL else "MISS"
                print(f"[{ok}] (h={r['h']}, width={r['width']}) dense/rhs = {ratio:.0f}x (goal >= {DENSE_GOAL:.0f}x)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smallest size only (smoke run)")
    parser.add_argument("--target", type=float, default=1.0,
                        help="seconds spent timing each function at each size (default 1.0)")
    args = parser.parse_args(argv)
    # Allocator warm-up. rhs returns a fresh n_params-long vector (512 kB at h=16,
    # width=64). In a fresh process glibc malloc gives such blocks back to the OS when
    # they are freed (mmap, or trimming the top of the heap) and page-faults them in
    # again on the next call (~256 minor faults per call), which about doubled rhs's time
    # at (16, 64). Freeing one large mmapped block raises glibc's dynamic mmap and trim
    # thresholds: the state a long integration or descent loop is in anyway (measured
    # there: ~0 page faults per rhs call). The layer-wise code, returning a list of small
    # arrays, is not affected.
    block = np.ones(2**21)  # 16 MB
    del block
    sizes = SIZES[:1] if args.quick else SIZES
    target = min(args.target, 0.5) if args.quick else args.target
    print_env()
    print()
    rows = []
    for h, width in sizes:
        rows.append(run_size(h, width, target=target))
    print_table(rows)
    print_goals(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
