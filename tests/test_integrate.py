"""``method="auto"`` (geodln.integrate): closed forms, a stiff case, invariants, failures, Krylov products.

The steppers' orders and error estimates are checked by the shared battery of ``test_steppers.py``.

The closed-form checks are those of ``test_closed_forms.py`` (same cases and
tolerances), run through the default method instead of DOP853.
"""

import warnings

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import geodln
from geodln import Data, GradientFlow, init, layered
from geodln.integrate import Conservation, Status, solve_auto
from geodln.symmetry import ConservedLevel
from geodln.integrate.krylov import EigenPhi, LanczosPhi, phi_values

from conftest import data_for
from test_closed_forms import (DATA, ODE_TOL, T_E2E, T_LOGISTIC, U0, end_to_end_rhs, logistic_relative_error,
                               mode_strengths, spectrum_data)
from scipy.linalg import expm


def test_auto_is_the_default():
    assert geodln.dynamics.flow.DEFAULT_METHOD == "auto"
    top = layered([2, 2, 2])
    flow = GradientFlow(top, Data.from_spectrum([2.0, 1.0], 2, 2, seed=0))
    sol = flow.solve(init.small(top, 0.1, seed=0), (0.0, 1.0), t_eval=[0.5, 1.0])
    assert sol.success and sol.steps["dop853"] > 0 and np.allclose(sol.t, [0.5, 1.0])


# ------------------------------------------------------------ closed forms
def test_auto_follows_the_logistic_curve():
    top = layered([3, 3, 3])
    traj = GradientFlow(top, DATA).integrate(init.aligned(top, DATA, U0, seed=1), T_LOGISTIC[-1], t_eval=T_LOGISTIC,
                                             **ODE_TOL)
    assert traj.success and logistic_relative_error(traj, DATA, U0) < 1e-8
    M = mode_strengths(traj, DATA)
    assert np.max(np.abs(M - np.einsum("tkk->tk", M)[:, :, None] * np.eye(3))) < 1e-12


@pytest.mark.parametrize("widths", [[3, 4, 4, 3], [2, 3, 3, 3, 2]], ids=["h3", "h4"])
def test_auto_follows_the_end_to_end_ode(widths):
    top, data = layered(widths), spectrum_data(widths)
    K = np.random.default_rng(3).standard_normal((widths[-1],) * 2)
    theta0 = init.balanced(top, seed=3, end_to_end=0.3 * expm(0.25 * (K - K.T)) @ data.Syx)
    traj = GradientFlow(top, data).integrate(theta0, T_E2E[-1], t_eval=T_E2E, **ODE_TOL)
    W0 = top.end_to_end(theta0)
    ref = solve_ivp(lambda _, w: end_to_end_rhs(w.reshape(W0.shape), data, top.depth).ravel(), (0.0, T_E2E[-1]),
                    W0.ravel(), method="DOP853", t_eval=T_E2E, **ODE_TOL)
    W_net = np.array([traj.end_to_end(k) for k in range(len(T_E2E))])
    assert np.max(np.abs(W_net - ref.y.T.reshape(W_net.shape))) < 1e-8


def test_auto_follows_the_decoupled_scalar_chains():
    top = layered([3, 5, 4, 3])
    w0 = np.array([[0.5, -0.3, 0.8], [0.2, 0.6, -0.4], [0.9, 0.4, 0.3]])
    theta0 = init.decoupled(top, DATA, w0, seed=4)
    t = np.linspace(0.0, 8.0, 81)
    auto = GradientFlow(top, DATA).integrate(theta0, t[-1], t_eval=t, **ODE_TOL)
    tight = GradientFlow(top, DATA).integrate(theta0, t[-1], t_eval=t, method="DOP853", **ODE_TOL)
    # the scalar chains are checked against DOP853 in test_closed_forms: agree with it to the same 1e-8
    assert np.max(np.abs(auto.theta - tight.theta)) < 1e-8


# --------------------------------------------------------------- stiff case
def stiff_case(d=16, h=4):
    top = layered([d] * (h + 1))
    data = Data.from_spectrum(np.linspace(d, 1, d), d, d, seed=0)
    return GradientFlow(top, data), init.small(top, 1e-2, seed=0)


