"""Cost of ``auto``'s scale-aware error control (issue 26) at widths 32-100, before and after, in one run.

``auto`` caps each component's absolute tolerance at ``rtol |y0_i|``
(:func:`geodln.integrate.auto.component_atol`) and measures the balances'
drift against the size of each balance's terms
(``GradientFlow._conservation``). "before" restores the previous behaviour
for the comparison by patching both hooks (the user's ``atol`` for every
component; the drift against ``max(1, max |C(0)|)``); rounds alternate
between the two, medians are reported, with their ratio and the relative
distance of the two end points.

Cases: fully connected ``layered([d] * (h + 1))``, whitened data with
singular values ``linspace(10, 1, 10)`` (a rank-10 target), start ``init.small``
at ``scale``, rtol 1e-8, atol 1e-12, to ``T``.

Run from the repository root::

    python tests/benchmarks/small_weights.py                 # widths 32, 64, 100
    python tests/benchmarks/small_weights.py --cases 32x5 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import contextmanager

import numpy as np

import geodln.dynamics.flow as flow_module
import geodln.integrate.auto as auto_module
from geodln import Data, GradientFlow, init, layered

CASES = {"32x5": (32, 4, 1e-2, 40.0), "64x5": (64, 4, 1e-2, 20.0), "100x4": (100, 3, 1e-2, 20.0)}
RTOL, ATOL = 1e-8, 1e-12


@contextmanager
def before():
    """The error control as it was: one absolute tolerance, balances' drift against one global scale."""
    atol, magnitudes = auto_module.component_atol, flow_module._balance_magnitudes
    auto_module.component_atol = lambda y0, rtol, atol: atol
    flow_module._balance_magnitudes = lambda level: None
    try:
        yield
    finally:
        auto_module.component_atol, flow_module._balance_magnitudes = atol, magnitudes


def case(d, h, scale, T):
    top = layered([d] * (h + 1))
    data = Data.from_spectrum(np.linspace(10.0, 1.0, 10), d, d, seed=0)
    return GradientFlow(top, data), init.small(top, scale=scale, seed=0), T


def timed(flow, theta0, T):
    start = time.perf_counter()
    sol = flow.solve(theta0, (0.0, T), t_eval=[T], rtol=RTOL, atol=ATOL)
    return time.perf_counter() - start, sol


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"{'case':>7} {'D':>6} {'before s':>9} {'after s':>9} {'ratio':>6} {'nfev b/a':>13} {'njvp b/a':>13} "
          f"{'end rel':>8}")
    for name in args.cases.split(","):
        flow, theta0, T = case(*CASES[name])
        times = {"before": [], "after": []}
        sols = {}
        for _ in range(args.rounds):
            with before():
                t, sols["before"] = timed(flow, theta0, T)
            times["before"].append(t)
            t, sols["after"] = timed(flow, theta0, T)
            times["after"].append(t)
        tb, ta = statistics.median(times["before"]), statistics.median(times["after"])
        yb, ya = sols["before"].y[:, -1], sols["after"].y[:, -1]
        rel = np.linalg.norm(ya - yb) / np.linalg.norm(yb)
        print(f"{name:>7} {flow.top.n_params:>6} {tb:>9.2f} {ta:>9.2f} {ta / tb:>6.2f} "
              f"{sols['before'].nfev:>6}/{sols['after'].nfev:<6} {sols['before'].njvp:>6}/{sols['after'].njvp:<6} "
              f"{rel:>8.1e}", flush=True)


if __name__ == "__main__":
    main()
