"""``method="auto"``: a stiffness-aware integrator for gradient flows.

The flow ``dy/dt = f(y) = -grad L(y)`` of a deep linear network turns stiff
once its large modes are learnt: the top Hessian eigenvalue ``rho`` grows to
``h s_1^{2-2/h}`` while the small modes still crawl off saddles. An explicit
method then spends almost all of its work on stability (DOP853: about
``2 rho`` evaluations per unit time). :func:`solve_auto` steps with

- DOP853 (:func:`~geodln.integrate.steppers.dop853_step`) while the flow is
  not stiff, with its own lean loop;
- once DOP853's step is held at its stability limit ``6.4 / rho`` (``rho``
  from a power iteration on differences of ``f``, refreshed every few steps):
  the exponential Rosenbrock method ``exprb43`` (order 4, exact for linear
  problems, no stability limit at all), with the exact dense Jacobian up to
  :data:`DENSE_LIMIT` unknowns and phi-function products by Lanczos
  (:mod:`geodln.integrate.krylov`) above, both from the exact Jacobian-vector
  products the flow hands over (``jvp``; without them: differences of ``f``,
  and DOP853 throughout between :data:`DENSE_LIMIT` and :data:`KRYLOV_FROM`).
  The dense phi functions are exact to rounding, which matters near saddles:
  there errors grow like ``e^{lambda t}``, and Krylov errors at the tolerance
  moved an escape time by 2e-7 relative on an 8-weight network (1e-10 dense).
  On the long plateaus and the relaxation of a stiff flow the steps grow to
  tens of time units for a few hundred Jacobian products. While the transitions are fast
  (where DOP853's stability-limited step is close to its accuracy-limited one
  at rtol 1e-8, and exprb43's, of order 4, is shorter still), DOP853 goes on; the
  second-order Runge-Kutta-Chebyshev method ``rkc`` (``method_hint="rkc"``)
  was measured to lose accuracy (end point off by 1e-6 at rtol 1e-8 on 8^5),
  so ``auto`` does not switch to it;
- back to DOP853 when the stiff method stops paying for itself (its
  evaluations per unit time exceed DOP853's ``12 rho / 6.4``).

After the accepted steps a projection handed in by the caller
(:class:`~geodln.integrate.conserve.Conservation`; for a network, the move
along the hidden-layer group orbit of :mod:`geodln.symmetry.level`) puts the
conserved quantities back to their start, a step that raises the loss is
rejected, and a state that stops being finite is reported as
``Status.DIVERGED``. Output times ``t_eval`` are hit exactly (steps are
shortened to land on them). Events (zeros of ``g(t, y)``) are located after
each accepted step (:mod:`geodln.integrate.events`).

The loop sees the methods only through the
:class:`~geodln.integrate.steppers.Stepper` contract, and the choice between
them is a policy (:mod:`geodln.integrate.policy`).
"""


from __future__ import annotations

import numpy as np

from .conserve import Conservation
from .events import EventWatch
from .policy import Fixed, Switching
from .result import Solution, Status
from .stiffness import spectral_radius
from .steppers import DENSE_LIMIT, DOP853, KRYLOV_FROM, STEPPERS, exprb43

__all__ = ["solve_auto", "component_atol"]

_CHECK_EVERY = 8  # explicit steps between two stiffness estimates
_SAFETY = 1.2  # margin on the power-iteration estimate of rho (an estimate from below)
_BLOW_UP = 1e8  # growth of max |y| read as divergence


def _initial_step(f, y, f0, rtol, atol, span):
    """Hairer's starting step: ``0.01 ||y|| / ||f||`` refined by one Euler step's curvature."""
    scale = atol + rtol * np.abs(y)
    d0, d1 = np.sqrt(np.mean((y / scale) ** 2)), np.sqrt(np.mean((f0 / scale) ** 2))
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    h0 = min(h0, span)
    f1 = f(y + h0 * f0)
    d2 = np.sqrt(np.mean(((f1 - f0) / scale) ** 2)) / h0
    h1 = max(1e-6, h0 * 1e-3) if max(d1, d2) <= 1e-15 else (0.01 / max(d1, d2)) ** (1.0 / 8)
    return min(100 * h0, h1, span)


