"""Geometry of the symmetry group on geomstats: fibers, quotient, balanced section, level sets.

The hidden-layer group ``G`` (``GL(d_i)`` on every fully connected hidden
level, node rescalings on the others) acts by block-diagonal similarity
``S . A = S A S^{-1}`` (:mod:`geodln.symmetry`), leaving the end-to-end map
and every loss invariant. The fiber through ``A`` is its orbit, with vertical
space ``{[Xi, A] : Xi in g}`` and horizontal space its Frobenius complement.
``||A||_F`` is invariant under the orthogonal subgroup
``K = O(d_1) x ... x O(d_{h-1})`` only, so the quotient metric

    d([A], [B]) = min_{k in K} ||A - k B k^T||_F

exists for ``group="O"`` alone. The moment map of ``K``,
``C(A) = P_g(A^T A - A A^T)``, gathers the conserved layer balances; its zeros
on a closed GL orbit are the minimisers of the norm (Kempf-Ness), and the
flow moves on its level sets ``{C = C0}``.

Modules: ``bundle`` (:class:`NetworkBundle`: groups, exp/log, fibers, the
split, orbit dimensions, moment map), ``alignment`` (block Procrustes and the
quotient distance), ``balance`` (Kempf-Ness balancing, conserved level sets),
``adapters`` (geomstats ``GroupAction``, ``FiberBundle``, aligner and
``QuotientMetric``).
"""

import warnings

with warnings.catch_warnings():
    # geomstats 2.8.0's backend importer raises an ImportWarning when geomstats is first imported
    # (fatal under -W error); every later geomstats import in this package finds it loaded
    warnings.simplefilter("ignore", ImportWarning)
    import geomstats  # noqa: F401

from .adapters import HiddenLayerAction, HiddenLayerFiberBundle, ProcrustesAligner  # noqa: E402
from .alignment import Alignment  # noqa: E402
from .balance import Balanced  # noqa: E402
from .bundle import NetworkBundle  # noqa: E402

__all__ = [
    "NetworkBundle",
    "Alignment",
    "Balanced",
    "HiddenLayerAction",
    "HiddenLayerFiberBundle",
    "ProcrustesAligner",
]
