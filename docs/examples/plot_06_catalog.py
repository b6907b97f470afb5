"""
6. A catalog of critical points
===============================

Every stratum of critical points of the network 3,3,3,3 on data with singular values 3, 2, 1 (the
130 strata of the catalog ``geodln catalog --widths 3,3,3,3 --spectrum 3,2,1 --seed 0`` makes), one
column per stratum, grouped by the learnt set J (narrow groups are padded so that their labels fit).
Top: the critical value ``L_J`` of each stratum, coloured and shaped by kind: one global minimum,
126 strict saddles and 3 nonstrict saddles, the strata of the top sets J = {}, {1}, {1,2} without
dangling pieces. Bottom: the Hessian inertia at each stratum's representative, as stacked counts of
negative, zero and positive eigenvalues (27 in all, one per weight).

The same figure, as PNG and PDF: ``geodln figures --only catalog``.
"""

import geodln
from geodln.plots import plot_catalog

# the catalog of `geodln catalog` (catalogs/default), built in memory: nothing is written
catalog = geodln.build_catalog([3, 3, 3, 3], [3.0, 2.0, 1.0], seed=0)
print(catalog.to_dataframe().kind.value_counts())
fig = plot_catalog(catalog)
