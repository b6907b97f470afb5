"""The method registry: geodln's integrators by name, SciPy's passed through, an ``OdeSolver`` class accepted.

As SciPy's ``solve_ivp`` reads ``method`` (its ``METHODS`` dict, or a class),
:func:`resolve_method` reads it once for geodln: ``"auto"`` (the switching
integrator of :mod:`.auto`) and the names of :data:`~.steppers.STEPPERS`
(one stepper throughout) are geodln's; SciPy's names and any
``scipy.integrate.OdeSolver`` subclass go to ``solve_ivp`` unchanged,
through :func:`solve_scipy`, whose result is the same :class:`~.result.Solution`.
geodln's integrators run forward only: backward in time they hand over to
:data:`BACKWARD_METHOD`.
"""

from __future__ import annotations

import numpy as np

from .result import Solution
from .steppers import STEPPERS

__all__ = ["GEODLN_METHODS", "SCIPY_METHODS", "METHODS", "BACKWARD_METHOD", "resolve_method", "solve_scipy"]

GEODLN_METHODS = ("auto",) + tuple(STEPPERS)
SCIPY_METHODS = ("DOP853", "RK45", "RK23", "Radau", "BDF", "LSODA")  # the names scipy.integrate.solve_ivp knows
METHODS = ("auto",) + SCIPY_METHODS + tuple(STEPPERS)  # case matters: "dop853" is geodln's stepper, "DOP853" SciPy's
BACKWARD_METHOD = "DOP853"  # what geodln's methods hand integrations backward in time to (SciPy's)


def resolve_method(method, forward: bool = True) -> tuple[str, object]:
    """Who integrates with ``method``: ``("geodln", hint)`` or ``("scipy", method)``.

    Parameters
    ----------
    method : str or OdeSolver subclass
    forward : bool
        Whether the time span runs forward (geodln's methods do only that).

    Returns
    -------
    ("geodln", str or None)
        :func:`~.auto.solve_auto` with this ``method_hint`` (None: ``"auto"``).
    ("scipy", str or type)
        ``solve_ivp`` with this method.

    Raises
    ------
    ValueError
        For a name in neither registry, or an object that is not an ``OdeSolver`` subclass.
    """
    if isinstance(method, str):
        if method not in METHODS:
            raise ValueError(f"unknown integration method {method!r}; choose one of {', '.join(METHODS)} "
                             "(or pass a scipy OdeSolver class)")
        if method in GEODLN_METHODS:
            return ("geodln", None if method == "auto" else method) if forward else ("scipy", BACKWARD_METHOD)
        return "scipy", method
    from scipy.integrate import OdeSolver  # on first use: scipy.integrate costs ~0.5 s at import

    if not (isinstance(method, type) and issubclass(method, OdeSolver)):
        raise ValueError(f"method must be one of {', '.join(METHODS)} or a scipy OdeSolver subclass, got {method!r}")
    return "scipy", method


def solve_scipy(fun, t_span, y0, method, **options) -> Solution:
    """``scipy.integrate.solve_ivp(fun, t_span, y0, method=method, **options)`` as a :class:`~.result.Solution`.

    ``fun(t, y)`` as SciPy calls it. Overflows in trial steps are not reported:
    explicit methods reject them (after long plateaus they happen).
    """
    from scipy.integrate import solve_ivp  # on first use

    with np.errstate(over="ignore", invalid="ignore"):
        res = solve_ivp(fun, t_span, y0, method=method, **options)
    return Solution.from_scipy(res, method)
