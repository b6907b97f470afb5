"""Conservation laws: how many a network's gradient flow has, and which.

``count``: :func:`conservation_laws`, Marcotte, Gribonval and Peyre's count
``D - dim Lie(W_phi)(theta)`` with exact polynomial fields and brackets
(``fields``), compared with geodln's known laws (the moment map of
:mod:`geodln.symmetry`). ``search``: polynomial conserved functions of low
degree, found by linear algebra on monomial coefficients, checked exactly and
along trajectories.
"""

from .count import RANK_RTOL, LawReport, conservation_laws, known_law_gradients
from .search import LawCheck, LawSearch, PolynomialLaw, polynomial_laws, verify_law, weight_names

__all__ = ["LawReport", "conservation_laws", "known_law_gradients", "RANK_RTOL",
           "PolynomialLaw", "LawSearch", "polynomial_laws", "weight_names", "LawCheck", "verify_law"]
