"""
9. A fiber through a critical point and its balanced point
==========================================================

The orbit of the hidden-layer group through the nonstrict saddle of the network 2,2,2,2 that learns
mode 1 (data ``s = (3, 1)``), along the curve ``A(tau) = e^(tau X) A_bal e^(-tau X)`` for a
symmetric ``X`` in the group's Lie algebra, ``A_bal`` the balanced point of the orbit (``C_i = 0``,
least ``||A||_F``), found by ``NetworkBundle.balance`` from a random point of it. Left: the curve
projected on two of its weights that vary along it, coloured by ``tau``, the balanced point starred;
middle: the loss is constant along the orbit and equal to the critical value ``L_{1} = 0.5`` to
rounding (the largest deviation in the title); right: ``||A(tau)||_F`` is least at the balanced
point, ``tau = 0``, and grows away from it.

The same figure, as PNG and PDF: ``geodln figures --only fiber``.
"""

import numpy as np
import geodln
from geodln.geometry import NetworkBundle
from geodln.symmetry import act, algebra_mask, random_group_element

rng = np.random.default_rng([0, 9])  # as `geodln figures --only fiber`
widths = (2, 2, 2, 2)
top = geodln.layered(widths)
data = geodln.Data.from_spectrum([3.0, 1.0], 2, 2, seed=rng)
stratum = geodln.Stratum(widths, (1,), (), 2)  # the clean path learning mode 1: a nonstrict saddle
A0 = act(top, random_group_element(top, rng, "GL", spread=0.5), stratum.canonical_adjacency(top, data, rng))
bundle = NetworkBundle(top)
A_bal = bundle.balance(A0).A  # the balanced point of the orbit: C_i = 0, least ||A||_F

# a symmetric direction X of the Lie algebra: ||A|| is convex along e^(tau X), least at tau = 0
X = np.zeros((top.n, top.n))
rows, cols = np.nonzero(algebra_mask(top))
X[rows, cols] = rng.standard_normal(len(rows))
X = (X + X.T) / 2
X /= np.linalg.norm(X)
taus = np.linspace(-1.2, 1.2, 121)
curve = np.array([bundle.fiber_point(A_bal, tau * X) * top.mask for tau in taus])
thetas = np.array([top.pack(A) for A in curve])
flow = geodln.GradientFlow(top, data)
labels = []
for j, k in zip(*top.edge_index):  # the edge j -> k is the entry (W_i)_{b a}
    (_, a), (i, b) = top.nodes[j], top.nodes[k]
    labels.append(f"$(W_{i})_{{{b + 1}{a + 1}}}$")
fig = geodln.plots.plot_fiber(thetas, [flow.loss(x) for x in thetas], np.linalg.norm(curve, axis=(1, 2)),
                              int(np.argmin(np.abs(taus))), param=taus, coord_labels=labels,
                              critical_value=data.critical_value([1]))
