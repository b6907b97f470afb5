"""ODE numerics for gradient flows, importing nothing from geodln.

- :func:`solve_auto` (:mod:`.auto`): ``method="auto"``, a stiffness-aware
  integrator switching between the steppers of :mod:`.steppers` (the
  :class:`Stepper` contract: DOP853, RKC, exprb43 dense and Lanczos) by a
  policy (:mod:`.policy`);
- :func:`resolve_method`, :func:`solve_scipy` (:mod:`.methods`): the method registry, geodln's names,
  SciPy's (passed to ``solve_ivp``) or an ``OdeSolver`` class, and one
  result type, :class:`Solution` with a :class:`Status` (:mod:`.result`);
- :class:`Conservation` (:mod:`.conserve`): keeping conserved quantities by
  a projection the caller hands in;
- events (:mod:`.events`), stiffness estimates (:mod:`.stiffness`) and
  Krylov phi products (:mod:`.krylov`).
"""

from .auto import solve_auto
from .conserve import Conservation
from .methods import BACKWARD_METHOD, GEODLN_METHODS, METHODS, SCIPY_METHODS, resolve_method, solve_scipy
from .result import Solution, Status
from .stiffness import EXPLICIT_STABILITY, StiffnessWatch
from .steppers import DENSE_LIMIT, KRYLOV_FROM, STEPPERS, Stepper

__all__ = ["resolve_method", "solve_scipy", "solve_auto", "Solution", "Status", "METHODS", "GEODLN_METHODS",
           "SCIPY_METHODS", "BACKWARD_METHOD", "Stepper", "STEPPERS", "Conservation", "StiffnessWatch", "DENSE_LIMIT", "KRYLOV_FROM", "EXPLICIT_STABILITY"]
