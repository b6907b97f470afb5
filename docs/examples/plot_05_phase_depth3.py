"""
5. Phase portrait of the scalar network 1,1,1,1
===============================================

The flow of ``L = (s - w_1 w_2 w_3)^2 / 2``, ``s = 1``, on the invariant plane ``w_1 = w_3``. The
critical line ``w_1 = w_3 = 0`` (dashed) consists of strict saddles except the origin, which is
nonstrict (the loss falls like ``eps^3``, the Hessian is 0): the origin is left along the balanced
half-lines where the product is positive (``w_2 = |w_1|``, orange) and approached along those where
it is negative (blue). Trajectories stay on the conserved hyperbolas ``w_1^2 - w_2^2 = c`` and reach
the global minima ``w_1^2 w_2 = s`` (green) when ``w_2 > 0``; below, they end on the critical line:
its points with ``w_2 < 0`` attract within this plane, their unstable direction ``w_1 = -w_3``
leaves it.

The same figure, as PNG and PDF: ``geodln figures --only phase-depth3``.
"""

import numpy as np
import geodln
from geodln.plots import plot_phase_portrait

# the scalar network 1,1,1,1 on the data s = 1: L = (1 - w_1 w_2 w_3)^2 / 2, on the plane w_1 = w_3
flow = geodln.GradientFlow(geodln.layered([1, 1, 1, 1]), geodln.Data(np.eye(1), [[1.0]]))
fig = plot_phase_portrait(flow, lim=2.0)