@pytest.mark.slow
def test_auto_matches_a_tight_reference_on_a_stiff_flow():
    """Widths 16^5, T = 1000: end point within 1e-8 relative of DOP853 at rtol 1e-12 (the reference takes minutes)."""
    flow, theta0 = stiff_case()
    auto = flow.solve(theta0, (0.0, 1000.0), t_eval=[1000.0], rtol=1e-10, atol=1e-14)
    ref = flow.solve(theta0, (0.0, 1000.0), t_eval=[1000.0], rtol=1e-12, atol=1e-14, method="DOP853")
    end, end_ref = auto.y[:, -1], ref.y[:, -1]
    assert np.linalg.norm(end - end_ref) <= 1e-8 * np.linalg.norm(end_ref)


def test_stiff_flow_switches_method_and_keeps_the_balances():
    """Widths 8^5 (rho ~ 100) run stiff from t ~ 60: a stiff method takes over, invariants hold.

    256 weights: exprb43 with Lanczos on exact Hessian products (the flow's ``jvp``), where without them
    DOP853 would run throughout; its end point agrees with DOP853 at rtol 1e-12.
    """
    flow, theta0 = stiff_case(8, 4)
    traj = flow.integrate(theta0, 150.0, rtol=1e-8, n_points=30)
    assert traj.success
    assert np.all(np.diff(traj.loss) <= 1e-14 * traj.loss[0])
    assert traj.conserved_drift.max() <= 1e-9 * max(1.0, np.abs(flow.conserved_vector(theta0)).max())
    sol = flow.solve(theta0, (0.0, 150.0), t_eval=[150.0], rtol=1e-8)
    assert sol.steps["exprb43"] > 0 and sol.njvp >= sum(sol.krylov_dims) > 0
    ref = flow.solve(theta0, (0.0, 150.0), t_eval=[150.0], rtol=1e-12, atol=1e-14, method="DOP853").y[:, -1]
    assert np.linalg.norm(sol.y[:, -1] - ref) <= 1e-7 * np.linalg.norm(ref)


# ---------------------------------------------------------------- invariants
def test_auto_keeps_the_balances_and_lowers_the_loss_on_every_topology(top):
    data = data_for(top)
    flow = GradientFlow(top, data)
    theta0 = init.small(top, 0.5, seed=2)
    traj = flow.integrate(theta0, 30.0, rtol=1e-8, atol=1e-10, n_points=60)
    q0 = flow.conserved_vector(theta0)
    assert traj.success
    assert traj.conserved_drift.max() <= 1e-9 * max(1.0, np.abs(q0).max())
    assert np.all(np.diff(traj.loss) <= 64 * np.finfo(float).eps * traj.loss[0])


def test_projection_restores_a_perturbed_level_with_the_same_loss(top):
    """The move along the group orbit puts the balances back and keeps W (so L) exactly."""
    theta0 = init.small(top, 0.7, seed=3)
    level = ConservedLevel(top, theta0)
    keep = Conservation(level.quantities, level.project, theta0)
    moved = theta0 * (1.0 + 1e-7 * np.random.default_rng(0).standard_normal(theta0.size))
    assert keep.drift(moved) > 1e-9
    back = keep.restore(moved)
    assert keep.drift(back) < 1e-13
    np.testing.assert_allclose(top.end_to_end(back), top.end_to_end(moved), rtol=1e-13, atol=1e-15)


def test_newton_with_the_same_move_reaches_a_level_of_the_moment_map(top):
    """ConservedLevel.of_moment and newton=True (geometry's to_conserved_level): from a 10% perturbation the
    moment map is back at C0 on the whole Lie algebra (GL blocks where there are), W unchanged."""
    from geodln import symmetry

    rng = np.random.default_rng(4)
    theta0 = rng.standard_normal(top.n_params)
    C0 = symmetry.moment_map(top, theta0)
    theta = theta0 + 0.1 * rng.standard_normal(top.n_params)
    assert np.abs(symmetry.moment_map(top, theta) - C0).max() > 1e-2
    back = ConservedLevel.of_moment(top, C0).project(theta, newton=True)
    assert np.abs(symmetry.moment_map(top, back) - C0).max() <= 1e-12 * float(theta @ theta)
    np.testing.assert_allclose(top.end_to_end(back), top.end_to_end(theta), rtol=1e-12, atol=1e-13)


