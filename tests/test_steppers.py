"""One battery for every stepper of geodln.integrate: convergence order by slope, exactness, error estimates.

Every registered stepper (:data:`geodln.integrate.STEPPERS`, with exprb43 in
both its dense and its Lanczos form) gets the same checks, in the style of
SciPy's ``test_ivp.py``: on a smooth linear and a nonlinear problem with a
symmetric Jacobian (a gradient flow), the global error at ``t = 1`` over
five fixed step sizes falls like ``h^order`` (the slope of a least-squares
fit in log-log, not one ratio); the error norm of one step falls like
``h^estimate_order``; exprb43, exact for linear problems, takes one step
of any size through a stiff affine flow to rounding.
"""

import numpy as np
import pytest
from scipy.linalg import expm

from geodln.integrate import STEPPERS
from geodln.integrate.steppers import Exprb43Lanczos

LAM = np.array([1.0, 4.0, 9.0])
_Q = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))[0]
A = (_Q * LAM) @ _Q.T  # symmetric positive definite: dy/dt = -A y is the gradient flow of y^T A y / 2
Y0 = np.array([1.0, 0.5, -0.3])
ATOL = 1e-12  # with rtol = 0 the weights are constant; small, so that Lanczos products are exact to rounding
RHO = 9.3  # the spectral radius of the Jacobians along both problems (RKC's stages)


def _batched(M):
    """``u -> M u`` for ``u`` of shape [n] or [n, K]."""
    return lambda u: M @ u


PROBLEMS = {
    # name: (f, jvp, exact solution at t = 1 or None)
    "linear": (lambda y: -A @ y, lambda y: _batched(-A), expm(-A) @ Y0),
    "nonlinear": (lambda y: -y**3 - LAM * y, lambda y: _batched(np.diag(-3 * y**2 - LAM)), None),
}

# Every stepper on a problem of 3 unknowns: the registry's (exprb43 is dense there) and exprb43 with Lanczos.
MAKERS = {name: (lambda make: lambda f, rtol, atol, jvp: make(f, Y0.size, rtol, atol, jvp))(make)
          for name, make in STEPPERS.items()}
MAKERS["exprb43-lanczos"] = lambda f, rtol, atol, jvp: Exprb43Lanczos(f, rtol, atol, jvp, reorthogonalize=False)
EXACT_ON_LINEAR = {"exprb43", "exprb43-lanczos"}
# Step sizes in the asymptotic range of each order (above rounding, below the stability limit).
STEPS = {8.0: (0.05, 0.2), 4.0: (0.02, 0.08), 2.0: (0.005, 0.02)}


def _reference(problem):
    f, _, exact = PROBLEMS[problem]
    if exact is not None:
        return exact
    from scipy.integrate import solve_ivp

    return solve_ivp(lambda _, y: f(y), (0.0, 1.0), Y0, method="DOP853", rtol=2.3e-14, atol=1e-16).y[:, -1]


def _slope(hs, values):
    return np.polyfit(np.log(hs), np.log(values), 1)[0]


def test_the_battery_covers_every_registered_stepper():
    assert set(STEPPERS) <= set(MAKERS)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("name", sorted(MAKERS))
def test_global_error_falls_with_the_order(name, problem):
    f, jvp, _ = PROBLEMS[problem]
    stepper = MAKERS[name](f, 0.0, ATOL, jvp)
    if problem == "linear" and name in EXACT_ON_LINEAR:
        pytest.skip("exact on linear problems (test_exact_on_affine_flows)")
    ref = _reference(problem)
    lo, hi = STEPS[stepper.order]
    counts = np.unique(np.round(1.0 / np.geomspace(lo, hi, 5)).astype(int))
    errors = []
    for count in counts:
        y = Y0.copy()
        for _ in range(count):
            y = stepper.step(y, f(y), 1.0 / count, RHO).y
            stepper.moved()
        errors.append(np.linalg.norm(y - ref))
    assert _slope(1.0 / counts, errors) == pytest.approx(stepper.order, abs=0.35)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("name", sorted(MAKERS))
def test_error_estimate_falls_with_its_order(name, problem):
    """The error norm of one step from Y0 (constant weights: rtol = 0) scales like h^estimate_order."""
    f, jvp, _ = PROBLEMS[problem]
    stepper = MAKERS[name](f, 0.0, ATOL, jvp)
    if problem == "linear" and name in EXACT_ON_LINEAR:
        pytest.skip("the estimate is rounding: exact on linear problems")
    hs = np.geomspace(0.005, 0.02, 5)
    norms = []
    for h in hs:
        norms.append(stepper.error_norm(stepper.step(Y0, f(Y0), h, RHO), Y0))
        stepper.moved()
    assert _slope(hs, norms) == pytest.approx(stepper.estimate_order, abs=0.2)


@pytest.mark.parametrize("name", sorted(EXACT_ON_LINEAR))
def test_exact_on_affine_flows(name):
    """dy/dt = -A y + b with h ||A|| = 45 (far beyond any explicit stability): one step is the exact flow."""
    b = np.array([0.3, -1.0, 2.0])
    f = lambda y: -A @ y + b  # noqa: E731
    h = 5.0
    stepper = MAKERS[name](f, 1e-13, 1e-15, lambda y: _batched(-A))
    trial = stepper.step(Y0, f(Y0), h, RHO)
    y_star = np.linalg.solve(A, b)  # the equilibrium; y(t) - y* = e^{-A t} (y0 - y*)
    exact = y_star + expm(-h * A) @ (Y0 - y_star)
    np.testing.assert_allclose(trial.y, exact, rtol=1e-13, atol=1e-14)
    assert np.abs(trial.err).max() < 1e-13  # the embedded solution is exact too: the estimate is rounding


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_a_non_finite_trial_has_an_infinite_error(name):
    """What the loop reads as an overflow (the step is cut, or the run reported diverged)."""
    f, jvp, _ = PROBLEMS["nonlinear"]
    stepper = MAKERS[name](f, 1e-8, 1e-10, jvp)
    trial = stepper.step(Y0, f(Y0), 0.1, RHO)
    assert np.isfinite(stepper.error_norm(trial, Y0))
    assert stepper.error_norm(trial._replace(y=np.array([1.0, np.nan, 0.0])), Y0) == np.inf