@np.errstate(over="ignore", invalid="ignore")  # an overflowing trial step is rejected (non-finite error), not reported
def solve_auto(f, y0, t_span, t_eval=None, rtol: float = 1e-10, atol: float = 1e-12, loss=None,
               conservation: Conservation | None = None, stop=None, progress=None, method_hint=None,
               events=None, jvp=None) -> Solution:
    """Integrate ``dy/dt = f(y)``, a gradient flow, choosing the method along the way.

    Parameters
    ----------
    f : callable, ``f(y) -> ndarray``, shape=[n]
        The vector field ``-grad L`` (autonomous).
    y0 : ndarray, shape=[n]
    t_span : (float, float)
        Start and end time, ``t0 < t1``.
    t_eval : array-like, optional
        Increasing output times inside ``t_span``; default the accepted steps.
    rtol, atol : float
        Local error tolerances (as in SciPy: per component ``atol_i + rtol |y_i|``, RMS norm), with
        ``atol_i = min(atol, rtol |y0_i|)`` (:func:`component_atol`): scale-aware, so that weights many
        orders of magnitude below the largest keep ``rtol`` relative accuracy.
    loss : callable, ``loss(y) -> float``, optional
        ``L``; a step that raises it (by more than rounding) is rejected, so
        the loss is nonincreasing along the output.
    conservation : Conservation, optional
        Keeps conserved quantities at their start (checked every ``project_every`` accepted steps of the stepper).
    stop : callable, ``stop(y, f(y)) -> bool``, optional
        End the integration at the first accepted step where it is true
        (``Status.STOPPED``); the stopping state is the last output.
    progress : callable, ``progress(t, info)``, optional
        Told the time reached and a string with the method and the stiffness estimate.
    method_hint : {"dop853", "rkc", "exprb43"}, optional
        Force one stepper of :data:`~geodln.integrate.steppers.STEPPERS` (for benchmarks and tests).
    jvp : callable, ``jvp(y) -> (u -> J u)``, optional
        Exact Jacobian-vector products at ``y`` (``-H u`` for a gradient flow),
        ``u`` of shape ``[n]`` or ``[n, K]`` (``K`` columns at once). exprb43
        uses them for its dense Jacobian (``J = jvp(y)(I)``, symmetrised) up to
        :data:`DENSE_LIMIT` unknowns and for its Lanczos products above (DOP853
        throughout is then never the stiff choice). Without them: the dense
        Jacobian from ``n`` differences of ``f``, Lanczos on central differences
        (two evaluations each, accurate to ~1e-10) from :data:`KRYLOV_FROM`
        unknowns on, DOP853 throughout in between.
    events : list of callables, optional
        ``g(t, y)`` with SciPy's optional ``terminal`` and ``direction``: their
        zeros are located (:class:`~geodln.integrate.events.EventWatch`) and
        returned in ``t_events``, ``y_events``; a terminal one ends the
        integration there (``Status.STOPPED``; without ``t_eval`` its state is the last output).

    Returns
    -------
    Solution
        With ``method = "auto"`` (or the hint).
    """
    run = _Run(f, y0, t_span, t_eval, rtol, component_atol(y0, rtol, atol), loss, jvp, events, method_hint or "auto")
    if not np.all(np.isfinite(run.f0)):
        return run.result(Status.DIVERGED, "the flow diverged: the vector field is not finite at the start")
    return run.solve(_policy(run, method_hint), conservation, stop, progress)


def component_atol(y0, rtol: float, atol: float) -> np.ndarray:
    """The absolute tolerance of each component: ``min(atol, rtol |y0_i|)`` (``atol`` where ``y0_i = 0``), shape=[n].

    An absolute tolerance above a component's size leaves that component
    uncontrolled: from a start at ``1e-16`` with ``atol = 1e-12`` the error
    norm never sees the plateau's weights, whose growth sets every later
    activation time. Capped at ``rtol`` times its start, a component's
    absolute tolerance stays below its own scale through the plateau (the
    flow of a small start first grows every weight from there), and through
    a zero crossing (a weight whose sign flips) it is still controlled to
    ``rtol`` of its start. Components that start at or above ``atol / rtol``
    keep ``atol``: for them nothing changes.
    """
    y0 = np.abs(np.asarray(y0, dtype=float))
    return np.where(y0 > 0, np.minimum(atol, rtol * y0), atol)


