"""
2. Saddle-to-saddle dynamics from a small start
===============================================

Gradient flow of the network 3,4,4,3 from a small random start (scale 3e-3) on whitened data with
singular values 3, 2, 1. Left: the loss ``L(t)`` rests on plateaus at the critical values ``L_J =
1/2 sum_(k not in J) s_k^2`` (dashed, named on the right) of the sets J = {}, {1}, {1,2} of learnt
modes, and ends at the global minimum ``L_{1,2,3} = 0``. The shaded intervals are the itinerary
found by ``geodln.itinerary``, the times the flow spends near a critical point of each J, labelled
on its plateau. Right: the singular values of ``W(t)`` are learnt one at a time, largest first, each
rising to the data's ``s_k`` (dotted).

The same figure, as PNG and PDF: ``geodln figures --only plateaus``.
"""

import numpy as np
import geodln
from geodln.plots import plot_trajectory

rng = np.random.default_rng([0, 2])  # as `geodln figures --only plateaus`
top = geodln.layered([3, 4, 4, 3])
data = geodln.Data.from_spectrum([3.0, 2.0, 1.0], 3, 3, seed=rng)
flow = geodln.GradientFlow(top, data)
traj = flow.integrate(geodln.init.small(top, scale=3e-3, seed=rng), 400.0, n_points=800)

visits = geodln.itinerary(traj)  # the saddles visited: learnt set J, value L_J, entry and exit times
for visit in visits:
    print(visit.learned, visit.kind, round(visit.t_enter, 1), round(visit.t_exit, 1))
fig = plot_trajectory(traj, itinerary=visits)