def test_large_scales_and_real_data_finish():
    top = layered([3, 4, 4, 3])
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 50)) * 3.0
    real = Data(X, rng.standard_normal((3, 3)) @ X + 0.1 * rng.standard_normal((3, 50)))
    for data, scale in [(real, 1e-2), (Data.from_spectrum([3, 2, 1], 3, 3, seed=0), 10.0)]:
        flow = GradientFlow(top, data)
        theta0 = init.small(top, scale, seed=0)
        traj = flow.integrate(theta0, 40.0, rtol=1e-8, n_points=20)
        assert traj.success and traj.loss[-1] < traj.loss[0]
        assert traj.conserved_drift.max() <= 1e-9 * max(1.0, np.abs(flow.conserved_vector(theta0)).max())


def test_a_diverging_start_is_a_failure():
    top = layered([2, 3, 2])
    flow = GradientFlow(top, Data.from_spectrum([2.0, 1.0], 2, 2, seed=0))
    with pytest.raises(ValueError, match="overflow|diverged"):  # refused up front, or DivergenceError
        flow.integrate(np.full(top.n_params, 1e120), 1.0)
    sol = flow.solve(np.full(top.n_params, 1e120), (0.0, 1.0))
    assert not sol.success and sol.status is Status.DIVERGED


def test_grad_tol_stops_auto_at_a_critical_point():
    top = layered([2, 2, 2])
    flow = GradientFlow(top, Data.from_spectrum([2.0, 1.0], 2, 2, seed=0))
    traj = flow.integrate(init.small(top, 0.3, seed=1), 1e4, grad_tol=1e-6)
    assert traj.success and traj.t[-1] < 1e4 and np.linalg.norm(flow.rhs(traj.final)) < 1e-6


def test_forcing_an_explicit_method_on_a_stiff_flow_warns():
    flow, theta0 = stiff_case(8, 4)
    with pytest.warns(RuntimeWarning, match="stiff.*method='auto'"):
        flow.solve(theta0, (0.0, 120.0), rtol=1e-6, method="RK45")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flow.solve(theta0, (0.0, 5.0), rtol=1e-6, method="DOP853")  # not stiff yet: no warning


# ------------------------------------------------------------ output times
def test_solve_auto_hits_every_output_time():
    sol = solve_auto(lambda y: -y, np.ones(3), (0.0, 2.0), t_eval=np.linspace(0, 2, 7), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sol.t, np.linspace(0, 2, 7), rtol=0, atol=0)
    np.testing.assert_allclose(sol.y, np.exp(-sol.t)[None].repeat(3, 0), rtol=1e-9)


# ------------------------------------------------------------ Krylov products
def test_phi_values_match_their_series():
    """phi_k(z) = sum_j z^j / (j + k)!, summed exactly in rationals, on both sides of the series/recurrence switch."""
    from fractions import Fraction
    from math import factorial

    z = np.array([-1e-3, -0.5, 0.7, -0.99, -1.0, 1.5, -5.0, -30.0])
    got = phi_values(z, 5)
    for k in range(6):
        for i, x in enumerate(z):
            exact = float(sum(Fraction(x) ** j / factorial(j + k) for j in range(200)))
            assert got[k][i] == pytest.approx(exact, rel=2e-15, abs=1e-300)


@pytest.mark.parametrize("reorthogonalize", [True, False], ids=["reorthogonalized", "three-term"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lanczos_products_match_the_eigendecomposition(seed, reorthogonalize):
    """phi_k(tau J) v by Lanczos equals Q phi_k(-tau lam) Q^T v to the tolerance, for stiff tau ||J|| up to 7e3.

    With exact products the plain three-term recurrence (no reorthogonalisation) is as accurate, and a
    dimension guessed from an earlier step (the first error check at 0.9 of it) changes nothing. Where the
    plain recurrence fills the whole space unconverged (with the guess, under OpenBLAS's Haswell kernel
    and one thread), the call is redone with reorthogonalisation, so the products hold on every build.
    """
    rng = np.random.default_rng(seed)
    n = 300
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.concatenate([np.zeros(20), np.geomspace(1e-2, 700.0, n - 20)])  # a PSD Hessian with a kernel
    J = -(Q * lam) @ Q.T
    v = rng.standard_normal(n)
    pairs = [(tau, k) for tau in (0.01, 1.0, 10.0) for k in (0, 1, 3, 4)]
    exact = EigenPhi(lam, Q).products(v, pairs)
    tol = 1e-9
    for guesses in ([], [120]):
        krylov = LanczosPhi(lambda u: J @ u, tol, max_dim=2 * n, guesses=guesses, reorthogonalize=reorthogonalize)
        for (tau, _), a, b in zip(pairs, exact, krylov.products(v, pairs)):
            assert tau * np.linalg.norm(a - b) <= 10 * tol
