"""What every integration returns: one result type, whichever method ran.

:class:`Solution` has the fields of ``scipy.integrate.OdeResult`` that
geodln reads (``t``, ``y``, ``t_events``, ``y_events``, ``nfev``, ``njev``,
``status``, ``message``, ``success``) with ``status`` a :class:`Status`
instead of a bare integer, and the fields only geodln's own integrator fills
(``steps``, ``rho``, ``projections``, ``krylov_dims``, ``njvp``). A SciPy
result is converted by :meth:`Solution.from_scipy`, so a caller never asks
which solver ran.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Status", "Solution"]


class Status(enum.IntEnum):
    """How an integration ended; the values are SciPy's ``status`` codes, and ``DIVERGED`` a failure of its own.

    ``FINISHED`` (0): the end of the time span was reached. ``STOPPED`` (1):
    a terminal event or the stopping condition ended it. ``FAILED`` (-1):
    the solver gave up (e.g. the step size fell below rounding).
    ``DIVERGED`` (-2): the state stopped being finite or blew up.
    """

    FINISHED = 0
    STOPPED = 1
    FAILED = -1
    DIVERGED = -2


@dataclass(frozen=True)
class Solution:
    """The result of one integration of ``dy/dt = f(y)``.

    Attributes
    ----------
    t : ndarray, shape=[T]
        Output times.
    y : ndarray, shape=[n, T]
        States at those times.
    nfev : int
        Evaluations of ``f`` (geodln's integrator: including stiffness estimates and Jacobians).
    njev : int
        Jacobians computed.
    status : Status
    message : str
    method : str
        The method that ran (a SciPy name, an ``OdeSolver`` class's name, or a geodln one).
    t_events, y_events : list of ndarray or None
        Per event, its zeros' times (shape ``[k]``) and states (shape ``[k, n]``); None without events.
    steps : dict
        Accepted steps per stepper (``"dop853"``, ``"rkc"``, ``"exprb43"``) and
        rejected ones (``"rejected"``, of which ``"loss_rejected"`` raised the loss); empty for SciPy.
    rho : float
        The last stiffness estimate (largest ``|eigenvalue|`` of the Jacobian); 0 for SciPy.
    projections : int
        Moves back onto the conserved level set.
    krylov_dims : list of int
        The Krylov dimension of each phi-function product (empty unless Lanczos ran).
    njvp : int
        Exact Jacobian-vector products (a dense Jacobian from them counts ``n``).
    """

    t: np.ndarray
    y: np.ndarray
    nfev: int
    njev: int
    status: Status
    message: str
    method: str = ""
    t_events: list | None = None
    y_events: list | None = None
    steps: dict = field(default_factory=dict)
    rho: float = 0.0
    projections: int = 0
    krylov_dims: list = field(default_factory=list)
    njvp: int = 0

    @property
    def success(self) -> bool:
        """Whether the end or a stopping condition was reached (``status >= 0``)."""
        return self.status >= 0

    @classmethod
    def from_scipy(cls, res, method) -> "Solution":
        """The :class:`Solution` of a ``scipy.integrate.solve_ivp`` result ``res``.

        SciPy reports a failure (``status = -1``) whether its state overflowed
        or its step size vanished; a non-finite output is read as ``DIVERGED``.
        """
        status = Status(int(res.status))
        if status is Status.FAILED and not np.all(np.isfinite(res.y)):
            status = Status.DIVERGED
        name = method if isinstance(method, str) else getattr(method, "__name__", str(method))
        return cls(t=res.t, y=res.y, nfev=int(res.nfev), njev=int(res.njev), status=status, message=res.message,
                   method=name, t_events=res.t_events, y_events=res.y_events)
