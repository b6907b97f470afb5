"""
7. Hessian spectra at a minimum, a strict and a nonstrict saddle
================================================================

Sorted Hessian eigenvalues of the network 2,2,2,2 on data ``s = (3, 1)`` (symmetric-log axis, the
band of eigenvalues counted as zero shaded): the global minimum (no negative eigenvalue), the strict
saddle that learns mode 2 instead of mode 1 (one negative eigenvalue), and the nonstrict saddle that
learns mode 1 through a clean path (inertia 0/9/3: positive semidefinite, yet not a minimum - the
Hessian cannot see the way down).

The same figure, as PNG and PDF: ``geodln figures --only hessian``.
"""

import geodln
from geodln.plots import plot_hessian_spectrum

catalog = geodln.build_catalog([2, 2, 2, 2], [3.0, 1.0], seed=0)
picks = {
    "global minimum": lambda r: r["kind"] == "global_minimum",
    "strict saddle": lambda r: r["kind"] == "strict_saddle" and r["learned"] == [2] and not r["pieces"],
    "nonstrict saddle": lambda r: r["kind"] == "nonstrict_saddle" and r["learned"] == [1] and not r["pieces"],
}
spectra, kinds = {}, {}
for name, pick in picks.items():
    record = next(r for r in catalog.records if pick(r))
    J = ",".join(map(str, record["learned"]))
    label = rf"{name}, $J = \{{{J}\}}$"
    spectra[label] = catalog.hessian_spectrum(record)  # the sorted eigenvalues of the Hessian
    kinds[label] = record["kind"]
fig = plot_hessian_spectrum(spectra, kinds)