def _policy(run: "_Run", method_hint):
    """``auto``'s :class:`~geodln.integrate.policy.Switching`, or one stepper throughout for a hint."""
    args = (run.fun, run.n, run.rtol, run.atol, None if run.jvp is None else run.products_at)
    if method_hint is not None:
        if method_hint not in STEPPERS:
            raise ValueError(f"unknown stepper {method_hint!r}; choose one of {', '.join(STEPPERS)}")
        return Fixed(STEPPERS[method_hint](*args))
    # exprb43 pays with exact products, with a dense Jacobian, or with Lanczos on differences from KRYLOV_FROM on
    pays = run.jvp is not None or run.n <= DENSE_LIMIT or run.n >= KRYLOV_FROM
    return Switching(DOP853(run.fun, run.rtol, run.atol), exprb43(*args) if pays else None)


class _Accepted:
    """An accepted trial: the step, whether it lands on the output time, its loss and step-size factor."""

    __slots__ = ("trial", "landing", "loss", "factor")

    def __init__(self, trial, landing, loss, factor):
        self.trial, self.landing, self.loss, self.factor = trial, landing, loss, factor


class _Rows:
    """Output states written into the rows of one ``[capacity, n]`` array as they come (doubled when full).

    Rows not yet written take no memory (``np.empty``), so a capacity of every
    output time costs only the outputs reached.
    """

    def __init__(self, capacity: int, n: int):
        self.array, self.count = np.empty((max(capacity, 1), n)), 0

    def append(self, y) -> None:
        if self.count == len(self.array):
            grown = np.empty((2 * len(self.array), self.array.shape[1]))
            grown[:self.count] = self.array
            self.array = grown
        self.array[self.count] = y
        self.count += 1

    def __len__(self) -> int:
        return self.count

    def filled(self) -> np.ndarray:
        """The states so far, shape=[count, n] (a view)."""
        return self.array[:self.count]


