"""
4. Phase portrait of the scalar network 1,1,1
=============================================

The flow of ``L = (s - w_1 w_2)^2 / 2``, ``s = 1``: unit arrows coloured by speed, the conserved
hyperbolas ``w_1^2 - w_2^2 = c`` (grey), the global-minimum hyperbola ``w_1 w_2 = s`` (green), and
the origin, a strict saddle: its unstable set is the line ``w_1 = w_2`` (orange, outward arrows),
its stable set ``w_1 = -w_2`` (blue). Trajectories (black, from the open circles) follow the grey
hyperbolas to the minimum.

The same figure, as PNG and PDF: ``geodln figures --only phase-depth2``.
"""

import numpy as np
import geodln
from geodln.plots import plot_phase_portrait

# the scalar network 1,1,1 on the data s = 1: L = (1 - w_1 w_2)^2 / 2
flow = geodln.GradientFlow(geodln.layered([1, 1, 1]), geodln.Data(np.eye(1), [[1.0]]))
fig = plot_phase_portrait(flow, lim=2.0)
