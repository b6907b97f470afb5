"""The gradient flow of a linear network in adjacency form.

With ``F = P_in (Syx - W Sxx)^T P_out^T`` (for the quadratic loss; in general
``F = -P_in (dL/dW)^T P_out^T``) the flow on the weighted adjacency matrix is

    dA/dt = -dL/dA = M o sum_k sum_{j=0}^{k-1} (A^T)^j F (A^T)^{k-1-j},

a nilpotent, isospectral polynomial matrix ODE that keeps the mask ``M``. It is
computed here block by block, never with powers of ``A``: the entry for an edge
``j -> k`` is ``f_j . b_k``, the forward map from the input to node ``j`` times
the error back-propagated from the output to node ``k``.

Conservation laws: for every hidden node ``v``, (sum of squared in-weights) -
(sum of squared out-weights) is constant; for a fully connected layered
network so are the matrices ``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}``, the hidden
diagonal blocks of ``A^T A - A A^T``. They hold for any loss of ``W``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import symmetry
from ..network.data import Data
from ..errors import DivergenceError
from ..integrate import (BACKWARD_METHOD, Conservation, Solution, Status, StiffnessWatch, resolve_method,
                         solve_auto, solve_scipy)
from ..network.losses import get_loss
from ..io.progress import Progress
from ..network.topology import Topology

__all__ = ["GradientFlow", "Trajectory", "vector_field_dense", "DEFAULT_METHOD", "BACKWARD_METHOD"]

DEFAULT_METHOD = "auto"  # the integrator every part of geodln uses unless told otherwise (geodln.integrate)


def _is_packed_buffer(out, n: int) -> bool:
    """Whether ``out`` can be written block by block through reshaped views."""
    return (
        isinstance(out, np.ndarray) and out.shape == (n,) and out.dtype == np.float64 and out.flags.c_contiguous
    )


def _check_options(rtol, atol, grad_tol=None, n_points=None) -> None:
    """Refuse integration options that would hang a solver or be silently ignored."""
    for name, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
                or not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    if grad_tol is not None and not (np.isfinite(grad_tol) and grad_tol > 0):
        raise ValueError(f"grad_tol must be a positive finite number or None, got {grad_tol!r}")
    if n_points is not None and (isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer))
                                 or n_points < 2):
        raise ValueError(f"n_points must be an integer >= 2 (the start and the end at least), got {n_points!r}")


class GradientFlow:
    """Gradient flow ``d theta/dt = -dL/d theta`` of a network on a data set.

    Parameters
    ----------
    top : Topology
        The network; its input and output widths must match the data.
    data : Data
        The data set.
    loss : Loss, str or None
        A loss of the end-to-end map; default the quadratic
        ``L = 1/2 ||Y - W X||_F^2`` (note the 1/2).
    weight_decay : float
        ``lambda >= 0``: the flow is that of ``L + lambda/2 ||theta||^2``
        (:meth:`loss`, :meth:`rhs`, :meth:`gradient`, the Hessian, integration,
        descent). The balances are then no longer conserved but decay exactly,
        ``C(t) = e^{-2 lambda t} C(0)`` (:meth:`decay_factor`; Kunin et al.,
        "Neural mechanics", ICLR 2021): the moment map ``mu`` is quadratic with
        ``mu(theta, grad L) = 0``, so ``d mu/dt = -2 lambda mu``. ``0`` (the
        default) is today's flow, bit for bit.

    Examples
    --------
    >>> from geodln import layered, Data
    >>> flow = GradientFlow(layered([2, 2, 2]), Data.from_spectrum([2, 1], 2, 2, seed=0))
    >>> theta = np.zeros(flow.top.n_params)
    >>> round(flow.loss(theta), 12), float(np.abs(flow.rhs(theta)).max())
    (2.5, 0.0)
    """

    def __init__(self, top: Topology, data: Data, loss=None, weight_decay: float = 0.0):
        if not isinstance(top, Topology):
            raise TypeError(f"top must be a Topology, got {type(top).__name__}")
        if not isinstance(data, Data):
            raise TypeError(f"data must be a Data, got {type(data).__name__}")
        data.check_fits(top)
        if not (isinstance(weight_decay, (int, float, np.floating, np.integer)) and np.isfinite(weight_decay)
                and weight_decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
        self.top, self.data, self.loss_fn = top, data, get_loss(loss)
        self.weight_decay = float(weight_decay)
        self._chain = top.is_fully_connected  # rhs takes its fast path (computed once)

    def __repr__(self) -> str:
        decay = f", weight_decay={self.weight_decay:g}" if self.weight_decay else ""
        return f"GradientFlow({self.top!r}, {self.data!r}, loss={self.loss_fn.name}{decay})"

    # ---------------------------------------------------------- loss, field
    def loss(self, theta) -> float:
        """The loss ``L(W(theta))``, plus ``lambda/2 ||theta||^2`` with weight decay."""
        value = self.loss_fn.value(self.top.end_to_end(theta), self.data)
        if self.weight_decay:
            theta = self.top.check_theta(theta)
            value += 0.5 * self.weight_decay * float(theta.dot(theta))
        return value

    def decay_factor(self, t):
        """``e^{-2 lambda t}``: the balances at time ``t`` over those at time 0 (1 without weight decay)."""
        return np.exp(-2.0 * self.weight_decay * np.asarray(t, dtype=float))

    def rhs(self, theta, out=None) -> np.ndarray:
        """The vector field ``-dL/d theta`` on packed weights, shape=[n_params].

        One forward pass (maps from the input to every level) and one backward
        pass (the error ``E = -dL/dW`` carried back from the output), block by
        block: the block ``(a, b)`` of ``dA/dt`` is ``f_a b_b^T``, restricted to
        the mask.

        Parameters
        ----------
        theta : array-like, shape=[n_params]
        out : ndarray, shape=[n_params], optional
            Where to write the result (returned).
        """
        # Performance notes (this is the ODE right-hand side, called ~1e5 times at
        # widths where one product takes a microsecond): products use ndarray.dot,
        # which calls BLAS directly, where the matmul ufunc adds ~0.5 us of dispatch
        # per call; and they never take the slow "A @ B.T" orientation (see
        # Topology._forward_t).
        top = self.top
        theta = top.check_theta(theta)
        if not theta.flags.c_contiguous:  # e.g. a row of Trajectory.theta: BLAS would copy every block
            theta = np.ascontiguousarray(theta)
        if out is None:
            out = np.empty(top.n_params)
        elif not _is_packed_buffer(out, top.n_params):
            if not isinstance(out, np.ndarray) or out.shape != (top.n_params,) or out.dtype != np.float64:
                raise ValueError(f"out must be a float64 array of shape ({top.n_params},)")
            # The blocks are written through reshaped views of out, which only
            # alias out when it is contiguous.
            out[...] = self.rhs(theta)
            return out
        dense, maps_t = top._forward_t(theta)
        error = -self.loss_fn.gradient(maps_t[-1].T, self.data)  # E = -dL/dW, (d_h, d_0)
        backward = self._backward_chain if self._chain else self._backward_blocks
        backward(dense, maps_t, error, out)
        if self.weight_decay:  # -lambda theta; nothing at all is done when lambda = 0
            out -= self.weight_decay * theta
        return out

    def _backward_blocks(self, dense, maps_t, error, out) -> None:
        """The backward pass of :meth:`rhs` for any topology, writing ``out``.

        ``dense`` and ``maps_t`` come from ``Topology._forward_t``. ``back[l]``
        (shape ``(d_l, d_0)``) is the error carried back to level ``l``; the
        block ``(a, b)`` of the field is ``maps[a] back[b]^T``, computed as
        ``maps_t[a]^T back[b]^T``.
        """
        blocks = self.top.blocks
        back: list = [None] * self.top.depth + [error]
        for i in range(len(blocks) - 1, -1, -1):  # every block leaving level b comes before (a, b)
            blk = blocks[i]
            grad_t = back[blk.b].T  # (d_0, d_b)
            if blk.a == 0:  # maps[0] is the identity
                blk.gather(grad_t, out)
                continue
            if blk.full:
                maps_t[blk.a].T.dot(grad_t, out=blk.dense(out))  # straight into out
            else:
                blk.gather(maps_t[blk.a].T.dot(grad_t), out)
            term = dense[i].dot(back[blk.b])
            if back[blk.a] is None:
                back[blk.a] = term
            else:
                back[blk.a] += term  # back[a] is a fresh product: safe to update in place

    def _backward_chain(self, dense, maps_t, error, out) -> None:
        """The backward pass of :meth:`rhs` for a fully connected layered network.

        The computation of :meth:`_backward_blocks` for the chain of full blocks
        ``(i - 1, i)``, without its per-block bookkeeping: at width 32 that
        bookkeeping costs as much as the products.
        """
        blocks, back = self.top.blocks, error
        for i in range(len(blocks) - 1, 0, -1):
            maps_t[i].T.dot(back.T, out=blocks[i].dense(out))
            if i == 1:
                # The input block's field is back_1^T = back_2^T B_1^T: computed in
                # that form it goes straight into out, with no transposed copy.
                back.T.dot(dense[1].T, out=blocks[0].dense(out))
                return
            back = dense[i].dot(back)
        blocks[0].gather(back.T, out)  # a single block (h = 1): the field is E^T

    def gradient(self, theta) -> np.ndarray:
        """``dL/d theta``, shape=[n_params] (minus :meth:`rhs`)."""
        grad = self.rhs(theta)
        return np.negative(grad, out=grad)  # rhs returned a fresh array: negate it in place

    def vector_field(self, A) -> np.ndarray:
        """``dA/dt`` at an adjacency matrix ``A``, shape=[n, n] (zero off the mask)."""
        top = self.top
        return top.adjacency(self.rhs(top.pack(A)))

    # -------------------------------------------------------- conservation
    def conserved(self, theta, law: str | None = None):
        """The conserved quantities of the flow at ``theta``.

        Parameters
        ----------
        theta : array-like, shape=[n_params]
        law : {"matrix", "node"}, optional
            ``"matrix"``: ``[C_1, ..., C_{h-1}]`` with
            ``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}`` of shape ``(d_i, d_i)``
            (conserved for fully connected layered networks; computed, but not
            conserved, for sparse layered ones). ``"node"``: the vector
            ``||in-weights of v||^2 - ||out-weights of v||^2`` over the hidden
            nodes ``v``, shape=[n_hidden], conserved for every mask.
            Default: ``"matrix"`` for fully connected layered networks,
            ``"node"`` otherwise.

        Returns
        -------
        list of ndarray or ndarray
        """
        theta = self.top.check_theta(theta)
        law = self.default_law if law is None else law
        if law == "matrix":
            return symmetry.layer_balances(self.top, theta)
        if law == "node":
            return symmetry.node_balances(self.top, theta)
        raise ValueError(f"law must be 'matrix' or 'node', got {law!r}")

    @property
    def default_law(self) -> str:
        """The strongest conservation law of this topology: ``"matrix"`` or ``"node"``."""
        return "matrix" if self.top.is_fully_connected else "node"

    def conserved_vector(self, theta, law: str | None = None) -> np.ndarray:
        """:meth:`conserved` flattened into one vector (for drifts and comparisons)."""
        q = self.conserved(theta, law)
        return np.concatenate([c.ravel() for c in q]) if isinstance(q, list) and q else np.ravel(q)

    # ---------------------------------------------------------- integrate
    def integrate(
        self,
        theta0,
        t_end: float,
        method: str | None = None,
        rtol: float = 1e-10,
        atol: float = 1e-12,
        n_points: int = 201,
        log_time: bool = False,
        t_eval=None,
        grad_tol: float | None = None,
        progress: bool = False,
    ) -> "Trajectory":
        """Integrate the flow from ``theta0`` with ``scipy.integrate.solve_ivp``.

        Parameters
        ----------
        theta0 : array-like, shape=[n_params]
            Initial weights.
        t_end : float
            Final time (> 0).
        method : str or OdeSolver class, optional
            ``"auto"`` (the default, :data:`DEFAULT_METHOD`): the stiffness-aware
            integrator of :mod:`geodln.integrate`; any other name or class is
            passed to ``solve_ivp`` unchanged (``"DOP853"``, ``"LSODA"``, ...).
        rtol, atol : float
            Tolerances passed to ``solve_ivp``.
        n_points : int
            Number of output times (ignored when ``t_eval`` is given).
        log_time : bool
            Space the output times logarithmically (``0`` then a geometric
            grid from ``1e-4 t_end``): plateaus of small initialisations are
            long, the jumps between them short.
        t_eval : array-like, optional
            Explicit increasing output times in ``[0, t_end]``.
        grad_tol : float, optional
            Stop as soon as ``||rhs(theta)|| < grad_tol`` (a critical point is
            reached); the stopping state is the last snapshot. Keep it above the
            solver's noise floor near an equilibrium, about
            ``rtol * ||theta|| * ||Hessian||`` for explicit methods.
        progress : bool
            Report the integration time reached on standard error.

        Returns
        -------
        Trajectory

        Raises
        ------
        DivergenceError
            If the flow from ``theta0`` stops being finite (a start so large
            that the vector field overflows): a failure, never a result.
        """
        theta0 = self.top.check_theta(theta0).copy()
        if not np.all(np.isfinite(theta0)):
            raise ValueError("theta0 contains NaN or inf")
        if not (np.isfinite(t_end) and t_end > 0):
            raise ValueError(f"t_end must be a positive finite time, got {t_end!r}")
        _check_options(rtol, atol, grad_tol, None if t_eval is not None else n_points)
        if not np.isfinite(self.loss(theta0)):
            raise ValueError("the loss at theta0 is not finite (the weights overflow): start from smaller weights")
        if t_eval is None:
            if log_time:
                t_eval = np.concatenate([[0.0], np.geomspace(1e-4 * t_end, t_end, max(n_points - 1, 1))])
            else:
                t_eval = np.linspace(0.0, t_end, max(n_points, 2))
        t_eval = np.asarray(t_eval, dtype=float)
        if t_eval.ndim != 1 or t_eval.size == 0 or np.any(np.diff(t_eval) <= 0) or t_eval[0] < 0 or t_eval[-1] > t_end:
            raise ValueError("t_eval must be increasing times inside [0, t_end]")
        bar = Progress(t_end, "integrating t", enabled=progress)
        if grad_tol is not None and np.linalg.norm(self.rhs(theta0)) < grad_tol:  # already critical
            return Trajectory.from_states(self, [0.0], theta0[None], nfev=1, success=True,
                                          message="the start is critical (||rhs|| < grad_tol)",
                                          method=method or DEFAULT_METHOD, rtol=rtol, atol=atol)
        sol = self.solve(theta0, (0.0, t_end), t_eval=t_eval, rtol=rtol, atol=atol, method=method,
                         progress=bar, grad_tol=grad_tol)
        if sol.status is Status.DIVERGED or not np.all(np.isfinite(sol.y)):
            bar.close("diverged")
            raise DivergenceError(f"{sol.message}: the start is too large for the flow to stay finite "
                                  f"(||theta0||_max = {np.max(np.abs(theta0)):.3g})")
        t, states = sol.t, sol.y.T
        if sol.t_events and sol.status is Status.STOPPED and len(sol.t_events[0]):
            t_stop, y_stop = sol.t_events[0][0], sol.y_events[0][0]
            if t.size == 0 or t[-1] < t_stop:
                t, states = np.append(t, t_stop), np.vstack([states, y_stop])
        bar.close(sol.message)
        return Trajectory.from_states(self, t, states, nfev=sol.nfev, success=sol.success, message=sol.message,
                                      method=method or DEFAULT_METHOD, rtol=rtol, atol=atol)

    def solve(self, theta0, t_span, t_eval=None, events=None, rtol: float = 1e-10, atol: float = 1e-12,
              method=None, progress: Progress | None = None, grad_tol: float | None = None) -> Solution:
        """Integrate the flow: the one call of an ODE solver in geodln.

        Trajectories (:meth:`integrate`), the verification of stable and
        unstable directions, escape times, itineraries and the figures all
        integrate through here, so the solver and its options are chosen in one place.

        Parameters
        ----------
        theta0 : ndarray, shape=[n_params]
            Initial weights (not checked: callers check them).
        t_span : (float, float)
            Start and end time.
        t_eval : array-like, optional
            Output times (default: the solver's own steps).
        events : list of callables, optional
            ``scipy.integrate.solve_ivp`` events ``g(t, theta)`` (with
            ``terminal``, ``direction``); geodln's methods locate them themselves.
        rtol, atol : float
            Solver tolerances. geodln's methods cap each weight's absolute
            tolerance at ``rtol |theta0_i|`` (scale-aware: a start at ``1e-16``
            keeps ``rtol`` relative accuracy, :func:`geodln.integrate.auto.component_atol`)
            and keep each balance to ``1e-10`` of the size of its terms.
        method : str or OdeSolver class, optional
            A name of :data:`geodln.integrate.METHODS`. Default
            :data:`DEFAULT_METHOD`, ``"auto"`` (:func:`geodln.integrate.solve_auto`:
            DOP853 while the flow is not stiff, then the exponential Rosenbrock
            method exprb43 with the exact Jacobian: dense up to 128 weights,
            Lanczos on exact Hessian-vector products above; conserved balances
            kept to ``1e-10`` relative by moves along the group orbit; loss
            nonincreasing); ``"dop853"``, ``"rkc"``, ``"exprb43"``: one of its
            steppers throughout. SciPy's names and ``OdeSolver`` classes go to
            ``solve_ivp`` unchanged; an explicit one ("DOP853", "RK45", "RK23")
            is watched and a warning says when the flow is stiff. Backward in
            time geodln's methods hand over to ``"DOP853"``.
        progress : Progress, optional
            Told the time reached (and, for geodln's methods, the stepper and the stiffness estimate).
        grad_tol : float, optional
            Stop once ``||rhs(theta)|| < grad_tol`` (``Status.STOPPED``; the
            stopping state is in ``t_events[0]`` for SciPy methods and is the
            last output for geodln's).

        Returns
        -------
        geodln.integrate.Solution
            ``t``, ``y`` (shape ``[n_params, T]``), ``t_events``, ``y_events``,
            ``nfev``, ``status`` (a :class:`geodln.integrate.Status`),
            ``message``, ``success``, and for geodln's methods ``steps``,
            ``rho``, ``projections``, ``krylov_dims``, ``njvp``.
        """
        _check_options(rtol, atol, grad_tol)
        who, which = resolve_method(method or DEFAULT_METHOD, forward=t_span[1] > t_span[0])
        if who == "geodln":
            stop = None if grad_tol is None else (lambda y, fy: np.linalg.norm(fy) < grad_tol)
            tell = None if progress is None else progress.update
            from .hessian import flow_jacobian_product  # the exact Jacobian -H, applied to vectors
            return solve_auto(self.rhs, theta0, t_span, t_eval=t_eval, rtol=rtol, atol=atol, loss=self.loss,
                              conservation=self._conservation(theta0), stop=stop, progress=tell, events=events,
                              jvp=flow_jacobian_product(self), method_hint=which)
        return self._solve_scipy(theta0, t_span, which, t_eval, events, rtol, atol, progress, grad_tol)

    def _conservation(self, theta0) -> Conservation | None:
        """The balances of ``theta0`` kept by moves along the group orbit; None with weight decay.

        With weight decay the balances decay (``e^{-2 lambda t} C(0)``): holding them at ``C(0)`` would be wrong.
        """
        if self.weight_decay:
            return None
        level = symmetry.ConservedLevel(self.top, theta0)
        return Conservation(level.quantities, level.project, theta0, magnitudes=_balance_magnitudes(level))

    def _solve_scipy(self, theta0, t_span, method, t_eval, events, rtol, atol, progress, grad_tol) -> Solution:
        """:meth:`solve` by ``scipy.integrate.solve_ivp``: ``grad_tol`` as a terminal event, explicit methods watched."""
        if grad_tol is not None:
            def critical(t, y):
                return np.linalg.norm(self.rhs(y)) - grad_tol

            critical.terminal, critical.direction = True, -1
            events = list(events or []) + [critical]
        watch = StiffnessWatch.for_method(self.rhs, method)  # None unless an explicit method is forced

        def fun(t, y):
            fy = self.rhs(y)
            if watch is not None:
                watch.see(t, y, fy)
            if progress is not None:
                progress.update(t, f"{method}, stiff (rho ~ {watch.rho:.3g}): try method='auto'"
                                if watch is not None and watch.stiff else str(method))
            return fy

        return solve_scipy(fun, t_span, theta0, method, t_eval=t_eval, rtol=rtol, atol=atol, events=events)

    def descend(self, theta0, step: float, n_steps: int, record_every: int = 1) -> "Trajectory":
        """Plain gradient descent ``theta <- theta - step dL/d theta``.

        The discrete-time counterpart of the flow: it follows the flow up to
        ``O(step)`` and its conserved quantities drift by ``O(step^2)`` per step.
        Snapshot ``k`` is at "time" ``k * step``.

        Exactly, for the moment map ``mu`` (the balances, matrix or node-wise:
        a quadratic form with ``mu(theta, grad L) = 0``) and weight decay
        ``lambda``, one step ``theta' = (1 - step lambda) theta - step grad L(theta)``
        (``grad L`` without the decay term) gives

            mu(theta') = (1 - step lambda)^2 mu(theta) + step^2 mu(grad L(theta)),

        so the trajectory's ``conserved_drift`` is measured against the discrete
        decay ``(1 - step lambda)^{2k} mu(theta_0)`` (``mu(theta_0)`` when
        ``lambda = 0``), and what is left is the sum of the ``step^2`` defects.

        Raises
        ------
        DivergenceError
            If the weights or the loss stop being finite or grow by more than
            ``1e8`` (the step is too large for this start).
        """
        theta = self.top.check_theta(theta0).copy()
        if not np.all(np.isfinite(theta)):
            raise ValueError("theta0 contains NaN or inf")
        counts_ok = all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) and c >= 1
                        for c in (n_steps, record_every))
        if not (np.isfinite(step) and step > 0) or not counts_ok:
            raise ValueError(f"step must be positive and n_steps, record_every positive integers; "
                             f"got step={step!r}, n_steps={n_steps!r}, record_every={record_every!r}")
        scale = 1e8 * (np.linalg.norm(theta) + 1.0)
        times, states = [0.0], [theta.copy()]
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(1, int(n_steps) + 1):
                theta += step * self.rhs(theta)
                norm = np.linalg.norm(theta)
                if not np.isfinite(norm) or norm > scale:
                    raise DivergenceError(
                        f"gradient descent diverged at step {k} of {n_steps} (||theta|| = {norm:.3g}): "
                        f"the step {step:g} is too large; descent is stable only below about "
                        "2 / (largest Hessian eigenvalue along the path)"
                    )
                if k % record_every == 0 or k == n_steps:
                    times.append(k * step)
                    states.append(theta.copy())
        times = np.array(times)
        decay = (1.0 - step * self.weight_decay) ** (2 * np.rint(times / step)) if self.weight_decay else None
        return Trajectory.from_states(
            self, times, np.array(states), decay=decay, nfev=int(n_steps), success=True,
            message=f"{n_steps} descent steps"
        )


def integration_memory(top: Topology, n_points: int) -> int:
    """The bytes an integration of the flow needs, stated before it starts (an upper bound, not a measurement).

    ``D`` weights: the samples kept (``n_points x D``, written into one array as they come and deflated to
    the file from it, :class:`geodln.io.files.NpzSpill`), the stiff method's
    largest Krylov basis (:data:`geodln.integrate.krylov.MAX_DIM` vectors) and ~40 more vectors of ``D`` (the
    explicit method's stages, the step's states, a Hessian product's passes), the network's mask
    (``n x n``) and its edge index (4 integer vectors of ``D``).
    """
    from ..integrate.krylov import MAX_DIM  # on first use, as the integrator is

    D = top.n_params
    return 8 * (D * (n_points + MAX_DIM + 40) + top.n * top.n + 4 * D)


def _balance_magnitudes(level):
    """``theta -> m``: the size of the terms of each balance of ``level``, for componentwise drift control.

    With ``m_v = ||in-weights of v||^2 + ||out-weights of v||^2`` (node ``v``),
    a node balance is at most ``m_v`` and, by Cauchy-Schwarz, an entry
    ``(j, k)`` of a matrix balance ``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}`` at
    most ``sqrt(m_j m_k)``; the flattening is that of
    :meth:`geodln.symmetry.ConservedLevel.quantities`. A balance of a start at
    ``1e-16`` is ``1e-32``: measured against ``m``, its drift is relative to
    its own size, not to that of the largest weights.
    """
    top = level.top
    src, tgt = top.edge_index

    def magnitudes(theta):
        sq = theta * theta
        m = np.bincount(tgt, sq, top.n) + np.bincount(src, sq, top.n)
        if level.law == "node":
            return m[top.hidden]
        parts = [np.sqrt(np.outer(m[sl], m[sl])).ravel() for sl in level.slices]
        return np.concatenate(parts) if parts else np.zeros(0)

    return magnitudes


@dataclass(frozen=True)
class Trajectory:
    """A solution of the flow sampled at times ``t``.

    Attributes
    ----------
    flow : GradientFlow
        The flow it solves.
    t : ndarray, shape=[T]
        Output times.
    theta : ndarray, shape=[T, n_params]
        Packed weights at those times.
    loss : ndarray, shape=[T]
        ``L`` along the trajectory (with weight decay, ``L + lambda/2 ||theta||^2``).
    singular_values : ndarray, shape=[T, min(d_0, d_h)]
        Singular values of the end-to-end map ``W(t)``, decreasing.
    conserved_drift : ndarray, shape=[T]
        ``max |Q(t) - Q(0)|`` over the conserved quantities ``Q`` of the
        topology's default law (see :meth:`GradientFlow.conserved`); with
        weight decay ``max |Q(t) - e^{-2 lambda t} Q(0)|``, the deviation from
        the exact decay law (for descent, from ``(1 - step lambda)^{2k} Q(0)``,
        see :meth:`GradientFlow.descend`).
    nfev : int
        Number of vector-field evaluations.
    success : bool
        Whether the solver reached the end (or the stopping tolerance).
    message : str
        The solver's message.
    method : str, OdeSolver class or None
        The integration method (see :meth:`GradientFlow.solve`); None for gradient descent.
    rtol, atol : float or None
        The tolerances it was integrated with; None for gradient descent.
    """

    flow: GradientFlow = field(repr=False)
    t: np.ndarray
    theta: np.ndarray = field(repr=False)
    loss: np.ndarray = field(repr=False)
    singular_values: np.ndarray = field(repr=False)
    conserved_drift: np.ndarray = field(repr=False)
    nfev: int = 0
    success: bool = True
    message: str = ""
    method: object = None
    rtol: float | None = None
    atol: float | None = None

    @classmethod
    def from_states(cls, flow: GradientFlow, t, states, decay=None, **info) -> "Trajectory":
        """Evaluate loss, end-to-end singular values and conserved drift at each state.

        ``decay`` (shape=[T]) is the factor the balances should carry at each
        state; default :meth:`GradientFlow.decay_factor` of ``t`` (all ones
        without weight decay).
        """
        Ws = [flow.top.end_to_end(x) for x in states]
        q0 = flow.conserved_vector(states[0])
        lam = flow.weight_decay
        decay = (flow.decay_factor(t) if decay is None else np.asarray(decay, dtype=float)) if lam else np.ones(len(Ws))
        penalty = [0.5 * lam * float(np.dot(x, x)) if lam else 0.0 for x in states]
        return cls(
            flow=flow,
            t=np.asarray(t, dtype=float),
            theta=np.asarray(states, dtype=float),
            loss=np.array([flow.loss_fn.value(W, flow.data) + p for W, p in zip(Ws, penalty)]),
            singular_values=np.array([np.linalg.svd(W, compute_uv=False) for W in Ws]),
            conserved_drift=np.array([np.max(np.abs(flow.conserved_vector(x) - f * q0), initial=0.0)
                                      for x, f in zip(states, decay)]),
            **info,
        )

    def __len__(self) -> int:
        return len(self.t)

    @property
    def final(self) -> np.ndarray:
        """The last packed state, shape=[n_params]."""
        return self.theta[-1]

    def adjacency(self, k: int | None = None) -> np.ndarray:
        """Adjacency snapshot ``A(t_k)`` of shape ``(n, n)``, or all of them, ``(T, n, n)``."""
        top = self.flow.top
        if k is not None:
            return top.adjacency(self.theta[k])
        return np.array([top.adjacency(x) for x in self.theta])

    def end_to_end(self, k: int = -1) -> np.ndarray:
        """The end-to-end map ``W(t_k)``, shape=[d_h, d_0]."""
        return self.flow.top.end_to_end(self.theta[k])

    def to_xarray(self):
        """This run as an ``xarray.Dataset`` over the coordinate ``time``: ``loss``, ``singular_values`` (dims time, sv),
        ``conserved_drift``, ``theta`` (dims time, param; the packed weights, ``T D`` numbers, not the ``T n^2`` of
        ``A``); coordinates ``source``, ``target`` on ``param`` (each weight's edge, so that
        ``A[:, source, target] = theta`` gives the adjacency view); attrs: topology, loss, nfev, success (0/1),
        message, n_nodes."""
        import xarray as xr  # on first use, keeping `import geodln` fast
        top = self.flow.top
        source, target = top.edge_index
        return xr.Dataset({"loss": ("time", self.loss), "singular_values": (("time", "sv"), self.singular_values),
                           "conserved_drift": ("time", self.conserved_drift), "theta": (("time", "param"), self.theta)},
                          coords={"time": self.t, "source": ("param", source), "target": ("param", target)},
                          attrs={"topology": repr(top), "loss": self.flow.loss_fn.name, "nfev": int(self.nfev),
                                 "success": int(self.success), "message": self.message, "n_nodes": top.n})


def vector_field_dense(A, mask, F, lengths=None) -> np.ndarray:
    """Reference implementation of the adjacency formula with dense powers of ``A``.

    ``M o sum_k sum_{j=0}^{k-1} (A^T)^j F (A^T)^{k-1-j}``, costing ``O(n^3)``
    per term: use it only to check :meth:`GradientFlow.vector_field`.

    Parameters
    ----------
    A, mask : ndarray, shape=[n, n]
        Adjacency matrix and 0/1 mask.
    F : ndarray, shape=[n, n]
        ``P_in (-dL/dW)^T P_out^T``.
    lengths : iterable of int, optional
        The path lengths ``k`` to sum over; default all, ``1 .. n - 1``
        (``A^n = 0`` for a DAG). For a layered network only ``k = h`` counts.
    """
    n = A.shape[0]
    lengths = range(1, n) if lengths is None else sorted(lengths)
    powers = [np.eye(n)]
    for _ in range(max(lengths, default=0)):
        powers.append(powers[-1] @ A.T)
    total = np.zeros((n, n))
    for k in lengths:
        for j in range(k):
            total += powers[j] @ F @ powers[k - 1 - j]
    return mask * total