class _Run:
    """The state of one integration by :func:`solve_auto`: counters, outputs, the step size and stiffness."""

    def __init__(self, f, y0, t_span, t_eval, rtol, atol, loss, jvp, events, method):
        self.f, self.rtol, self.atol, self.loss_fn, self.jvp, self.method = f, rtol, atol, loss, jvp, method
        self.t0, self.t1 = float(t_span[0]), float(t_span[1])
        self.t, self.y = self.t0, np.array(y0, dtype=float)
        self.n = self.y.size
        self.nfev = self.njvp = 0
        self.keep_steps = t_eval is None
        self.outs_t, self.outs_y, self.targets = self._outputs(t_eval)
        self.steps = {"dop853": 0, "rkc": 0, "exprb43": 0, "rejected": 0, "loss_rejected": 0}
        self.f0 = self.fun(self.y)
        self.events, self.watch, self.rho, self.steppers = events, None, 0.0, []
        self.done = False

    def _outputs(self, t_eval):
        """The output times and states so far (holding the start if it is an output) and the output times
        still to reach. The states go into the rows of one array (:class:`_Rows`), so the result is not a
        second copy of every output."""
        targets = np.array([self.t1]) if t_eval is None else np.asarray(t_eval, dtype=float)
        rows = _Rows(64 if t_eval is None else targets.size + 1, self.n)  # t_eval: each output time and a stop
        if t_eval is None or (targets.size and targets[0] <= self.t0):
            rows.append(self.y)
            return [self.t0], rows, targets if t_eval is None else targets[1:]
        return [], rows, targets

    def fun(self, x):
        """``f``, counted."""
        self.nfev += 1
        return self.f(x)

    def products_at(self, x):
        """``jvp(x)``, counted: a batch of ``K`` directions is ``K`` products."""
        jv = self.jvp(x)

        def counted(u):
            self.njvp += 1 if u.ndim == 1 else u.shape[1]
            return jv(u)

        return counted

    def solve(self, policy, conservation, stop, progress) -> Solution:
        """Step from the start to the last output time (or until a stop or a failure)."""
        self.watch = None if self.events is None else EventWatch(self.events, self.t0, self.y)
        self.L0 = self.loss_fn(self.y) if self.loss_fn is not None else None
        self.loss_noise = 64 * np.finfo(float).eps * abs(self.L0) if self.loss_fn is not None else 0.0
        self.dt = _initial_step(self.fun, self.y, self.f0, self.rtol, self.atol, self.t1 - self.t0)
        self.rho, self.v_rho, _ = spectral_radius(self.fun, self.y, self.f0, None, iters=12)
        self.rho *= _SAFETY
        self.blow_up = _BLOW_UP * (1.0 + np.max(np.abs(self.y)))
        self.status, self.message = Status.FINISHED, "reached the end of the time span"
        self.since_check, self.i_target = 0, 0
        current, rejected = policy.first, 0  # rejected: the rejections counted up to the last accepted step
        self.steppers = [s for s in (policy.first, getattr(policy, "stiff", None)) if s is not None]
        while self.i_target < self.targets.size and not self.done:
            target = self.targets[self.i_target]
            current = policy.before(current, self.dt, self.rho)
            accepted = self._attempt(current, target)
            if accepted is None or not self._accept(current, accepted):
                continue
            h, factor = accepted.trial.h, accepted.factor
            self._keep_level(current, conservation)
            # no growth right after a rejection (as Hairer's codes): at a stability limit growing again
            # would only be rejected again
            growth = 1.0 if self.steps["rejected"] > rejected else current.max_growth
            rejected = self.steps["rejected"]
            dt_new = h * min(growth, max(0.2, factor))
            if not accepted.landing or dt_new > self.dt:
                self.dt = dt_new
            if policy.watches(current) and self.since_check % _CHECK_EVERY == 0:
                self.rho, self.v_rho, _ = spectral_radius(self.fun, self.y, self.f0, self.v_rho, iters=4)
                self.rho *= _SAFETY
            current, self.dt = policy.after(current, self.dt, self.rho, factor)
            if not self._record(accepted.landing, stop) and progress is not None:
                progress(self.t, f"{current.name}, stiffness {self.rho:.3g}")
        solution = self.result(self.status, self.message, conservation)
        # the steppers hold this run's bound methods: letting go of them breaks the cycle run -> stepper -> run,
        # so that the outputs are freed as soon as the caller drops the solution, not at a later garbage collection
        self.steppers = []
        return solution

    def _end(self, status: Status, message: str) -> None:
        self.status, self.message, self.done = status, message, True

    def _diverged_message(self) -> str:
        return f"the flow diverged at t = {self.t:.6g} (||theta||_max = {np.max(np.abs(self.y)):.3g})"

    def _attempt(self, stepper, target) -> _Accepted | None:
        """One trial step toward ``target``: accepted, or None (rejected and the step size cut, or the run ended).

        A trial is rejected when its error exceeds the tolerance or it raises
        the loss (then it counts as an error of ``2^order``, so the step is cut at least in half).
        """
        trial = stepper.step(self.y, self.f0, min(self.dt, target - self.t), self.rho)
        if trial.rho is not None:
            self.rho = trial.rho
        enorm = stepper.error_norm(trial, self.y)
        if not np.isfinite(enorm):
            self._overflowed(trial.h)
            return None
        ok, L_new = enorm <= 1.0, None
        if ok and self.loss_fn is not None:
            L_new = self.loss_fn(trial.y)
            ok = L_new <= self.L0 + self.loss_noise  # the loss may not rise (beyond the rounding of its evaluation)
            if not ok:
                enorm = max(enorm, 2.0 ** stepper.order)
                self.steps["loss_rejected"] += 1
        factor = 0.9 * (enorm ** (-1.0 / stepper.order) if enorm > 0 else 10.0)
        if ok:
            return _Accepted(trial, trial.h >= target - self.t, L_new, factor)
        self.dt = trial.h * min(1.0, max(0.2, factor))
        self.steps["rejected"] += 1
        if self.dt < 16 * np.finfo(float).eps * max(1.0, abs(self.t)):
            self._end(Status.FAILED, f"the step size fell below rounding at t = {self.t:.6g}")
        return None

    def _overflowed(self, h: float) -> None:
        """A trial left the reals: a diverged state ends the run, else the step is cut to a quarter."""
        if not np.all(np.isfinite(self.y)) or np.max(np.abs(self.y)) > self.blow_up:
            return self._end(Status.DIVERGED, self._diverged_message())
        self.dt = 0.25 * h
        self.steps["rejected"] += 1
        if self.dt < 16 * np.finfo(float).eps * max(1.0, abs(self.t)):
            self._end(Status.DIVERGED, f"the flow diverged at t = {self.t:.6g}: the vector field overflows")

    def _accept(self, stepper, accepted: _Accepted) -> bool:
        """Move to the accepted state; False when it blew up (the run ends)."""
        trial = accepted.trial
        self.steps[stepper.name] += 1
        self.t_before, self.y_before = self.t, self.y
        self.t = self.targets[self.i_target] if accepted.landing else self.t + trial.h
        self.y, self.f0 = trial.y, trial.f
        self.L0 = accepted.loss if accepted.loss is not None else self.L0
        if np.max(np.abs(self.y)) > self.blow_up:
            self._end(Status.DIVERGED, self._diverged_message())
            return False
        stepper.moved()
        self.since_check += 1
        return True

    def _keep_level(self, stepper, conservation) -> None:
        """Back onto the conserved level, every ``stepper.project_every`` accepted steps."""
        if conservation is not None and self.since_check % stepper.project_every == 0:
            y_proj = conservation.restore(self.y)
            if y_proj is not self.y:
                self.y = y_proj
                self.f0 = self.fun(self.y)

    def _record(self, landing: bool, stop) -> bool:
        """Events, the stopping condition and the outputs after an accepted step; True when the run ends."""
        hit = None if self.watch is None else self.watch.step(self.t_before, self.y_before, self.t, self.y,
                                                              self._advance)
        if hit is not None:
            if self.keep_steps:
                self._output(*hit)
            self._end(Status.STOPPED, "a termination event occurred")
        elif stop is not None and stop(self.y, self.f0):
            self._output(self.t, self.y)
            self._end(Status.STOPPED, "stopped: the stopping condition holds")
        elif self.keep_steps or landing:
            self._output(self.t, self.y)
            self.i_target += landing
        return self.done

    def _output(self, t: float, y) -> None:
        self.outs_t.append(t)
        self.outs_y.append(y)

    def _advance(self, y_a, t_a, t_b):
        """The state at ``t_b`` from ``(t_a, y_a)``: a fresh integration across an event's bracket."""
        if t_b - t_a <= 4 * np.finfo(float).eps * max(1.0, abs(t_b)):
            return y_a
        sub = solve_auto(self.f, y_a, (t_a, t_b), t_eval=[t_b], rtol=self.rtol, atol=self.atol, loss=self.loss_fn,
                         jvp=self.jvp)
        self.nfev += sub.nfev
        self.njvp += sub.njvp
        return sub.y[:, -1] if sub.y.shape[1] else np.full(self.n, np.nan)

    def result(self, status: Status, message: str, conservation=None) -> Solution:
        """The :class:`~geodln.integrate.result.Solution` of the run so far."""
        Y = self.outs_y.filled().T
        t_events = y_events = None
        if self.watch is not None:
            t_events = [np.array(ts) for ts in self.watch.t_events]
            y_events = [np.array(ys).reshape(len(ys), self.n) for ys in self.watch.y_events]
        return Solution(np.array(self.outs_t), Y, self.nfev, sum(s.njev for s in self.steppers), status, message,
                        method=self.method, t_events=t_events, y_events=y_events, steps=self.steps, rho=self.rho,
                        projections=conservation.n_moves if conservation is not None else 0,
                        krylov_dims=[d for s in self.steppers for d in s.dims], njvp=self.njvp)
