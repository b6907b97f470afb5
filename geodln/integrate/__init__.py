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

After the accepted steps a small move along the hidden-layer group orbit
(:class:`~geodln.integrate.conserve.Conservation`) puts the conserved
balances back to their start (keeping ``W`` and the loss), a step that raises
the loss is rejected, and a state that stops being finite is reported as a
failure (``status = -1``). Output times ``t_eval`` are hit exactly (steps are
shortened to land on them). Events (zeros of ``g(t, y)``) are located after
each accepted step (:mod:`geodln.integrate.events`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .conserve import Conservation
from .events import EventWatch
from .krylov import EigenPhi, KrylovLimit, LanczosPhi, difference_jv
from .stiffness import EXPLICIT_STABILITY, StiffnessWatch, dense_jacobian, spectral_radius
from .steppers import DOP853_STABILITY, dop853_error_norm, dop853_step, exprb43_step, rkc_stages, rkc_step

__all__ = ["solve_auto", "AutoResult", "Conservation", "StiffnessWatch", "DENSE_LIMIT", "KRYLOV_FROM", "EXPLICIT_STABILITY"]

DENSE_LIMIT = 128  # parameters up to which the stiff method is exprb43 with a dense Jacobian
KRYLOV_FROM = 512  # without exact products: Lanczos on differences from here (in between: DOP853 throughout)
_CHECK_EVERY = 8  # explicit steps between two stiffness estimates
_SETTLED = 4  # stiff steps before their cost is compared with DOP853 (a failed try of exprb43 ends after 4)
_SAFETY = 1.2  # margin on the power-iteration estimate of rho (an estimate from below)
_MAX_RKC_STAGES = 400
_KRYLOV_TOL = 1e-4  # Krylov error of each product, relative to ||atol + rtol |y|||_2
_MAX_KRYLOV = 200  # largest Krylov space; beyond it the step is halved


@dataclass
class AutoResult:
    """What :func:`solve_auto` returns: the fields of ``scipy.integrate.OdeResult`` it shares.

    Attributes
    ----------
    t : ndarray, shape=[T]
    y : ndarray, shape=[n, T]
    nfev : int
        Evaluations of ``f`` (including stiffness estimates and Jacobians).
    njev : int
        Dense Jacobians computed.
    status : int
        0 reached the end, 1 stopped by ``stop``, -1 failed.
    message : str
    success : bool
    t_events, y_events : list of ndarray or None
        Per event, its zeros' times (shape ``[k]``) and states (shape ``[k, n]``); None without events.
    steps : dict
        Accepted steps per method (``"dop853"``, ``"rkc"``, ``"exprb43"``).
    rho : float
        The last stiffness estimate (largest ``|eigenvalue|`` of the Jacobian).
    projections : int
        Moves back onto the conserved level set.
    diverged : bool
        The state stopped being finite or grew by more than ``1e8`` (then ``status = -1``).
    krylov_dims : list of int
        The Krylov dimension of each phi-function product (empty unless Lanczos ran).
    njvp : int
        Exact Jacobian-vector products (``jvp``; a dense Jacobian counts ``n``).
    """

    t: np.ndarray
    y: np.ndarray
    nfev: int
    njev: int
    status: int
    message: str
    success: bool
    steps: dict = field(default_factory=dict)
    rho: float = 0.0
    projections: int = 0
    diverged: bool = False
    krylov_dims: list = field(default_factory=list)
    njvp: int = 0
    t_events: object = None
    y_events: object = None




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
               events=None, jvp=None) -> AutoResult:
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
        Local error tolerances (as in SciPy: per component ``atol + rtol |y|``, RMS norm).
    loss : callable, ``loss(y) -> float``, optional
        ``L``; a step that raises it (by more than rounding) is rejected, so
        the loss is nonincreasing along the output.
    conservation : Conservation, optional
        Keeps the conserved balances of the start (checked after each stiff step, every 8 explicit ones).
    stop : callable, ``stop(y, f(y)) -> bool``, optional
        End the integration at the first accepted step where it is true
        (``status = 1``); the stopping state is the last output.
    progress : callable, ``progress(t, info)``, optional
        Told the time reached and a string with the method and the stiffness estimate.
    method_hint : {"dop853", "rkc", "exprb43"}, optional
        Force one method (for benchmarks and tests).
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
        integration there (``status = 1``; without ``t_eval`` its state is the last output).

    Returns
    -------
    AutoResult
    """
    t0, t1 = float(t_span[0]), float(t_span[1])
    y = np.array(y0, dtype=float)
    n = y.size
    nfev, njvp = [0], [0]

    def fun(x):
        nfev[0] += 1
        return f(x)

    def products_at(x):
        """``jvp(x)``, counted: a batch of ``K`` directions is ``K`` products."""
        jv = jvp(x)

        def counted(u):
            njvp[0] += 1 if u.ndim == 1 else u.shape[1]
            return jv(u)

        return counted

    if t_eval is None:
        outs_t, outs_y, targets = [t0], [y.copy()], np.array([t1])
    else:
        targets = np.asarray(t_eval, dtype=float)
        outs_t, outs_y = [], []
        if targets.size and targets[0] <= t0:
            outs_t.append(t0)
            outs_y.append(y.copy())
            targets = targets[1:]
    keep_steps = t_eval is None
    dense = n <= DENSE_LIMIT  # exprb43 with a dense Jacobian, else with Lanczos
    stiff_method = "exprb43" if jvp is not None or n <= DENSE_LIMIT or n >= KRYLOV_FROM else None
    krylov_dims, last_dims = [], []
    method = method_hint or "dop853"
    steps = {"dop853": 0, "rkc": 0, "exprb43": 0, "rejected": 0, "loss_rejected": 0}
    f0 = fun(y)
    if not np.all(np.isfinite(f0)):
        return _failure(outs_t, outs_y, n, nfev[0], 0, "the flow diverged: the vector field is not finite at the start", steps)
    watch = None if events is None else EventWatch(events, t0, y)

    def advance(y_a, t_a, t_b):
        """The state at ``t_b`` from ``(t_a, y_a)``: a fresh integration across an event's bracket."""
        if t_b - t_a <= 4 * np.finfo(float).eps * max(1.0, abs(t_b)):
            return y_a
        sub = solve_auto(f, y_a, (t_a, t_b), t_eval=[t_b], rtol=rtol, atol=atol, loss=loss, jvp=jvp)
        nfev[0] += sub.nfev
        njvp[0] += sub.njvp
        return sub.y[:, -1] if sub.y.shape[1] else np.full(n, np.nan)

    L0 = loss(y) if loss is not None else None
    loss_noise = 64 * np.finfo(float).eps * abs(L0) if loss is not None else 0.0
    dt = _initial_step(fun, y, f0, rtol, atol, t1 - t0)
    work = np.empty((13, n))
    rho, v_rho = 0.0, None
    rho, v_rho, _ = spectral_radius(fun, y, f0, v_rho, iters=12)
    rho *= _SAFETY
    eigen = None  # the eigendecomposition of the Jacobian at the current state (exprb43, dense)
    njev, since_check, hold_explicit, n_rej, n_loss_rej, stiff_steps = 0, 0, 0, 0, 0, 0
    blow_up = 1e8 * (1.0 + np.max(np.abs(y)))
    t = t0
    i_target = 0
    status, message = 0, "reached the end of the time span"
    dt_min = 16 * np.finfo(float).eps
    while i_target < targets.size:
        target = targets[i_target]
        if (method_hint is None and stiff_method is not None and method == "dop853" and hold_explicit <= 0
                and dt * rho > 0.7 * DOP853_STABILITY):
            method = stiff_method  # DOP853 is held at its stability limit: stiff from here on
        h = min(dt, target - t)
        landing = h >= target - t
        if method == "dop853":
            y_new, f_new, err, _ = dop853_step(fun, y, f0, h, work)
            scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
            enorm = dop853_error_norm(err, scale) if np.all(np.isfinite(y_new)) else np.inf
            order = 8.0
        elif method == "rkc":
            s = min(rkc_stages(h, rho), _MAX_RKC_STAGES)
            if s == _MAX_RKC_STAGES:
                h = min(h, _MAX_RKC_STAGES**2 * 0.65 / max(rho, 1e-300) * 0.95)
                landing = h >= target - t
            y_new, f_new, err, _ = rkc_step(fun, y, f0, h, s)
            scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
            enorm = float(np.sqrt(np.mean((err / scale) ** 2))) if np.all(np.isfinite(y_new)) else np.inf
            order = 2.0
        else:
            scale = atol + rtol * np.abs(y)
            if dense:
                if eigen is None:
                    J = dense_jacobian(fun, y, f0)[0] if jvp is None else _dense(products_at(y), n)
                    lam, Q = np.linalg.eigh(-J)
                    njev += 1
                    eigen = EigenPhi(lam, Q)
                    rho = float(np.max(np.abs(lam))) if lam.size else 0.0
                phi = eigen
            else:
                jv = difference_jv(fun, y) if jvp is None else products_at(y)
                phi = LanczosPhi(jv, _KRYLOV_TOL * float(np.linalg.norm(scale)), _MAX_KRYLOV, guesses=last_dims,
                                 reorthogonalize=jvp is None or n < KRYLOV_FROM)  # cheap below KRYLOV_FROM
            try:
                y_new, f_new, err, _ = exprb43_step(fun, y, f0, h, phi)
            except KrylovLimit:
                y_new = err = np.full(n, np.nan)
            krylov_dims.extend(phi.dims)
            last_dims = phi.dims
            step_cost = 3 + 2 * ((n if jvp is None else max(1, n // 8)) if dense else sum(phi.dims) + 2)
            scale = np.maximum(scale, atol + rtol * np.abs(y_new))
            enorm = float(np.sqrt(np.mean((err / scale) ** 2))) if np.all(np.isfinite(y_new)) else np.inf
            order = 4.0
        if not np.isfinite(enorm):
            if not np.all(np.isfinite(y)) or np.max(np.abs(y)) > blow_up:
                status, message = -1, f"the flow diverged at t = {t:.6g} (||theta||_max = {np.max(np.abs(y)):.3g})"
                break
            dt = 0.25 * h
            n_rej += 1
            if dt < dt_min * max(1.0, abs(t)):
                status, message = -1, f"the flow diverged at t = {t:.6g}: the vector field overflows"
                break
            continue
        ok = enorm <= 1.0
        L_new = None
        if ok and loss is not None:
            L_new = loss(y_new)
            ok = L_new <= L0 + loss_noise  # the loss may not rise (beyond the rounding of its evaluation)
            if not ok:
                enorm = max(enorm, 2.0 ** order)
                n_loss_rej += 1
        factor = 0.9 * (enorm ** (-1.0 / order) if enorm > 0 else 10.0)
        if not ok:
            dt = h * min(1.0, max(0.2, factor))
            n_rej += 1
            if dt < dt_min * max(1.0, abs(t)):
                status, message = -1, f"the step size fell below rounding at t = {t:.6g}"
                break
            continue
        # accepted
        steps[method] += 1
        t_before, y_before = t, y
        t = target if landing else t + h
        y, f0 = y_new, f_new
        L0 = L_new if L_new is not None else L0
        if np.max(np.abs(y)) > blow_up:
            status, message = -1, f"the flow diverged at t = {t:.6g} (||theta||_max = {np.max(np.abs(y)):.3g})"
            break
        eigen = None
        since_check += 1
        hold_explicit -= 1
        if conservation is not None and (method != "dop853" or since_check % _CHECK_EVERY == 0):
            y_proj = conservation.restore(y)
            if y_proj is not y:
                y = y_proj
                f0 = fun(y)
        dt_new = h * min(5.0 if method != "dop853" else 10.0, max(0.2, factor))
        if not landing or dt_new > dt:
            dt = dt_new
        if method_hint is None and since_check % _CHECK_EVERY == 0 and method != "exprb43":
            rho, v_rho, _ = spectral_radius(fun, y, f0, v_rho, iters=4)
            rho *= _SAFETY
        stiff_steps = stiff_steps + 1 if method != "dop853" else 0
        if method_hint is None and method != "dop853" and stiff_steps >= _SETTLED and factor < 5.0:
            # the stiff method's step has settled (it is limited by accuracy, not still growing)
            evals = rkc_stages(dt, rho) if method == "rkc" else step_cost
            if evals / dt > 12.0 * rho / DOP853_STABILITY or dt * rho < 0.5 * DOP853_STABILITY:
                method, hold_explicit = "dop853", 200  # DOP853 is as cheap here: back to it for a while
                dt = min(dt, DOP853_STABILITY / max(rho, 1e-300))
        hit = None if watch is None else watch.step(t_before, y_before, t, y, advance)
        if hit is not None:
            if keep_steps:
                outs_t.append(hit[0])
                outs_y.append(hit[1].copy())
            status, message = 1, "a termination event occurred"
            break
        if stop is not None and stop(y, f0):
            outs_t.append(t)
            outs_y.append(y.copy())
            status, message = 1, "stopped: the stopping condition holds"
            break
        if keep_steps and not landing:
            outs_t.append(t)
            outs_y.append(y.copy())
        if landing:
            outs_t.append(t)
            outs_y.append(y.copy())
            i_target += 1
        if progress is not None:
            progress(t, f"{method}, stiffness {rho:.3g}")
    steps["rejected"], steps["loss_rejected"] = n_rej, n_loss_rej
    Y = np.array(outs_y).T if outs_y else np.empty((n, 0))
    projections = conservation.n_moves if conservation is not None else 0
    result = AutoResult(np.array(outs_t), Y, nfev[0], njev, status, message, status >= 0, steps, rho, projections,
                        diverged="diverged" in message, krylov_dims=krylov_dims, njvp=njvp[0])
    if watch is not None:
        result.t_events = [np.array(ts) for ts in watch.t_events]
        result.y_events = [np.array(ys).reshape(len(ys), n) for ys in watch.y_events]
    return result


def _dense(jv, n: int) -> np.ndarray:
    """The symmetric Jacobian ``[J e_1, ..., J e_n]`` from one batch of exact products, shape=[n, n]."""
    J = jv(np.eye(n))
    return 0.5 * (J + J.T)


def _failure(outs_t, outs_y, n, nfev, njev, message, steps):
    Y = np.array(outs_y).T if outs_y else np.empty((n, 0))
    return AutoResult(np.array(outs_t), Y, nfev, njev, -1, message, False, steps, diverged=True)
