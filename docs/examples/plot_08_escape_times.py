"""
8. Escape-time laws at strict and nonstrict saddles
===================================================

Time for the flow started at distance ``eps`` from the origin along the balanced escape direction
(every weight ``eps / sqrt(h)``) to lose half the loss, for the scalar networks 1,1,1 (strict
saddle, escape order m = 2), 1,1,1,1 (nonstrict, m = 3) and 1,1,1,1,1 (nonstrict, m = 4), data ``s =
1``. Markers: measured by ``geodln.escape_time``; solid lines: the leading-order laws of the scalar
ODE ``dx/dt = x^(h-1) (s - x^h)``, ``t = log(1/eps) / s + c`` at the strict saddle (whose Hessian
has the eigenvalue ``-s``) and ``t = (eps / sqrt m)^(2-m) / ((m - 2) s)`` at the nonstrict ones; the
legend gives each fitted slope beside the law's. Left, log-log: the nonstrict laws are lines of
slope 2 - m; the strict law is not a power law. Right, semilog (time on a linear axis): the strict
law is a line of slope ``1/s = 1`` per unit of ``log(1/eps)``.

The same figure, as PNG and PDF: ``geodln figures --only escape-times``.
"""

import numpy as np
import geodln
from geodln.dynamics.closed_forms import scalar_escape_time
from geodln.plots import plot_escape_times

eps = np.geomspace(0.1, 1e-3, 7)
times, labels, orders, laws = [], [], [], []
for h in (2, 3, 4):
    flow = geodln.GradientFlow(geodln.layered([1] * (h + 1)), geodln.Data(np.eye(1), [[1.0]]))
    # from eps along the balanced direction (1, ..., 1) at the saddle 0, until L falls to L_{}/2
    times.append([geodln.escape_time(flow, np.zeros(h), np.ones(h), e) for e in eps])
    net = ",".join(["1"] * (h + 1))
    labels.append(f"{net}: " + ("strict, $m = 2$" if h == 2 else f"nonstrict, $m = {h}$"))
    orders.append(h)
    laws.append(scalar_escape_time(h, 1.0, eps))
fig = plot_escape_times(eps, times, labels, orders, theory=laws)
