"""
3. Learning curves against the closed forms, depths 2, 3, 4
===========================================================

Aligned (spectral, balanced) starts of the networks 3,3,3 / 3,3,3,3 / 3,3,3,3,3 (depth h = 2, 3, 4)
on whitened data with singular values 3, 2, 1, every mode starting at strength ``u_0 = 0.01``: the
singular values of ``W(t)`` from the full network flow (coloured) lie on the closed-form curves of
the scalar ODE ``du/dt = h u^(2-2/h) (s_k - u)`` (black dashed; the logistic curve for h = 2, a
quadrature for h = 3, 4). The three panels share their time axis: the deeper the network, the longer
each mode waits before it is learnt and the sharper its rise; at every depth the weaker modes wait
longer.

The same figure, as PNG and PDF: ``geodln figures --only closed-forms``.
"""

import numpy as np
import geodln
from geodln.plots import plot_mode_curves

rng = np.random.default_rng([0, 3])  # as `geodln figures --only closed-forms`
s, u0, depths = [3.0, 2.0, 1.0], 1e-2, (2, 3, 4)
data = geodln.Data.from_spectrum(s, 3, 3, seed=rng)

# closed forms: (t, u) of every mode at every depth, solved for t by quadrature
curves = [[geodln.init.aligned_mode_curve(sk, u0, h) for sk in s] for h in depths]
t_end = 1.1 * max(t[-1] for mode_curves in curves for t, _ in mode_curves)  # one time axis for all depths
trajs, titles = [], []
for h in depths:
    top = geodln.layered([3] * (h + 1))
    theta0 = geodln.init.aligned(top, data, [u0] * 3, seed=rng)  # every mode at strength u0, balanced
    trajs.append(geodln.GradientFlow(top, data).integrate(theta0, t_end, n_points=300, rtol=1e-11, atol=1e-14))
    titles.append(rf"depth $h = {h}$")
fig = plot_mode_curves(trajs, curves, titles)
