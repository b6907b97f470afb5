r"""
11. Gradient descent against the gradient flow
==============================================

The network 2,3,3,2 from one random start: the flow (black) and gradient descent at steps ``eta =
0.03 .. 1.5 eta*``, with ``eta* = 2 / lambda_max`` the stability threshold at the minimum the flow
reaches. Steps below the threshold converge like the flow; at 1.5 eta\* the loss keeps oscillating
around 0.1. Middle and right: descent breaks the conservation laws, which the flow keeps to rounding
(values below 1e-12, whose size depends on the machine's arithmetic, are drawn on that floor, in the
grey band): one step changes ``C_i`` by exactly ``eta^2 (G_i G_i^T - G_(i+1)^T G_(i+1))`` (fitted
slope 2), the drift accumulated over the fixed time t = 12 scales like eta (slope 1); open circles:
the run above the threshold (dashed line), left out of the fits.

The same figure, as PNG and PDF: ``geodln figures --only descent``.
"""

import numpy as np
import geodln
from geodln.plots import plot_descent_vs_flow

rng = np.random.default_rng([0, 11])  # as `geodln figures --only descent`
top = geodln.layered([2, 3, 3, 2])
data = geodln.Data.from_spectrum([2.0, 1.0], 2, 2, seed=rng)
flow = geodln.GradientFlow(top, data)
theta0 = geodln.init.small(top, scale=0.5, seed=rng)
t_end = 12.0
ref = flow.integrate(theta0, t_end, n_points=300)
threshold = 2.0 / np.linalg.eigvalsh(geodln.hessian(flow, ref.final))[-1]  # eta* = 2 / lambda_max
descents = {}
for frac in (0.03, 0.1, 0.3, 0.9, 1.5):
    eta = frac * threshold
    try:
        descents[eta] = flow.descend(theta0, eta, int(round(t_end / eta)))
    except geodln.DivergenceError:
        descents[eta] = None
fig = plot_descent_vs_flow(ref, descents, threshold)
