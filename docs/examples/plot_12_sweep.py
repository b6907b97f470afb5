"""
12. Escape laws from a sweep over scales, depths and seeds
==========================================================

``geodln.sweep`` of the flow over the initial scale ``eps`` (each weight ``eps N(0,1)``), depths 2
and 3 (widths 2,2,2 and 2,2,2,2, data modes 3, 1) and 3 seeds. Left: the time ``T_k`` at which mode
``k`` is half learnt; right: the time each run spent at the saddle ``{1..k-1}`` it learns mode ``k``
from (the itinerary's exit minus entry time; depth 2 rests too briefly there to make a visit at most
scales). Dots: runs, circles: medians, dashed: the law of that saddle. Depth 3: from a small start
all three links of the next mode's path start at size ``eps``, so the escape order is ``m = 3`` and
the times go like ``eps^(2-m)`` (slope -1; the stay on the start plateau bends at the largest scale,
where the start is hardly a plateau and the visit's ends are set by the speed threshold); depth 2:
strict saddles, ``T_k = log(1/eps)/s_k + O(1)``. The legends give the fitted slope and the theory's
in brackets (for depth 2 the slope against ``log(1/eps)``, theory ``1/s_k``), as returned by
``plot_escape_laws``.

The same figure, as PNG and PDF: ``geodln figures --only sweep``.
"""

import numpy as np
import geodln
from geodln.plots import plot_escape_laws

rng = np.random.default_rng([0, 12])  # as `geodln figures --only sweep`
grid = {"widths": ["2,2,2", "2,2,2,2"], "scale": [5e-3, 1.5e-2, 4.5e-2]}
seeds = [int(x) for x in rng.integers(0, 2**31, size=3)]
ds = geodln.sweep("flow", grid, seeds=seeds, workers=1, progress=False,  # serial: no Dask cluster
                  settings={"spectrum": "3,1", "t_end": 1000.0, "n_points": 600})
fig, fits = plot_escape_laws(ds)
print(fits)
