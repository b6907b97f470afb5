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
"""

import argparse
import time
from itertools import combinations

import numpy as np

import geodln
from geodln import symmetry
from geodln.hessian import hessian, inertia, lanczos_extremes
from geodln.strata import Stratum
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
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
