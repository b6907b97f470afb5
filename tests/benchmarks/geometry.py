"""Benchmark of the vertical projection and of ``balance`` (issue 5).

For ``layered([w, w, w, w])`` (three layers, two hidden levels of width ``w``,
``dim G = 2 w^2``, ``n_params = 3 w^2``) with weights ``N(0, 1/w)``:

(a) ``NetworkBundle.vertical_projection(A, V)`` of a random ``V`` (LSQR with
    the Sylvester preconditioner for ``w >= 30``; dense SVD for ``w = 10``),
    checked by ``<vertical, horizontal> = 0`` and by ``L^T(horizontal) = 0``;
(b) ``NetworkBundle.balance(A)`` of a point moved off balance by a random GL
    element, checked by ``max |C_i| < 1e-10 ||A||^2`` and ``S . A = A_bal``.

Goal: both under 0.3 s at width 50. Timings are best of 5 with
``time.perf_counter`` after a warm-up call.

Run from the repository root::

    python tests/benchmarks/geometry.py           # widths 10, 30, 50
    python tests/benchmarks/geometry.py --quick   # width 10 only

This is a standalone script, not a pytest test.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from geodln import layered
from geodln import symmetry as sy
from geodln.geometry import NetworkBundle

WIDTHS = (10, 30, 50)
GOAL = 0.3


def best_of(fn, runs: int = 5) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="width 10 only")
    args = parser.parse_args(argv)
    widths = WIDTHS[:1] if args.quick else WIDTHS
    ok = True
    print(f"{'width':>5} {'n_params':>8} {'dim G':>6} {'projection s':>13} {'balance s':>10}  checks")
    for w in widths:
        top = layered([w] * 4)
        rng = np.random.default_rng(w)
        bundle = NetworkBundle(top, "GL")
        A = top.adjacency(rng.standard_normal(top.n_params) / np.sqrt(w))
        V = top.adjacency(rng.standard_normal(top.n_params))
        vert = bundle.vertical_projection(A, V)
        hor = V - vert
        adjoint = sy.bracket_adjoint(top, top.pack(hor), top.pack(A))
        proj_ok = abs(np.sum(vert * hor)) < 1e-9 * np.sum(V * V) and np.abs(adjoint).max() < 1e-8 * np.abs(V).max() * np.abs(A).max()
        A_off = bundle.act(bundle.random_group_element(seed=1, scale=1.0), A)
        res = bundle.balance(A_off)
        bal_ok = res.closed and res.residual < 1e-10 * np.sum(A_off * A_off) and np.allclose(bundle.act(res.S, A_off), res.A, atol=1e-9)
        t_proj = best_of(lambda: bundle.vertical_projection(A, V))
        t_bal = best_of(lambda: bundle.balance(A_off))
        fast = w != 50 or (t_proj < GOAL and t_bal < GOAL)
        ok &= proj_ok and bal_ok and fast
        print(
            f"{w:>5} {top.n_params:>8} {bundle.dim:>6} {t_proj:>13.4f} {t_bal:>10.4f}  "
            f"projection {'ok' if proj_ok else 'FAILED'}, balance {'ok' if bal_ok else 'FAILED'} "
            f"(max|C| = {res.residual:.1e}){'' if fast else ', SLOWER THAN GOAL'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
