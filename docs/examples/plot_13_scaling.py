"""
13. Cost against size: the scaling benchmark (measured, not recomputed)
=======================================================================

How the flow's and the classification's costs grow with the number of weights ``D``, as measured
by ``tests/benchmarks/scaling.py`` on one machine (2 cores, BLAS and XLA on one thread, each
measurement alone in a fresh process, the median of its rounds) and shipped in
``tests/benchmarks/results/scaling.json``. **This build does not measure anything**: the script
only draws that file, so the numbers are those of the machine and the code of the run the file
records (its ``settings`` and ``updates``), not of the computer showing this page.

The flow is integrated on ``[0, 10]`` at rtol 1e-8, atol 1e-12 from a small random start (each
layer's gain about 0.1) towards a whitened target of rank ``min(d, 10)``, by ``auto``, DOP853
(SciPy) and diffrax's Dopri8 (jit compiled, float64; the compile time is excluded). (a) Seconds of
wall-clock time per unit of flow time against ``D`` for widths ``d^5`` (depth 4, d = 8 to 512;
above 256 only ``auto`` is run); (b) the same against the depth ``h`` = 2 to 8 at width 32; (c) the
peak resident memory of the integration (above the process' size before it, in MB) against ``D``;
(d) ``geodln.analyze_point`` on a constructed critical point (``J = {1, ..., 5}``, widths ``d^4``):
its seconds and peak memory (MB) against ``D``. Legends give the fitted exponent ``a`` of ``cost ~
D^a`` (least squares in log-log over the points with ``D >= 4096``, below which fixed costs per step
dominate; none where fewer than two such points finished); dotted grey: ``D^1`` and ``D^2`` guides. Cells that did not finish (stopped, over the
time limit) are rows of the file with their status, and are not drawn.

Re-measure with ``python tests/benchmarks/scaling.py`` (about 30 minutes), or one part with
``--only flow`` / ``--only classify`` (merged into the file); redraw with ``--plot-only``.
"""

from pathlib import Path

import geodln
from geodln.plots import load_scaling, plot_scaling

# the results file the repository ships, beside the package's source tree (as docs/conf.py finds catalogs/)
root = Path(geodln.__file__).resolve().parents[1]
results = load_scaling(root / "tests" / "benchmarks" / "results" / "scaling.json")
fig = plot_scaling(results)
for name, fit in results["exponents"].items():
    print(f"{name}: time ~ D^{fit['time']:.2f}, memory ~ D^{fit['memory']:.2f} (D = {fit['D_range'][0]}..{fit['D_range'][1]})")
