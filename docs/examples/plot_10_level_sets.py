"""
10. Trajectories on the level sets of the conservation laws
===========================================================

A sparse layered network (widths 2,3,3,2, edge density 0.6) trained from a random start of scale 0.8
on data with singular values 2, 1. For each hidden node ``v``, with ``in_v`` and ``out_v`` the
weights into and out of ``v``, ``c_v = ||in_v||^2 - ||out_v||^2`` is conserved (the matrix laws
``C_i`` break on a sparse mask; the node laws survive). Left: one panel per hidden node (rows:
hidden layers 1 and 2; columns: units), each zoomed on its own path with equal axes: the point
``(||in_v||, ||out_v||)`` stays on its hyperbola (dashed), coloured by time from the open circle (t
= 0) to the filled one (t = 30); a cross marks where a node turns back along its hyperbola and
retraces part of its way, which is why a path can reach beyond its end point. Right, log-log: the
weights move by O(1) while the balances drift only at the integration tolerance.

The same figure, as PNG and PDF: ``geodln figures --only level-sets``.
"""

import numpy as np
import geodln
from geodln.plots import plot_level_sets

rng = np.random.default_rng([0, 10])  # as `geodln figures --only level-sets`
top = geodln.sparse_layered([2, 3, 3, 2], density=0.6, seed=rng)
data = geodln.Data.from_spectrum([2.0, 1.0], 2, 2, seed=rng)
traj = geodln.GradientFlow(top, data).integrate(geodln.init.small(top, scale=0.8, seed=rng), 30.0, n_points=400)
fig = plot_level_sets(traj)  # node balances ||in_v||^2 - ||out_v||^2 stay on their hyperbolas
